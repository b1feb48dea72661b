"""API tokens and roles.

A token is shown once when created (``uvh_`` + 32 random bytes, URL-safe) and stored only as its
SHA-256: tokens are long random secrets, so a fast hash is enough and lets the hub look one up in
a single indexed query. Roles:

* ``operator``    uploads reports for its own organisation and changes or deletes only those;
                  reads the whole catalogue (sharing damage maps is what the mechanism is for).
* ``coordinator`` reads everything, writes nothing but events.
* ``admin``       everything, including organisations and tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from ..errors import AuthenticationError, PermissionDeniedError

__all__ = ["ROLES", "Principal", "ensure_can_modify", "hash_token", "new_token", "require_role"]

ROLES: tuple[str, ...] = ("operator", "coordinator", "admin")
TOKEN_PREFIX = "uvh_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, organisation and role."""

    token_id: str
    org_code: str | None
    role: str


def new_token() -> tuple[str, str]:
    """``(secret, sha256 hex)``: give the secret to the user once, store only the hash."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return secret, hash_token(secret)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_authorization(header: str | None) -> str:
    """The token from ``Authorization: Bearer …``; raises 401 when it is missing or malformed."""
    if not header:
        raise AuthenticationError("This request needs an API token; send 'Authorization: Bearer <token>'.")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError(
            "The Authorization header must be 'Bearer <token>'; check how the token is sent."
        )
    return value.strip()


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise PermissionDeniedError(
            f"A {principal.role} token cannot do this; it needs a {' or '.join(roles)} token."
        )


def ensure_can_modify(principal: Principal, report_org: str) -> None:
    """Operators may change only their own organisation's reports; admins any."""
    if principal.role == "admin":
        return
    if principal.role == "operator" and principal.org_code == report_org:
        return
    raise PermissionDeniedError(
        f"This report belongs to {report_org}; a token of "
        f"{principal.org_code or 'no organisation'} ({principal.role}) cannot change it."
    )

"""The hub's logic, independent of the web framework.

:class:`HubService` owns the database engine and the blob store. The FastAPI layer (``app.py``)
only parses HTTP and calls these methods; the CLI calls the same methods for administration.
Every write goes through one database transaction that also appends to the audit log, so a
report is either registered completely (rows, features, audit entry, blobs already stored) or
not at all.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..errors import (
    AuthenticationError,
    ConflictError,
    HubError,
    HubValidationError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from ..package import DAMAGE_GRADES, EVENT_TYPES
from . import db
from .auth import (
    ROLES,
    Principal,
    ensure_can_modify,
    hash_token,
    new_token,
    parse_authorization,
    require_role,
)
from .blobs import BlobStore, blob_key, open_blob_store
from .config import HubConfig
from .validation import ExtractedFiles, ValidatedPackage, extract_archive, validate_package

__all__ = [
    "BadRequestError",
    "ChecksumMismatchError",
    "ChunkWriter",
    "HubService",
    "UploadState",
    "parse_datetime_filter",
]

ORG_CODE_RE = re.compile(r"^[A-Z]{2}-[A-Za-z0-9_.-]{1,60}$")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
PACKAGE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class BadRequestError(HubError):
    """A query parameter or header is malformed (HTTP 400)."""

    http_status = 400
    code = "bad_request"


class ChecksumMismatchError(HubError):
    """tus ``460 Checksum Mismatch``: the chunk arrived damaged and was discarded."""

    http_status = 460
    code = "checksum_mismatch"


class UploadBusyError(HubError):
    """Another request is finalising this upload right now (HTTP 423); retry shortly."""

    http_status = 423
    code = "locked"


class UploadGoneError(HubError):
    http_status = 410
    code = "upload_expired"


@dataclass(frozen=True)
class UploadState:
    id: str
    offset: int
    length: int
    status: str
    report_id: str | None
    version: int | None
    expires_at: str


class ChunkWriter:
    """One PATCH body on its way to disk: written and hashed block by block as it arrives.

    Two SHA-256s run over every block: the chunk's own (tus ``Upload-Checksum``, checked before the
    new offset is committed) and the whole file's (carried from chunk to chunk in memory, so that
    finalisation does not read the file again).

    Durability: the upload file is never fsynced, not per chunk and not at the end, and that is
    enough for the guarantees the hub gives:

    * A killed hub process (``kill -9``, OOM killer, crash) loses nothing that ``write()`` returned:
      the bytes sit in the kernel's page cache, which outlives the process, and the offset is
      committed to the database only after they are written, so it never runs ahead of the file.
      The resume tests kill the live server with SIGKILL mid-upload.
    * A power cut or kernel crash can lose unsynced bytes below a committed offset. That can never
      become a damaged report: finalisation compares the whole file with its announced SHA-256,
      and on a mismatch the hub resets the upload to byte 0 and says so; the package stays in the
      client's outbox and the next ``uavops upload`` sends it again.
    * What must survive a power cut is what a registered report points at; every blob is fsynced
      before the database row that references it is committed (:mod:`uavops.hub.blobs`).

    Skipping the fsync saves writing every upload to disk twice (once as the upload, once as the
    blobs): the upload file is deleted after finalisation, usually before the kernel writes it back.
    """

    def __init__(
        self,
        service: HubService,
        row: Any,
        fh: Any,
        offset: int,
        checksum: tuple[str, bytes] | None,
        whole: Any,
    ) -> None:
        self._svc = service
        self._row = row
        self._fh = fh
        self.offset = offset
        self.written = 0
        self._checksum = checksum
        self._chunk = hashlib.sha256() if checksum is not None else None
        self._whole = whole
        self._limit = int(row["length"]) - offset

    def write(self, data: bytes | memoryview | list[bytes]) -> None:
        """Append body bytes: one block or the pieces as the server received them (no joining copy).

        Called from a worker thread; writing and hashing release the GIL.
        """
        parts = data if isinstance(data, list) else [data]
        size = sum(len(p) for p in parts)
        if self.written + size > self._limit:
            raise HubValidationError(
                "The chunk goes past the announced Upload-Length; resume from the offset the hub reports."
            )
        for part in parts:
            self._fh.write(part)
            if self._chunk is not None:
                self._chunk.update(part)
            self._whole.update(part)
        self.written += size

    def abort(self) -> None:
        """Drop what this request wrote (the confirmed offset stays where it was)."""
        try:
            self._fh.truncate(self.offset)
        finally:
            self._fh.close()

    def commit(self) -> UploadState:
        """Check the chunk's SHA-256, then commit the new offset; releases the file."""
        svc, upload_id = self._svc, self._row["id"]
        try:
            damaged = self._chunk is not None and self._checksum is not None
            if damaged and self._chunk.digest() != self._checksum[1]:  # type: ignore[union-attr,index]
                self._fh.truncate(self.offset)
                raise ChecksumMismatchError(
                    "The chunk arrived damaged (SHA-256 mismatch) and was discarded; send it again."
                )
            new_offset = self.offset + self.written
            self._fh.flush()
            with db.write_tx(svc.engine) as conn:
                res = conn.execute(
                    db.uploads.update()
                    .where(db.uploads.c.id == upload_id, db.uploads.c.offset == self.offset)
                    .values(offset=new_offset, updated=db.iso())
                )
                if res.rowcount != 1:
                    raise ConflictError(
                        "The upload moved on while this chunk was written; ask with HEAD and resume."
                    )
            with svc._hash_lock:
                svc._running_hash[upload_id] = (new_offset, self._whole)
        finally:
            self._fh.close()
        return UploadState(
            upload_id, new_offset, int(self._row["length"]), "open", None, None, self._row["expires_at"]
        )


@functools.lru_cache(maxsize=8192)
def _stored_json(text: str) -> Any:
    """A feature's stored geometry or properties JSON, parsed once per distinct text.

    Map clients page through the same features again and again (every few seconds while uploads
    arrive); parsing was most of the cost of ``/collections/{id}/items``. Keyed by the text itself,
    so a changed feature can never be served stale. Callers must not modify the returned object.
    """
    return json.loads(text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _parse_instant(text: str) -> str:
    text = text.strip()
    try:
        if len(text) == 10:
            value = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadRequestError(
            f"'{text}' is not an RFC 3339 date-time; use e.g. 2026-05-01T00:00:00Z."
        ) from None
    return db.iso(value)


def parse_datetime_filter(text: str | None) -> tuple[str | None, str | None]:
    """OGC ``datetime``: an instant or ``start/end`` with ``..`` (or empty) for open ends."""
    if text is None or not text.strip():
        return None, None
    if "/" in text:
        start, _, end = text.partition("/")
        lo = None if start.strip() in ("", "..") else _parse_instant(start)
        hi = None if end.strip() in ("", "..") else _parse_instant(end)
        if lo is None and hi is None:
            raise BadRequestError("datetime '../..' has no bounds; give at least one end.")
        if lo and hi and lo > hi:
            raise BadRequestError("datetime interval ends before it starts; swap the two ends.")
        return lo, hi
    instant = _parse_instant(text)
    return instant, instant


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None or not text.strip():
        return None
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise BadRequestError("bbox must be minlon,minlat,maxlon,maxlat as numbers.") from None
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or any(p != p for p in parts):
        raise BadRequestError("bbox must have 4 numbers: minlon,minlat,maxlon,maxlat.")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadRequestError(
            "bbox is outside WGS84 ranges or has minlat > maxlat; use minlon,minlat,maxlon,maxlat."
        )
    return minx, miny, maxx, maxy


def _obs_date(meta: Any) -> datetime | None:
    """``obs_date`` (YYYY-MM-DD) that ``uavops damage`` writes when the photos carry no time."""
    value = getattr(meta, "obs_date", None) or (meta.model_extra or {}).get("obs_date")
    if not value:
        return None
    try:
        return datetime.strptime(str(value)[:10], "%Y-%m-%d").replace(hour=12, tzinfo=timezone.utc)
    except ValueError:
        return None


class HubService:
    """Everything the hub does. Create one per process; it is safe to use from many threads."""

    def __init__(self, config: HubConfig, *, migrate: bool = True) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.engine = db.make_engine(config.sqlalchemy_url)
        if migrate:
            db.migrate(self.engine)
        self.blobs: BlobStore = open_blob_store(config)
        self.upload_dir = config.data_dir / "uploads"
        self.staging_dir = config.data_dir / "staging"
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        # upload id -> (offset covered, running SHA-256): saves re-reading the file at finalisation when
        # every chunk went through this process; otherwise the file is hashed from disk.
        self._running_hash: dict[str, tuple[int, Any]] = {}
        self._hash_lock = threading.Lock()
        self.purge_stale()

    def purge_stale(self, min_age_s: float = 3600.0) -> int:
        """Forget expired uploads and remove staging leftovers of crashed finalisations; returns files removed.

        Only files older than ``min_age_s`` go, so another worker's work in progress is never touched.
        """
        import time

        now = db.iso()
        removed = 0
        with db.read_conn(self.engine) as conn:
            keep = {
                r
                for (r,) in conn.execute(
                    sa.select(db.uploads.c.id).where(
                        db.uploads.c.status == "open", db.uploads.c.expires_at > now
                    )
                )
            }
        cutoff = time.time() - min_age_s
        for path in list(self.upload_dir.glob("*.bin")) + list(self.staging_dir.iterdir()):
            try:
                if path.stat().st_mtime > cutoff or (path.suffix == ".bin" and path.stem in keep):
                    continue
                shutil.rmtree(path) if path.is_dir() else path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
        return removed

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ audit
    @staticmethod
    def _audit(
        conn: Connection,
        principal: Principal | None,
        action: str,
        object_type: str,
        object_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            db.audit_log.insert().values(
                at=db.iso(),
                token_id=principal.token_id if principal else None,
                org_code=principal.org_code if principal else None,
                action=action,
                object_type=object_type,
                object_id=object_id,
                detail=_json(detail or {}),
            )
        )

    def audit_entries(self, principal: Principal, limit: int = 1000) -> list[dict[str, Any]]:
        require_role(principal, "admin", "coordinator")
        with db.read_conn(self.engine) as conn:
            rows = (
                conn.execute(sa.select(db.audit_log).order_by(db.audit_log.c.id).limit(limit))
                .mappings()
                .all()
            )
        return [{**r, "detail": json.loads(r["detail"])} for r in rows]

    # ------------------------------------------------------------------ organisations, tokens, events
    def add_org(
        self, code: str, name: str, country: str, principal: Principal | None = None
    ) -> dict[str, Any]:
        """Register an organisation, e.g. ``KG-MChS`` (country code prefix, then a short name)."""
        if not ORG_CODE_RE.match(code):
            raise HubValidationError(
                f"Organisation code '{code}' must look like KG-MChS (ISO country code, dash, short name)."
            )
        country = country.upper()
        if not re.fullmatch(r"[A-Z]{2}", country):
            raise HubValidationError(f"Country '{country}' must be an ISO 3166-1 alpha-2 code such as KG.")
        row = {"code": code, "name": name or code, "country": country, "created": db.iso()}
        with db.write_tx(self.engine) as conn:
            if conn.execute(sa.select(db.orgs.c.code).where(db.orgs.c.code == code)).first():
                raise ConflictError(f"Organisation {code} already exists; use it or pick another code.")
            conn.execute(db.orgs.insert().values(**row))
            self._audit(conn, principal, "org.add", "org", code, row)
        return row

    def list_orgs(self) -> list[dict[str, Any]]:
        with db.read_conn(self.engine) as conn:
            return [dict(r) for r in conn.execute(sa.select(db.orgs).order_by(db.orgs.c.code)).mappings()]

    def create_token(
        self,
        org_code: str | None,
        role: str,
        *,
        label: str | None = None,
        expires_days: float | None = None,
        principal: Principal | None = None,
    ) -> dict[str, Any]:
        """Create an API token; the returned ``token`` is the only time the secret is visible."""
        if role not in ROLES:
            raise HubValidationError(f"Role '{role}' is unknown; use one of {', '.join(ROLES)}.")
        if role == "operator" and not org_code:
            raise HubValidationError("An operator token needs an organisation; pass --org CODE.")
        secret, digest = new_token()
        token_id = secrets.token_hex(8)
        expires = db.iso(db.utc_now() + timedelta(days=expires_days)) if expires_days is not None else None
        with db.write_tx(self.engine) as conn:
            if (
                org_code
                and not conn.execute(sa.select(db.orgs.c.code).where(db.orgs.c.code == org_code)).first()
            ):
                raise NotFoundError(
                    f"Organisation {org_code} does not exist; add it first with uavops hub org add."
                )
            conn.execute(
                db.tokens.insert().values(
                    id=token_id,
                    token_hash=digest,
                    org_code=org_code,
                    role=role,
                    label=label,
                    created=db.iso(),
                    expires_at=expires,
                )
            )
            self._audit(
                conn,
                principal,
                "token.create",
                "token",
                token_id,
                {"org": org_code, "role": role, "expires_at": expires},
            )
        return {"token": secret, "token_id": token_id, "org": org_code, "role": role, "expires_at": expires}

    def revoke_token(self, token_id: str, principal: Principal | None = None) -> None:
        with db.write_tx(self.engine) as conn:
            res = conn.execute(
                db.tokens.update().where(db.tokens.c.id == token_id).values(revoked_at=db.iso())
            )
            if res.rowcount == 0:
                raise NotFoundError(
                    f"Token {token_id} does not exist; list tokens with uavops hub token list."
                )
            self._audit(conn, principal, "token.revoke", "token", token_id)

    def list_tokens(self) -> list[dict[str, Any]]:
        with db.read_conn(self.engine) as conn:
            rows = conn.execute(sa.select(db.tokens).order_by(db.tokens.c.created)).mappings().all()
        return [{k: v for k, v in r.items() if k != "token_hash"} for r in rows]

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal behind an ``Authorization`` header; 401 for missing, unknown, revoked or expired."""
        secret = parse_authorization(authorization)
        with db.read_conn(self.engine) as conn:
            row = (
                conn.execute(sa.select(db.tokens).where(db.tokens.c.token_hash == hash_token(secret)))
                .mappings()
                .first()
            )
        if row is None:
            raise AuthenticationError(
                "The API token is not valid for this hub; check it or ask the hub "
                "administrator for a new one."
            )
        if row["revoked_at"]:
            raise AuthenticationError("The API token was revoked; ask the hub administrator for a new one.")
        if row["expires_at"] and row["expires_at"] <= db.iso():
            raise AuthenticationError("The API token has expired; ask the hub administrator for a new one.")
        return Principal(token_id=row["id"], org_code=row["org_code"], role=row["role"])

    def add_event(
        self,
        event_id: str,
        type: str,
        name: str,
        countries: Iterable[str],
        start_date: str,
        end_date: str | None = None,
        glide: str | None = None,
        gdacs_id: str | None = None,
        principal: Principal | None = None,
    ) -> dict[str, Any]:
        """Register an incident that reports are filed under (one OGC collection per event)."""
        if principal is not None:
            require_role(principal, "admin", "coordinator")
        if not EVENT_ID_RE.match(event_id):
            raise HubValidationError(
                f"Event id '{event_id}' may contain only letters, digits, '-', '_' and '.'."
            )
        if type not in EVENT_TYPES:
            raise HubValidationError(f"Event type '{type}' is unknown; use one of {', '.join(EVENT_TYPES)}.")
        codes = [c.strip().upper() for c in countries if c.strip()]
        if not codes or not all(re.fullmatch(r"[A-Z]{2}", c) for c in codes):
            raise HubValidationError("Give the affected countries as ISO 3166-1 alpha-2 codes, e.g. KG,KZ.")
        start = _parse_instant(start_date)
        end = _parse_instant(end_date) if end_date else None
        if end and end < start:
            raise HubValidationError("The event ends before it starts; check --start and --end.")
        row = {
            "id": event_id,
            "type": type,
            "name": name or event_id,
            "countries": _json(codes),
            "start_date": start,
            "end_date": end,
            "glide": glide,
            "gdacs_id": gdacs_id,
            "created": db.iso(),
        }
        with db.write_tx(self.engine) as conn:
            if conn.execute(sa.select(db.events.c.id).where(db.events.c.id == event_id)).first():
                raise ConflictError(f"Event {event_id} already exists; use it or choose another id.")
            conn.execute(db.events.insert().values(**row))
            self._audit(conn, principal, "event.add", "event", event_id, {**row, "countries": codes})
        return self._event_out(row)

    @staticmethod
    def _event_out(row: Any) -> dict[str, Any]:
        out = dict(row)
        out["countries"] = json.loads(out["countries"])
        return out

    def list_events(self) -> list[dict[str, Any]]:
        with db.read_conn(self.engine) as conn:
            rows = conn.execute(
                sa.select(db.events).order_by(db.events.c.start_date, db.events.c.id)
            ).mappings()
            return [self._event_out(r) for r in rows]

    def get_event(self, event_id: str) -> dict[str, Any]:
        with db.read_conn(self.engine) as conn:
            row = conn.execute(sa.select(db.events).where(db.events.c.id == event_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"Event {event_id} does not exist; list events at /collections.")
        return self._event_out(row)

    def event_extent(self, event_id: str) -> dict[str, Any]:
        """Spatial and temporal extent of an event's current features."""
        f = db.features.c
        with db.read_conn(self.engine) as conn:
            row = conn.execute(
                sa.select(
                    sa.func.min(f.minx),
                    sa.func.min(f.miny),
                    sa.func.max(f.maxx),
                    sa.func.max(f.maxy),
                    sa.func.min(f.dt_start),
                    sa.func.max(f.dt_end),
                    sa.func.count(),
                ).where(f.event_id == event_id)
            ).first()
        assert row is not None
        bbox = [row[0], row[1], row[2], row[3]] if row[0] is not None else None
        return {"bbox": bbox, "start": row[4], "end": row[5], "count": row[6]}

    # ------------------------------------------------------------------ uploads
    def _upload_path(self, upload_id: str) -> Path:
        return self.upload_dir / f"{upload_id}.bin"

    def _org_bytes_used(self, conn: Connection, org_code: str) -> int:
        rv, r = db.report_versions.c, db.reports.c
        used = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(rv.size_bytes), 0))
            .select_from(db.report_versions.join(db.reports, r.id == rv.report_id))
            .where(r.org_code == org_code)
        ).scalar_one()
        return int(used)

    def create_upload(
        self,
        principal: Principal,
        length: int,
        package_id: str,
        sha256: str,
        package_sha256: str | None = None,
        filename: str = "package.tar",
        event_id: str | None = None,
    ) -> tuple[UploadState, str]:
        """Start (or find again) the upload of one package archive.

        Returns the upload and how it was found: ``created`` (new), ``resumed`` (an unfinished upload of
        the same bytes; continue from its offset) or ``exists`` (the same package is already a report).
        """
        require_role(principal, "operator", "admin")
        if not principal.org_code:
            raise PermissionDeniedError(
                "Only a token that belongs to an organisation can upload; use an operator token."
            )
        if not PACKAGE_ID_RE.match(package_id):
            raise HubValidationError(
                "The package id must be letters, digits, '-', '_' or '.'; use the "
                "package_id from package.json."
            )
        if not SHA256_RE.match(sha256) or (
            package_sha256 is not None and not SHA256_RE.match(package_sha256)
        ):
            raise HubValidationError(
                "Upload-Metadata sha256 must be 64 lowercase hex digits (SHA-256 of the file)."
            )
        if length <= 0:
            raise HubValidationError("Upload-Length must be a positive number of bytes.")
        if event_id is not None and not EVENT_ID_RE.match(event_id):
            raise HubValidationError(
                "The event id in Upload-Metadata may contain only letters, digits, '-', '_' and '.'."
            )
        if length > self.config.max_upload_bytes:
            raise PayloadTooLargeError(
                f"The package is {length} bytes, more than the {self.config.max_upload_bytes}"
                " this hub accepts in one upload; split it."
            )
        now = db.iso()
        with db.write_tx(self.engine) as conn:
            report = (
                conn.execute(sa.select(db.reports).where(db.reports.c.package_id == package_id))
                .mappings()
                .first()
            )
            if report is not None:
                if report["org_code"] != principal.org_code:
                    raise ConflictError(
                        f"Package {package_id} was already sent by {report['org_code']}; a package "
                        "id can belong to one organisation only."
                    )
                if (
                    package_sha256
                    and conn.execute(
                        sa.select(db.report_versions.c.version).where(
                            db.report_versions.c.report_id == report["id"],
                            db.report_versions.c.content_sha256 == package_sha256,
                        )
                    ).first()
                ):
                    up = (
                        conn.execute(
                            sa.select(db.uploads)
                            .where(db.uploads.c.report_id == report["id"], db.uploads.c.status == "finished")
                            .order_by(db.uploads.c.created.desc())
                        )
                        .mappings()
                        .first()
                    )
                    version = conn.execute(
                        sa.select(db.report_versions.c.version).where(
                            db.report_versions.c.report_id == report["id"],
                            db.report_versions.c.content_sha256 == package_sha256,
                        )
                    ).scalar_one()
                    state = UploadState(
                        up["id"] if up else "",
                        length,
                        length,
                        "finished",
                        report["id"],
                        version,
                        up["expires_at"] if up else now,
                    )
                    return state, "exists"
            existing = (
                conn.execute(
                    sa.select(db.uploads).where(
                        db.uploads.c.org_code == principal.org_code,
                        db.uploads.c.package_id == package_id,
                        db.uploads.c.sha256 == sha256,
                        db.uploads.c.length == length,
                        db.uploads.c.status == "open",
                        db.uploads.c.expires_at > now,
                    )
                )
                .mappings()
                .first()
            )
            if existing is not None:
                if event_id and existing["event_id"] != event_id:  # operator added --event on the retry
                    conn.execute(
                        db.uploads.update().where(db.uploads.c.id == existing["id"]).values(event_id=event_id)
                    )
                return self._state(existing), "resumed"
            if self._org_bytes_used(conn, principal.org_code) + length > self.config.max_org_bytes:
                raise PayloadTooLargeError(
                    f"{principal.org_code} would exceed its storage quota of "
                    f"{self.config.max_org_bytes} bytes; ask the hub administrator."
                )
            upload_id = secrets.token_hex(16)
            expires = db.iso(db.utc_now() + timedelta(seconds=self.config.upload_expiry_s))
            self._upload_path(upload_id).touch()
            conn.execute(
                db.uploads.insert().values(
                    id=upload_id,
                    org_code=principal.org_code,
                    token_id=principal.token_id,
                    package_id=package_id,
                    sha256=sha256,
                    length=length,
                    offset=0,
                    filename=filename[:256],
                    status="open",
                    created=now,
                    updated=now,
                    expires_at=expires,
                    event_id=event_id,
                )
            )
            self._audit(
                conn,
                principal,
                "upload.create",
                "upload",
                upload_id,
                {"package_id": package_id, "length": length, "sha256": sha256},
            )
        return UploadState(upload_id, 0, length, "open", None, None, expires), "created"

    @staticmethod
    def _state(row: Any) -> UploadState:
        return UploadState(
            row["id"],
            int(row["offset"]),
            int(row["length"]),
            row["status"],
            row["report_id"],
            row["version"],
            row["expires_at"],
        )

    def _own_upload(self, conn: Connection, principal: Principal, upload_id: str) -> Any:
        row = conn.execute(sa.select(db.uploads).where(db.uploads.c.id == upload_id)).mappings().first()
        if row is None:
            raise NotFoundError(
                "This upload does not exist on the hub (expired or never created); start the upload again."
            )
        if row["org_code"] != principal.org_code and principal.role != "admin":
            raise PermissionDeniedError("This upload belongs to another organisation.")
        if row["status"] == "open" and row["expires_at"] <= db.iso():
            raise UploadGoneError("This upload expired before it finished; start it again.")
        return row

    def upload_state(self, principal: Principal, upload_id: str) -> UploadState:
        with db.read_conn(self.engine) as conn:
            return self._state(self._own_upload(conn, principal, upload_id))

    def open_chunk(
        self,
        principal: Principal,
        upload_id: str,
        offset: int,
        checksum: tuple[str, bytes] | None,
        declared_bytes: int | None = None,
    ) -> ChunkWriter:
        """Check a PATCH before its body is read and return a writer that streams the body to disk.

        The upload must be open, ``offset`` must be the confirmed offset and the announced body must
        fit into ``Upload-Length``; otherwise the request fails before a byte is stored. The writer
        holds an exclusive lock on the upload file until :meth:`ChunkWriter.commit` or
        :meth:`ChunkWriter.abort`.
        """
        if checksum is not None and checksum[0] != "sha256":
            raise BadRequestError(f"Checksum algorithm '{checksum[0]}' is not supported; use sha256.")
        with db.read_conn(self.engine) as conn:
            row = self._own_upload(conn, principal, upload_id)
        if row["status"] != "open":
            raise ConflictError("This upload is already complete; finalise it instead of sending more bytes.")
        if offset != row["offset"]:
            raise ConflictError(
                f"Upload-Offset {offset} does not match the {row['offset']} bytes the hub has; "
                "ask with HEAD and resume from there."
            )
        if declared_bytes is not None and offset + declared_bytes > row["length"]:
            raise HubValidationError(
                "The chunk goes past the announced Upload-Length; resume from the offset the hub reports."
            )
        path = self._upload_path(upload_id)
        fh = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115 - the ChunkWriter closes it
        try:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConflictError(
                    "Another request is writing this upload right now; wait and resume."
                ) from None
            whole = self._whole_hash_at(upload_id, fh, offset)
            fh.seek(offset)
            fh.truncate(offset)
        except BaseException:
            fh.close()
            raise
        return ChunkWriter(self, row, fh, offset, checksum, whole)

    def _whole_hash_at(self, upload_id: str, fh: Any, offset: int) -> Any:
        """A copy of the running whole-file SHA-256 over the first ``offset`` bytes.

        Normally the hash that the previous chunk left in memory; after a hub restart (or when the
        previous chunk went to another worker process) the bytes already on disk are hashed once.
        """
        with self._hash_lock:
            covered, hasher = self._running_hash.get(upload_id, (0, None))
        if hasher is not None and covered == offset:
            return hasher.copy()
        hasher = hashlib.sha256()
        fh.seek(0)
        left = offset
        while left > 0:
            block = fh.read(min(left, 1 << 20))
            if not block:
                break  # shorter than the confirmed offset: the whole-file check at finalisation fails
            hasher.update(block)
            left -= len(block)
        return hasher

    def append_chunk(
        self,
        principal: Principal,
        upload_id: str,
        offset: int,
        data: bytes,
        checksum: tuple[str, bytes] | None,
    ) -> UploadState:
        """Write ``data`` at ``offset`` (which must be the confirmed offset) after checking its SHA-256."""
        writer = self.open_chunk(principal, upload_id, offset, checksum, len(data))
        try:
            writer.write(data)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def finalize_upload(self, principal: Principal, upload_id: str) -> dict[str, Any]:
        """Validate the complete archive and register it as a report (or a new version) atomically.

        Idempotent: finalising a finished upload returns the same report again.
        """
        with db.read_conn(self.engine) as conn:
            row = self._own_upload(conn, principal, upload_id)
        if row["status"] == "finished":
            return {"report_id": row["report_id"], "version": row["version"], "status": "exists"}
        if row["offset"] != row["length"]:
            raise ConflictError(
                f"The upload is incomplete ({row['offset']} of {row['length']} bytes); send the "
                "rest before finalising."
            )
        path = self._upload_path(upload_id)
        try:
            lock = open(path, "rb")
        except FileNotFoundError:  # finalised by a concurrent request a moment ago
            with db.read_conn(self.engine) as conn:
                row = self._own_upload(conn, principal, upload_id)
            if row["status"] == "finished":
                return {"report_id": row["report_id"], "version": row["version"], "status": "exists"}
            raise NotFoundError("The uploaded bytes are gone from the hub; start the upload again.") from None
        with lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusyError(
                    "This upload is being finalised by another request; ask again in a moment."
                ) from None
            with db.read_conn(self.engine) as conn:
                row = self._own_upload(conn, principal, upload_id)
            if row["status"] == "finished":
                return {"report_id": row["report_id"], "version": row["version"], "status": "exists"}
            return self._finalize_locked(principal, row, path)

    def _finalize_locked(self, principal: Principal, row: Any, path: Path) -> dict[str, Any]:
        upload_id = row["id"]
        with self._hash_lock:
            covered, running = self._running_hash.pop(upload_id, (0, None))
        if running is not None and covered == row["length"] == path.stat().st_size:
            whole = running.hexdigest()
        else:
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
            whole = digest.hexdigest()
        if whole != row["sha256"]:
            with db.write_tx(self.engine) as conn:
                conn.execute(db.uploads.update().where(db.uploads.c.id == upload_id).values(offset=0))
            with open(path, "r+b") as fh:
                fh.truncate(0)
            raise HubValidationError(
                "The uploaded file does not match its announced SHA-256; the hub discarded "
                "it, send the package again."
            )
        work = Path(tempfile.mkdtemp(prefix=f"{upload_id}.", dir=self.staging_dir))
        try:
            hashes = ExtractedFiles()
            root = extract_archive(path, work / "pkg", self.config, hashes)
            pkg = validate_package(root, self.config, hashes)
            result = self._register(principal, row, pkg, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        path.unlink(missing_ok=True)
        return result

    def _register(
        self, principal: Principal, upload: Any, pkg: ValidatedPackage, work: Path
    ) -> dict[str, Any]:
        meta = pkg.meta
        org = upload["org_code"]
        if meta.producer and meta.producer != org:
            raise PermissionDeniedError(
                f"package.json names producer {meta.producer} but the token belongs to "
                f"{org}; upload with a token of {meta.producer}."
            )
        if meta.package_id != upload["package_id"]:
            raise HubValidationError(
                "The package_id in package.json differs from the one the upload announced; "
                "upload the package again with uavops upload."
            )
        if getattr(meta, "pixel_grid", False):
            raise HubValidationError(
                "The damage map is on a pixel grid, not georeferenced; run uavops damage on a "
                "georeferenced mosaic (GeoTIFF) before sending it to the hub."
            )
        event_id = meta.event.incident_id or upload["event_id"]
        if meta.event.incident_id and upload["event_id"] and meta.event.incident_id != upload["event_id"]:
            raise HubValidationError(
                f"package.json names event {meta.event.incident_id} but the upload was sent "
                f"for {upload['event_id']}; drop --event or make the package again."
            )
        if not event_id:
            raise HubValidationError(
                "Neither package.json (event.incident_id) nor the upload names a hub event; "
                "pass --event ID to uavops upload (ask the coordinator for the id)."
            )
        event = self.get_event_or_none(event_id)
        if event is None:
            raise HubValidationError(
                f"Event {event_id} named in package.json does not exist on this hub; ask the "
                "coordinator to add it (uavops hub event add)."
            )
        package_sha = hashlib.sha256((pkg.root / "package.json").read_bytes()).hexdigest()
        # Blobs first: content-addressed, so a crash here leaves only unreferenced files.
        files_out = []
        for pf, path in pkg.files:
            key = blob_key(pf.sha256)
            self.blobs.put_file(path, key, pf.media_type)
            files_out.append(
                {
                    "role": pf.role,
                    "path": pf.path,
                    "sha256": pf.sha256,
                    "size_bytes": pf.size_bytes,
                    "media_type": pf.media_type,
                    "blob_key": key,
                }
            )
        meta_bytes = (pkg.root / "package.json").read_bytes()
        meta_key = blob_key(package_sha)
        self.blobs.put_file(pkg.root / "package.json", meta_key, "application/json")
        files_out.append(
            {
                "role": "package",
                "path": "package.json",
                "sha256": package_sha,
                "size_bytes": len(meta_bytes),
                "media_type": "application/json",
                "blob_key": meta_key,
            }
        )
        from .preview import make_preview

        preview_src = next((p for pf, p in pkg.files if pf.role == "mosaic"), None) or next(
            p for pf, p in pkg.files if pf.role == "damage_raster"
        )
        preview = make_preview(preview_src, work / "preview.png")
        preview_sha = hashlib.sha256(preview.path.read_bytes()).hexdigest()
        self.blobs.put_file(preview.path, blob_key(preview_sha), "image/png")
        files_out.append(
            {
                "role": "preview",
                "path": "preview.png",
                "sha256": preview_sha,
                "size_bytes": preview.path.stat().st_size,
                "media_type": "image/png",
                "blob_key": blob_key(preview_sha),
            }
        )
        minx, miny, maxx, maxy = meta.bbox
        observed = _obs_date(meta)
        dt_start = db.iso(meta.acquisition_start or observed or meta.created)
        dt_end = db.iso(meta.acquisition_end or meta.acquisition_start or observed or meta.created)
        raster = pkg.rasters.get("mosaic") or pkg.rasters.get("damage_raster")
        summary = {
            "grades": pkg.grade_counts(),
            "features": len(pkg.features),
            "preview_bounds": list(preview.bounds_wgs84),
            "mosaic": pkg.rasters["mosaic"].__dict__ if "mosaic" in pkg.rasters else None,
            "damage_raster": pkg.rasters["damage_raster"].__dict__,
            "gsd_m": (meta.gsd_cm / 100.0) if meta.gsd_cm else (raster.gsd_m if raster else None),
            "epsg": meta.crs_epsg or (raster.epsg if raster else None),
        }
        with db.read_conn(self.engine) as conn:
            org_country = conn.execute(sa.select(db.orgs.c.country).where(db.orgs.c.code == org)).scalar_one()
        for attempt in range(3):
            try:
                return self._register_tx(
                    principal,
                    upload,
                    pkg,
                    event_id,
                    org,
                    org_country,
                    package_sha,
                    files_out,
                    summary,
                    (minx, miny, maxx, maxy),
                    dt_start,
                    dt_end,
                )
            except IntegrityError:
                if attempt == 2:
                    raise ConflictError(
                        "Another upload of this package was registered at the same moment; "
                        "send it again to get its report id."
                    ) from None
        raise AssertionError("unreachable")

    def get_event_or_none(self, event_id: str) -> Any:
        with db.read_conn(self.engine) as conn:
            return conn.execute(sa.select(db.events).where(db.events.c.id == event_id)).mappings().first()

    def _register_tx(
        self,
        principal: Principal,
        upload: Any,
        pkg: ValidatedPackage,
        event_id: str,
        org: str,
        country: str,
        package_sha: str,
        files_out: list[dict[str, Any]],
        summary: dict[str, Any],
        bbox: tuple[float, float, float, float],
        dt_start: str,
        dt_end: str,
    ) -> dict[str, Any]:
        from shapely.geometry import shape

        now = db.iso()
        r, rv = db.reports.c, db.report_versions.c
        with db.write_tx(self.engine) as conn:
            up = conn.execute(sa.select(db.uploads).where(db.uploads.c.id == upload["id"])).mappings().first()
            if up is not None and up["status"] == "finished":
                return {"report_id": up["report_id"], "version": up["version"], "status": "exists"}
            if self._org_bytes_used(conn, org) + pkg.size_bytes > self.config.max_org_bytes:
                raise PayloadTooLargeError(
                    f"{org} would exceed its storage quota of {self.config.max_org_bytes} "
                    "bytes; ask the hub administrator."
                )
            report = (
                conn.execute(sa.select(db.reports).where(r.package_id == pkg.meta.package_id))
                .mappings()
                .first()
            )
            status = "created"
            if report is not None:
                ensure_can_modify(principal, report["org_code"])
                if report["org_code"] != org:
                    raise ConflictError(f"Package {pkg.meta.package_id} belongs to {report['org_code']}.")
                same = conn.execute(
                    sa.select(rv.version).where(
                        rv.report_id == report["id"], rv.content_sha256 == package_sha
                    )
                ).first()
                if same is not None:
                    conn.execute(
                        db.uploads.update()
                        .where(db.uploads.c.id == upload["id"])
                        .values(status="finished", report_id=report["id"], version=same[0], updated=now)
                    )
                    return {"report_id": report["id"], "version": same[0], "status": "exists"}
                report_id = report["id"]
                version = int(report["current_version"]) + 1
                conn.execute(
                    db.reports.update()
                    .where(r.id == report_id)
                    .values(current_version=version, updated=now, deleted_at=None, event_id=event_id)
                )
                conn.execute(db.features.delete().where(db.features.c.report_id == report_id))
                status = "new_version"
            else:
                report_id = secrets.token_hex(8)
                version = 1
                conn.execute(
                    db.reports.insert().values(
                        id=report_id,
                        package_id=pkg.meta.package_id,
                        org_code=org,
                        event_id=event_id,
                        current_version=1,
                        created=now,
                        updated=now,
                    )
                )
            conn.execute(
                db.report_versions.insert().values(
                    report_id=report_id,
                    version=version,
                    content_sha256=package_sha,
                    meta=pkg.meta.model_dump_json(),
                    files=_json(files_out),
                    summary=_json(summary),
                    size_bytes=pkg.size_bytes,
                    minx=bbox[0],
                    miny=bbox[1],
                    maxx=bbox[2],
                    maxy=bbox[3],
                    dt_start=dt_start,
                    dt_end=dt_end,
                    upload_id=upload["id"],
                    created=now,
                )
            )
            rows = []
            for feat in pkg.features:
                b = shape(feat["geometry"]).bounds
                props = dict(feat["properties"])
                rows.append(
                    {
                        "report_id": report_id,
                        "version": version,
                        "event_id": event_id,
                        "org_code": org,
                        "country": country,
                        "damage_gra": props["damage_gra"],
                        "minx": b[0],
                        "miny": b[1],
                        "maxx": b[2],
                        "maxy": b[3],
                        "dt_start": dt_start,
                        "dt_end": dt_end,
                        "geometry": _json(feat["geometry"]),
                        "properties": _json(props),
                    }
                )
            if rows:
                conn.execute(db.features.insert(), rows)
            conn.execute(
                db.uploads.update()
                .where(db.uploads.c.id == upload["id"])
                .values(status="finished", report_id=report_id, version=version, updated=now)
            )
            self._audit(
                conn,
                principal,
                "report.create" if version == 1 else "report.version",
                "report",
                report_id,
                {
                    "version": version,
                    "package_id": pkg.meta.package_id,
                    "upload_id": upload["id"],
                    "features": len(rows),
                    "content_sha256": package_sha,
                },
            )
        return {"report_id": report_id, "version": version, "status": status}

    # ------------------------------------------------------------------ reports
    def _report_row(self, conn: Connection, report_id: str, *, include_deleted: bool = False) -> Any:
        row = conn.execute(sa.select(db.reports).where(db.reports.c.id == report_id)).mappings().first()
        if row is None or (row["deleted_at"] and not include_deleted):
            raise NotFoundError(f"Report {report_id} does not exist on this hub; check the report id.")
        return row

    def get_report(self, report_id: str, version: int | None = None) -> dict[str, Any]:
        rv = db.report_versions.c
        with db.read_conn(self.engine) as conn:
            rep = self._report_row(conn, report_id)
            ver = (
                conn.execute(
                    sa.select(db.report_versions).where(
                        rv.report_id == report_id, rv.version == (version or rep["current_version"])
                    )
                )
                .mappings()
                .first()
            )
            if ver is None:
                raise NotFoundError(f"Report {report_id} has no version {version}.")
            org = conn.execute(sa.select(db.orgs).where(db.orgs.c.code == rep["org_code"])).mappings().first()
            versions = [
                v
                for (v,) in conn.execute(
                    sa.select(rv.version).where(rv.report_id == report_id).order_by(rv.version)
                )
            ]
        return {
            "id": rep["id"],
            "package_id": rep["package_id"],
            "org": rep["org_code"],
            "country": org["country"] if org else None,
            "event_id": rep["event_id"],
            "version": ver["version"],
            "versions": versions,
            "created": rep["created"],
            "updated": rep["updated"],
            "meta": json.loads(ver["meta"]),
            "files": json.loads(ver["files"]),
            "summary": json.loads(ver["summary"]),
            "bbox": [ver["minx"], ver["miny"], ver["maxx"], ver["maxy"]],
            "datetime": {"start": ver["dt_start"], "end": ver["dt_end"]},
            "size_bytes": ver["size_bytes"],
        }

    def list_reports(
        self, event_id: str | None = None, org_code: str | None = None, country: str | None = None
    ) -> list[dict[str, Any]]:
        r = db.reports.c
        q = sa.select(r.id).where(r.deleted_at.is_(None)).order_by(r.created, r.id)
        if event_id:
            q = q.where(r.event_id == event_id)
        if org_code:
            q = q.where(r.org_code == org_code)
        if country:
            q = q.where(r.org_code.in_(sa.select(db.orgs.c.code).where(db.orgs.c.country == country.upper())))
        with db.read_conn(self.engine) as conn:
            ids = [i for (i,) in conn.execute(q)]
        return [self.get_report(i) for i in ids]

    def delete_report(self, principal: Principal, report_id: str) -> None:
        """Withdraw a report (kept in the audit log and version table, gone from every read endpoint)."""
        with db.write_tx(self.engine) as conn:
            rep = self._report_row(conn, report_id)
            ensure_can_modify(principal, rep["org_code"])
            conn.execute(
                db.reports.update()
                .where(db.reports.c.id == report_id)
                .values(deleted_at=db.iso(), updated=db.iso())
            )
            conn.execute(db.features.delete().where(db.features.c.report_id == report_id))
            self._audit(conn, principal, "report.delete", "report", report_id)

    def update_report(self, principal: Principal, report_id: str, event_id: str) -> dict[str, Any]:
        """Move a report to another event (e.g. after two incidents are merged)."""
        with db.write_tx(self.engine) as conn:
            rep = self._report_row(conn, report_id)
            ensure_can_modify(principal, rep["org_code"])
            if not conn.execute(sa.select(db.events.c.id).where(db.events.c.id == event_id)).first():
                raise HubValidationError(f"Event {event_id} does not exist; ask the coordinator to add it.")
            conn.execute(
                db.reports.update()
                .where(db.reports.c.id == report_id)
                .values(event_id=event_id, updated=db.iso())
            )
            conn.execute(
                db.features.update().where(db.features.c.report_id == report_id).values(event_id=event_id)
            )
            self._audit(
                conn,
                principal,
                "report.update",
                "report",
                report_id,
                {"event_id": {"from": rep["event_id"], "to": event_id}},
            )
        return self.get_report(report_id)

    def report_file(self, report_id: str, role: str) -> dict[str, Any]:
        report = self.get_report(report_id)
        entry = next((f for f in report["files"] if f["role"] == role), None)
        if entry is None:
            raise NotFoundError(f"Report {report_id} has no '{role}' file.")
        return entry

    # ------------------------------------------------------------------ features
    def query_features(
        self,
        event_id: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        dt: tuple[str | None, str | None] = (None, None),
        limit: int = 100,
        offset: int = 0,
        country: str | None = None,
        grade: str | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of an event's damage features and the number matched in total."""
        self.get_event(event_id)
        f = db.features.c
        cond = [f.event_id == event_id]
        if bbox is not None:
            minx, miny, maxx, maxy = bbox
            cond += [f.maxy >= miny, f.miny <= maxy]
            if minx <= maxx:
                cond += [f.maxx >= minx, f.minx <= maxx]
            else:  # crosses the antimeridian
                cond.append(sa.or_(f.maxx >= minx, f.minx <= maxx))
        lo, hi = dt
        if lo is not None:
            cond.append(f.dt_end >= lo)
        if hi is not None:
            cond.append(f.dt_start <= hi)
        if country:
            cond.append(f.country == country.upper())
        if grade:
            if grade not in DAMAGE_GRADES:
                raise BadRequestError(
                    f"damage_gra '{grade}' is unknown; use one of {', '.join(DAMAGE_GRADES)}."
                )
            cond.append(f.damage_gra == grade)
        where = sa.and_(*cond)
        with db.read_conn(self.engine) as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(db.features).where(where)
            ).scalar_one()
            rows = (
                conn.execute(sa.select(db.features).where(where).order_by(f.fid).limit(limit).offset(offset))
                .mappings()
                .all()
            )
        return [self._feature_out(r) for r in rows], int(total)

    def get_feature(self, event_id: str, fid: int) -> dict[str, Any]:
        f = db.features.c
        with db.read_conn(self.engine) as conn:
            row = (
                conn.execute(sa.select(db.features).where(f.event_id == event_id, f.fid == fid))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(f"Feature {fid} does not exist in collection {event_id}.")
        return self._feature_out(row)

    @staticmethod
    def _feature_out(row: Any) -> dict[str, Any]:
        props = dict(_stored_json(row["properties"]))
        props.update(
            {
                "report_id": row["report_id"],
                "report_version": row["version"],
                "org": row["org_code"],
                "country": row["country"],
                "damage_gra": row["damage_gra"],
                "datetime": row["dt_start"] if row["dt_start"] == row["dt_end"] else None,
                "start_datetime": row["dt_start"],
                "end_datetime": row["dt_end"],
            }
        )
        return {
            "type": "Feature",
            "id": int(row["fid"]),
            "geometry": _stored_json(row["geometry"]),  # shared with the cache: read, never change
            "bbox": [row["minx"], row["miny"], row["maxx"], row["maxy"]],
            "properties": props,
        }

"""The regional coordination hub (FastAPI) and the field upload client.

``create_app(settings)`` builds the web application; :class:`HubService` holds the logic;
:class:`UploadClient` and :class:`Outbox` are what ``uavops upload`` uses.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HubConfig", "HubService", "Outbox", "UploadClient", "UploadResult", "create_app"]


def __getattr__(name: str) -> Any:  # lazy: the client must not import FastAPI or SQLAlchemy
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "HubConfig":
        from .config import HubConfig

        return HubConfig
    if name == "HubService":
        from .service import HubService

        return HubService
    if name in ("UploadClient", "UploadResult", "Outbox"):
        from . import client

        return getattr(client, name)
    raise AttributeError(name)

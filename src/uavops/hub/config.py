"""Hub configuration: one frozen object built at the edge and handed to :func:`create_app`.

The project-wide :class:`uavops.config.Settings` carries only what every stage shares (data
folder, database URL); the hub's own knobs (limits, blob store, token policy) live here with
defaults suited to a regional secretariat. Sizes are in bytes, durations in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ConfigError

__all__ = ["HubConfig"]

MiB = 1 << 20


@dataclass(frozen=True)
class HubConfig:
    """Everything the hub needs to run; see the field docs for units."""

    data_dir: Path
    """Folder for the SQLite database, upload staging and (by default) blobs."""
    database_url: str | None = None
    """``postgresql://…`` for a scaled hub; ``None`` means SQLite in ``data_dir/hub.sqlite``."""
    blob_url: str | None = None
    """``s3://bucket/prefix`` for an S3-compatible object store; ``None`` means ``data_dir/blobs``."""
    s3_endpoint_url: str | None = None
    """S3 endpoint (MinIO, Ceph, a moto server in tests); ``None`` is AWS's default."""
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    max_file_bytes: int = 2048 * MiB
    """Largest single file inside a package (and largest upload)."""
    max_upload_bytes: int = 4096 * MiB
    """Largest package archive one upload may announce."""
    max_org_bytes: int = 50 * 1024 * MiB
    """Storage quota per organisation, all its stored report versions together."""
    max_features: int = 100_000
    """Largest number of damage features in one package."""
    max_chunk_bytes: int = 64 * MiB
    """Largest PATCH body the upload endpoint accepts."""
    max_archive_members: int = 64
    max_decompression_ratio: float = 200.0
    """A compressed archive may expand at most this many times its own size."""
    upload_expiry_s: int = 7 * 24 * 3600
    """Unfinished uploads older than this are forgotten."""
    public_read: bool = False
    """Serve the read side (OGC API, STAC, CAP, HXL) without a token."""
    page_limit_default: int = 100
    page_limit_max: int = 10_000

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in SQLAlchemy's form (psycopg 3 driver for PostgreSQL)."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'hub.sqlite').as_posix()}"
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        if url.startswith(("postgresql+psycopg://", "sqlite:///")):
            return url
        raise ConfigError(
            f"The database URL '{url}' is not supported; use postgresql://user@host:port/db "
            "or leave it empty for the built-in SQLite database."
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> HubConfig:
        """Build from the shared :class:`Settings`, keyword arguments winning."""
        data_dir = overrides.pop("data_dir", None) or settings.hub_data_dir
        if data_dir is None:
            raise ConfigError("The hub needs a data folder; pass --data-dir DIR or set UAVOPS_HUB_DATA_DIR.")
        base = cls(data_dir=Path(data_dir), database_url=settings.hub_database_url)
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (used to hand the config to uvicorn worker processes)."""
        from dataclasses import asdict

        out = asdict(self)
        out["data_dir"] = str(self.data_dir)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HubConfig:
        data = dict(data)
        data["data_dir"] = Path(data["data_dir"])
        return cls(**data)

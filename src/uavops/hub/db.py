"""The hub's database: one SQLAlchemy Core schema for SQLite (default) and PostgreSQL.

Times are stored as ISO-8601 UTC strings (``2026-05-01T10:00:00Z``) so that ordering and range
filters behave the same on both back ends. The schema is created and upgraded only through the
Alembic migrations in ``uavops/hub/migrations`` (:func:`migrate`), run when the hub starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "audit_log",
    "events",
    "features",
    "iso",
    "make_engine",
    "metadata",
    "migrate",
    "orgs",
    "read_conn",
    "report_versions",
    "reports",
    "tokens",
    "uploads",
    "utc_now",
    "write_tx",
]

metadata = sa.MetaData()

orgs = sa.Table(
    "orgs",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("org_code", sa.String(64), sa.ForeignKey("orgs.code"), nullable=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("label", sa.String(256), nullable=True),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=True),
    sa.Column("revoked_at", sa.String(32), nullable=True),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("countries", sa.Text, nullable=False),  # JSON list of ISO2 codes
    sa.Column("start_date", sa.String(32), nullable=False),
    sa.Column("end_date", sa.String(32), nullable=True),
    sa.Column("glide", sa.String(64), nullable=True),
    sa.Column("gdacs_id", sa.String(64), nullable=True),
    sa.Column("created", sa.String(32), nullable=False),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("package_id", sa.String(64), nullable=False, unique=True),
    sa.Column("org_code", sa.String(64), sa.ForeignKey("orgs.code"), nullable=False),
    sa.Column("event_id", sa.String(64), sa.ForeignKey("events.id"), nullable=False),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
    sa.Column("deleted_at", sa.String(32), nullable=True),
    sa.Index("ix_reports_event", "event_id"),
    sa.Index("ix_reports_org", "org_code"),
)

report_versions = sa.Table(
    "report_versions",
    metadata,
    sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("meta", sa.Text, nullable=False),  # package.json as stored
    sa.Column(
        "files", sa.Text, nullable=False
    ),  # JSON list: role, path, sha256, size_bytes, media_type, blob_key
    sa.Column("summary", sa.Text, nullable=False),  # JSON: counts per grade, preview bounds
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("minx", sa.Float, nullable=False),
    sa.Column("miny", sa.Float, nullable=False),
    sa.Column("maxx", sa.Float, nullable=False),
    sa.Column("maxy", sa.Float, nullable=False),
    sa.Column("dt_start", sa.String(32), nullable=False),
    sa.Column("dt_end", sa.String(32), nullable=False),
    sa.Column("upload_id", sa.String(32), nullable=True),
    sa.Column("created", sa.String(32), nullable=False),
    sa.UniqueConstraint("report_id", "content_sha256", name="uq_report_versions_content"),
)

features = sa.Table(
    "features",
    metadata,
    sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.String(32), sa.ForeignKey("reports.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("org_code", sa.String(64), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("damage_gra", sa.String(32), nullable=False),
    sa.Column("minx", sa.Float, nullable=False),
    sa.Column("miny", sa.Float, nullable=False),
    sa.Column("maxx", sa.Float, nullable=False),
    sa.Column("maxy", sa.Float, nullable=False),
    sa.Column("dt_start", sa.String(32), nullable=False),
    sa.Column("dt_end", sa.String(32), nullable=False),
    sa.Column("geometry", sa.Text, nullable=False),  # GeoJSON geometry
    sa.Column("properties", sa.Text, nullable=False),  # JSON object
    sa.Index("ix_features_event_fid", "event_id", "fid"),
    sa.Index("ix_features_report", "report_id"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("org_code", sa.String(64), nullable=False),
    sa.Column("token_id", sa.String(32), nullable=False),
    sa.Column("package_id", sa.String(64), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("length", sa.BigInteger, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("filename", sa.String(256), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | finished | failed
    sa.Column("report_id", sa.String(32), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=True),  # from Upload-Metadata when package.json names none
    sa.Index("ix_uploads_package", "org_code", "package_id", "sha256"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("token_id", sa.String(32), nullable=True),
    sa.Column("org_code", sa.String(64), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(value: datetime | None = None) -> str:
    """UTC ISO-8601 with a ``Z``, second precision: the one time format in the database."""
    value = value or utc_now()
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_engine(url: str) -> Engine:
    """An engine with the settings each back end needs for concurrent writers."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Writers take the lock up front so two transactions never deadlock upgrading it.
            conn.exec_driver_sql(
                "BEGIN IMMEDIATE" if conn.get_execution_options().get("uavops_write") else "BEGIN"
            )

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@contextlib.contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """One write transaction: everything inside commits together or not at all."""
    with engine.connect() as conn:
        conn = conn.execution_options(uavops_write=True)
        with conn.begin():
            yield conn


@contextlib.contextmanager
def read_conn(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        yield conn


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; safe with several workers)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_lock(7261001)")
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_unlock(7261001)")
                conn.commit()

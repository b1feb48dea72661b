"""``uavops hub``: run the regional coordination hub and administer organisations, tokens, events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from .options import emit_json, get_settings, json_option

WORKER_CONFIG_ENV = "UAVOPS_HUB_WORKER_CONFIG"


def _config(ctx: click.Context, data_dir: Path | None, database_url: str | None, **overrides: Any) -> Any:
    from ..hub.config import HubConfig

    settings = get_settings(ctx)
    return HubConfig.from_settings(settings, data_dir=data_dir, database_url=database_url, **overrides)


def _service(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> Any:
    from ..hub.service import HubService

    return HubService(_config(ctx, data_dir, database_url))


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Hub data folder (SQLite database, uploads, blobs). Default: $UAVOPS_HUB_DATA_DIR.",
)
database_url_option = click.option(
    "--database-url",
    default=None,
    help="postgresql://user@host:port/db for a scaled hub (default: SQLite in the data folder).",
)


@click.group()
def cli() -> None:
    """Run and administer the regional coordination hub."""


@cli.command()
@data_dir_option
@database_url_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="uvicorn worker processes (use with PostgreSQL).",
)
@click.option("--blob-url", default=None, help="s3://bucket/prefix to keep files in an S3-compatible store.")
@click.option("--s3-endpoint", default=None, help="S3 endpoint URL (MinIO, Ceph...).")
@click.option("--s3-access-key", default=None, help="S3 access key (default: boto3's usual sources).")
@click.option("--s3-secret-key", default=None, help="S3 secret key.")
@click.option("--public-read", is_flag=True, help="Serve OGC API/STAC/CAP/HXL without a token.")
@click.option(
    "--max-file-mb", type=click.FloatRange(min=0.001), default=None, help="Largest file per package."
)
@click.option(
    "--max-org-gb", type=click.FloatRange(min=0.001), default=None, help="Storage quota per organisation."
)
@click.option(
    "--max-features", type=click.IntRange(min=1), default=None, help="Most damage features per package."
)
@click.pass_context
def serve(
    ctx: click.Context,
    data_dir: Path | None,
    database_url: str | None,
    host: str,
    port: int,
    workers: int,
    blob_url: str | None,
    s3_endpoint: str | None,
    s3_access_key: str | None,
    s3_secret_key: str | None,
    public_read: bool,
    max_file_mb: float | None,
    max_org_gb: float | None,
    max_features: int | None,
) -> None:
    """Serve the hub: uploads, OGC API Features, STAC, CAP, HXL and the web map.

    Access: /map, /static, /api, /conformance and /healthz are public; every other read endpoint needs
    a token of any role (or --public-read); uploads need an operator token.
    """
    import uvicorn

    from ..hub.app import create_app
    from ..hub.service import HubService

    config = _config(
        ctx,
        data_dir,
        database_url,
        blob_url=blob_url,
        s3_endpoint_url=s3_endpoint,
        s3_access_key=s3_access_key,
        s3_secret_key=s3_secret_key,
        public_read=public_read or None,
        max_file_bytes=int(max_file_mb * (1 << 20)) if max_file_mb else None,
        max_org_bytes=int(max_org_gb * (1 << 30)) if max_org_gb else None,
        max_features=max_features,
    )
    service = HubService(config)  # runs the migrations once, before any worker starts
    click.echo(
        f"uavops hub on http://{host}:{port}/ (data: {config.data_dir}, database: "
        f"{'PostgreSQL' if config.database_url else 'SQLite'}, map: http://{host}:{port}/map)",
        err=True,
    )
    if workers == 1:
        uvicorn.run(
            create_app(config, service=service),
            host=host,
            port=port,
            log_level="warning",
            timeout_keep_alive=30,
        )
        return
    service.close()
    os.environ[WORKER_CONFIG_ENV] = json.dumps(config.to_dict())
    uvicorn.run(
        "uavops.cli.hub:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_keep_alive=30,
    )


def worker_app() -> Any:
    """uvicorn factory for worker processes: the parent hands its config over in one variable."""
    from ..hub.app import create_app
    from ..hub.config import HubConfig

    return create_app(HubConfig.from_dict(json.loads(os.environ[WORKER_CONFIG_ENV])))


@cli.group()
def org() -> None:
    """Organisations (a country's emergency authority)."""


@org.command("add")
@click.argument("code")
@click.option("--name", default="", help="Full name, e.g. 'Ministry of Emergency Situations of Kyrgyzstan'.")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 code (default: the code's prefix).")
@data_dir_option
@database_url_option
@json_option
@click.pass_context
def org_add(
    ctx: click.Context,
    code: str,
    name: str,
    country: str | None,
    data_dir: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Add an organisation, e.g. KG-MChS."""
    row = _service(ctx, data_dir, database_url).add_org(code, name, country or code.split("-")[0])
    emit_json(row) if as_json else click.echo(row["code"])


@org.command("list")
@data_dir_option
@database_url_option
@json_option
@click.pass_context
def org_list(ctx: click.Context, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List organisations."""
    rows = _service(ctx, data_dir, database_url).list_orgs()
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['code']}\t{r['country']}\t{r['name']}")


@cli.group()
def token() -> None:
    """API tokens (shown once, stored hashed)."""


@token.command("create")
@click.option("--org", "org_code", default=None, help="Organisation code (required for operators).")
@click.option("--role", type=click.Choice(["operator", "coordinator", "admin"]), required=True)
@click.option("--label", default=None, help="Who holds the token, for the audit log.")
@click.option(
    "--expires-days", type=click.FloatRange(min=0), default=None, help="Validity in days (default: none)."
)
@data_dir_option
@database_url_option
@json_option
@click.pass_context
def token_create(
    ctx: click.Context,
    org_code: str | None,
    role: str,
    label: str | None,
    expires_days: float | None,
    data_dir: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Create a token and print it (the only time it is shown)."""
    out = _service(ctx, data_dir, database_url).create_token(
        org_code, role, label=label, expires_days=expires_days
    )
    emit_json(out) if as_json else click.echo(out["token"])


@token.command("list")
@data_dir_option
@database_url_option
@json_option
@click.pass_context
def token_list(ctx: click.Context, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List tokens (ids, roles, organisations; never the secrets)."""
    rows = _service(ctx, data_dir, database_url).list_tokens()
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            click.echo(
                f"{r['id']}\t{r['role']}\t{r['org_code'] or '-'}\t{'revoked' if r['revoked_at'] else 'active'}"
            )


@token.command("revoke")
@click.argument("token_id")
@data_dir_option
@database_url_option
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str, data_dir: Path | None, database_url: str | None) -> None:
    """Revoke a token by its id."""
    _service(ctx, data_dir, database_url).revoke_token(token_id)
    click.echo(f"revoked {token_id}")


@cli.group()
def event() -> None:
    """Events (incidents) that reports are filed under."""


@event.command("add")
@click.argument("event_id")
@click.option(
    "--type", "event_type", required=True, help="earthquake, flood, mudflow, ... (see package.EVENT_TYPES)."
)
@click.option("--name", default="", help="Human name, e.g. 'Bishkek earthquake May 2026'.")
@click.option("--countries", required=True, help="Affected countries, ISO alpha-2, comma-separated (KG,KZ).")
@click.option("--start", "start_date", required=True, help="Start date (YYYY-MM-DD or RFC 3339).")
@click.option("--end", "end_date", default=None, help="End date, if known.")
@click.option("--glide", default=None, help="GLIDE number, e.g. EQ-2026-000123-KGZ.")
@click.option("--gdacs", "gdacs_id", default=None, help="GDACS event id.")
@data_dir_option
@database_url_option
@json_option
@click.pass_context
def event_add(
    ctx: click.Context,
    event_id: str,
    event_type: str,
    name: str,
    countries: str,
    start_date: str,
    end_date: str | None,
    glide: str | None,
    gdacs_id: str | None,
    data_dir: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Add an event (one OGC API collection)."""
    row = _service(ctx, data_dir, database_url).add_event(
        event_id, event_type, name, countries.split(","), start_date, end_date, glide, gdacs_id
    )
    emit_json(row) if as_json else click.echo(row["id"])


@event.command("list")
@data_dir_option
@database_url_option
@json_option
@click.pass_context
def event_list(ctx: click.Context, data_dir: Path | None, database_url: str | None, as_json: bool) -> None:
    """List events."""
    rows = _service(ctx, data_dir, database_url).list_events()
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['id']}\t{r['type']}\t{','.join(r['countries'])}\t{r['start_date']}\t{r['name']}")

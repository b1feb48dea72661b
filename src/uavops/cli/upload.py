"""``uavops upload``: send a damage package to the coordination hub (resumable, with an outbox)."""

from __future__ import annotations

from pathlib import Path

import click

from .options import emit_json, get_settings, json_option


@click.command()
@click.argument("package", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--hub", "hub_url", default=None, help="Hub URL, e.g. http://127.0.0.1:8080 (default: $UAVOPS_HUB_URL)."
)
@click.option("--token", default=None, help="Operator API token (default: $UAVOPS_HUB_TOKEN).")
@click.option(
    "--mosaic",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Attach the orthomosaic (COG from uavops mosaic) the damage map was made from.",
)
@click.option(
    "--event",
    "event_id",
    default=None,
    help="Hub event id (e.g. 2026-KG-EQ-001) when package.json does not name one.",
)
@click.option("--flush", is_flag=True, help="Also send every package waiting in the outbox.")
@click.option("--queue-only", is_flag=True, help="Only put PACKAGE in the outbox; send later with --flush.")
@click.option(
    "--outbox",
    "outbox_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Outbox folder (default: $UAVOPS_OUTBOX_DIR or ~/.uavops/outbox).",
)
@click.option(
    "--chunk-mb",
    type=click.FloatRange(min=0.001, max=64),
    default=None,
    help="Fixed chunk size in MB (default: adaptive — starts at 2 MB, grows while chunks go through "
    "quickly, halves after each failure or timeout).",
)
@click.option(
    "--max-rate-kbps",
    type=click.FloatRange(min=1),
    default=None,
    help="Cap the upload rate (kilobytes per second) to share a thin link.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 1000),
    default=8,
    show_default=True,
    help="Consecutive failed attempts before giving up (the package stays queued).",
)
@click.option(
    "--backoff-s",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    help="First retry delay; doubles up to 30 s.",
)
@json_option
@click.pass_context
def cli(
    ctx: click.Context,
    package: Path | None,
    hub_url: str | None,
    token: str | None,
    mosaic: Path | None,
    event_id: str | None,
    flush: bool,
    queue_only: bool,
    outbox_dir: Path | None,
    chunk_mb: float | None,
    max_rate_kbps: float | None,
    retries: int,
    backoff_s: float,
    as_json: bool,
) -> None:
    """Upload a damage package (folder written by uavops damage, or its .tar/.zip) to the hub.

    Prints the report id. Interrupted uploads resume where they stopped; if the hub cannot be
    reached the package waits in the outbox and `uavops upload --flush` sends it later.
    """
    from ..errors import InputError
    from ..hub.client import HubUnreachableError, Outbox, UploadClient
    from ..progress import progress_bar

    settings = get_settings(ctx)
    outbox = Outbox(outbox_dir or settings.outbox_dir)
    if package is None and not flush:
        raise InputError("Name a package folder to upload, or pass --flush to send the outbox.")
    if queue_only:
        if package is None:
            raise InputError("--queue-only needs a package folder to queue.")
        entry = outbox.enqueue(package, mosaic=mosaic, event_id=event_id)
        emit_json({"queued": entry.package_id, "outbox": str(entry.folder)}) if as_json else click.echo(
            f"queued {entry.package_id} in {entry.folder}"
        )
        return
    hub_url = hub_url or settings.hub_url
    token = token or settings.hub_token
    if not hub_url:
        raise InputError("Which hub? Pass --hub http://HOST:PORT or set UAVOPS_HUB_URL.")
    if not token:
        raise InputError("An API token is needed; pass --token or set UAVOPS_HUB_TOKEN.")
    client = UploadClient(
        hub_url,
        token,
        chunk_bytes=int(chunk_mb * (1 << 20)) if chunk_mb else None,
        max_retries=retries,
        backoff_s=backoff_s,
        max_rate_bps=max_rate_kbps * 1000 if max_rate_kbps else None,
    )
    results: list[dict[str, object]] = []
    with client, progress_bar() as bar:

        def tracker(label: str):  # type: ignore[no-untyped-def]
            task = bar.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return update

        if package is not None:
            entry = outbox.enqueue(package, mosaic=mosaic, event_id=event_id)
            try:
                result = client.send(entry, tracker(f"upload {entry.package_id[:12]}"))
            except HubUnreachableError as exc:
                raise HubUnreachableError(
                    f"{exc}; the package waits in the outbox ({entry.folder}): run "
                    "'uavops upload --flush' when the link is back."
                ) from None
            outbox.remove(entry)
            results.append(
                {
                    "package_id": result.package_id,
                    "report_id": result.report_id,
                    "version": result.version,
                    "status": result.status,
                    "bytes_sent": result.bytes_sent,
                    "resumed_from": result.resumed_from,
                }
            )
        if flush:
            for entry, outcome in client.flush(outbox, lambda e: tracker(f"upload {e.package_id[:12]}")):
                if isinstance(outcome, Exception):
                    results.append({"package_id": entry.package_id, "error": str(outcome)})
                else:
                    results.append(
                        {
                            "package_id": outcome.package_id,
                            "report_id": outcome.report_id,
                            "version": outcome.version,
                            "status": outcome.status,
                            "bytes_sent": outcome.bytes_sent,
                            "resumed_from": outcome.resumed_from,
                        }
                    )
    if as_json:
        emit_json(results[0] if (package is not None and not flush) else results)
    else:
        for r in results:
            click.echo(r["report_id"] if "report_id" in r else f"{r['package_id']}: {r['error']}")
    failed = [r for r in results if "error" in r]
    if failed:
        from ..errors import UploadError

        raise UploadError(
            f"{len(failed)} queued package(s) were not delivered and stay in the outbox: {failed[0]['error']}"
        )

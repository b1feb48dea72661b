"""Options shared by several subcommands, defined once."""

from __future__ import annotations

import json
from typing import Any, Callable

import click

from ..config import Settings

__all__ = ["json_option", "out_option", "connect_option", "emit_json", "get_settings"]

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")


def out_option(default: str | None = None, help: str = "Output folder.") -> Callable[[Any], Any]:
    return click.option("--out", "out_dir", type=click.Path(file_okay=False), default=default,
                        required=default is None, help=help)


connect_option = click.option(
    "--connect", "connect", default="tcp:127.0.0.1:5760", show_default=True,
    help="MAVLink connection string (udp:HOST:PORT, udpin:, udpout:, tcp:HOST:PORT, or /dev/ttyUSB0,57600).",
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def get_settings(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj or {}
    settings = obj.get("settings")
    return settings if isinstance(settings, Settings) else Settings()

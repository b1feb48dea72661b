"""``uavops config validate``: check a settings file before a deployment relies on it."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from ..config import load_settings
from .options import emit_json


@click.group(name="config")
def cli() -> None:
    """Check the settings file."""


@cli.command("validate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def validate(path: Path) -> None:
    """Validate a settings file and print the resulting settings."""
    settings = load_settings(path, environ={})
    emit_json({k: (str(v) if v is not None else None) for k, v in asdict(settings).items()})

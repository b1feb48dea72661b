"""Settings: read once at the edge (CLI root or hub app factory) and passed down.

Library code never reads ``os.environ``; :func:`load_settings` is the one place that does.
Sources, later wins: built-in defaults, the TOML file (``--config`` or ``UAVOPS_CONFIG``),
``UAVOPS_*`` environment variables.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    """Typed, immutable settings shared by every stage."""

    sitl_bin: Path | None = None
    """ArduPilot SITL ``arducopter`` binary (``UAVOPS_SITL_BIN``)."""
    hub_url: str | None = None
    """Default hub for ``uavops upload`` (``UAVOPS_HUB_URL``)."""
    hub_token: str | None = None
    """Default API token for ``uavops upload`` (``UAVOPS_HUB_TOKEN``)."""
    outbox_dir: Path = field(default_factory=lambda: Path.home() / ".uavops" / "outbox")
    """Where packages wait while the hub is unreachable (``UAVOPS_OUTBOX_DIR``)."""
    hub_data_dir: Path | None = None
    """Hub data folder (``UAVOPS_HUB_DATA_DIR``)."""
    hub_database_url: str | None = None
    """``postgresql://…`` for a scaled hub (``UAVOPS_HUB_DATABASE_URL``); SQLite when unset."""
    log_level: str = "WARNING"


_PATH_FIELDS = {"sitl_bin", "outbox_dir", "hub_data_dir"}


def _coerce(name: str, value: Any) -> Any:
    if name in _PATH_FIELDS and value is not None:
        return Path(str(value)).expanduser()
    return value


def load_settings(config_path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from defaults, an optional TOML file and ``UAVOPS_*`` variables.

    Raises
    ------
    ConfigError
        The file is missing or not valid TOML, or it names an unknown setting.
    """
    env = os.environ if environ is None else environ
    known = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    path = config_path or (Path(env["UAVOPS_CONFIG"]) if env.get("UAVOPS_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"The settings file {path} does not exist; check the --config path.") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"The settings file {path} is not valid TOML ({exc}); fix that line.") from None
        section = data.get("uavops", data)
        for key, value in section.items():
            if key not in known:
                raise ConfigError(
                    f"The settings file {path} names an unknown setting '{key}'; "
                    f"known settings are: {', '.join(sorted(known))}."
                )
            values[key] = _coerce(key, value)
    for name in known:
        env_value = env.get(f"UAVOPS_{name.upper()}")
        if env_value:
            values[name] = _coerce(name, env_value)
    return Settings(**values)

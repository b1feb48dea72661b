"""Parameters: read all, set with read-back verification, .parm profiles and their diff.

The ``.parm`` format is ArduPilot's (Mission Planner/MAVProxy): one ``NAME value`` per line
(``NAME,value`` also accepted), ``#`` starts a comment.
"""

from __future__ import annotations

import math
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ParameterError
from .connection import MavConnection

__all__ = ["ParamClient", "ParamDiff", "read_parm_file", "format_parm", "diff_params", "values_equal"]

_NAME_RE = re.compile(r"^[A-Z0-9_]{1,16}$")
MAV_PARAM_TYPE_REAL32 = 9


def read_parm_file(path: str | Path) -> dict[str, float]:
    """Parse an ArduPilot .parm profile (InputError naming the bad line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"The parameter file {path} does not exist; check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"The parameter file {path} cannot be read ({exc}).") from None
    out: dict[str, float] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = re.split(r"[\s,]+", line)
        if len(parts) < 2 or not _NAME_RE.match(parts[0].upper()):
            raise InputError(f"Line {lineno} of {path} is not 'NAME value' ({raw.strip()!r}); fix or comment it out.")
        try:
            value = float(parts[1])
        except ValueError:
            raise InputError(f"Line {lineno} of {path}: {parts[1]!r} is not a number; fix the value.") from None
        out[parts[0].upper()] = value
    return out


def format_parm(values: dict[str, float]) -> str:
    lines = [f"{name} {_fmt(values[name])}" for name in sorted(values)]
    return "\n".join(lines) + "\n"


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.7g}"


def _f32(v: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", float(v)))[0])


def values_equal(a: float, b: float) -> bool:
    """Equal as the vehicle stores them (float32), with a little slack for printed values."""
    if math.isnan(a) or math.isnan(b):
        return False
    fa, fb = _f32(a), _f32(b)
    return fa == fb or abs(fa - fb) <= 1e-6 * max(1.0, abs(fa))


@dataclass(frozen=True)
class ParamDiff:
    name: str
    profile: float
    vehicle: float | None  # None: the vehicle has no such parameter

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "profile": self.profile, "vehicle": self.vehicle}


def diff_params(profile: dict[str, float], vehicle: dict[str, float]) -> list[ParamDiff]:
    """Profile entries whose vehicle value differs or is missing (sorted by name)."""
    out = []
    for name in sorted(profile):
        have = vehicle.get(name)
        if have is None or not values_equal(profile[name], have):
            out.append(ParamDiff(name, profile[name], have))
    return out


def _name(msg: Any) -> str:
    pid = msg.param_id
    if isinstance(pid, bytes):
        pid = pid.decode("ascii", "replace")
    return str(pid).rstrip("\x00")


class ParamClient:
    """Parameter microservice over one connection."""

    def __init__(self, conn: MavConnection, *, timeout_s: float = 1.0, retries: int = 5) -> None:
        self.conn = conn
        self.timeout_s = timeout_s
        self.retries = retries
        self.cache: dict[str, float] = {}

    def read_all(self, *, total_timeout_s: float = 60.0, progress: Any = None) -> dict[str, float]:
        """Every parameter (PARAM_REQUEST_LIST, then PARAM_REQUEST_READ by index for gaps)."""
        conn = self.conn
        ts, tc = conn.target_system, conn.target_component
        values: dict[int, tuple[str, float]] = {}
        count: int | None = None
        deadline = time.monotonic() + total_timeout_s
        with conn.subscribe("PARAM_VALUE") as sub:
            conn.send(conn.factory.param_request_list_encode(ts, tc))
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                msg = sub.get(0.2)
                if msg is not None:
                    quiet_since = time.monotonic()
                    count = int(msg.param_count)
                    if 0 <= msg.param_index < 65535:
                        values[int(msg.param_index)] = (_name(msg), float(msg.param_value))
                    if progress is not None:
                        progress(len(values), count)
                    if count is not None and len(values) >= count:
                        break
                    continue
                if count is None:
                    if time.monotonic() - quiet_since > self.timeout_s * 3:
                        conn.send(conn.factory.param_request_list_encode(ts, tc))
                        quiet_since = time.monotonic()
                    continue
                if time.monotonic() - quiet_since > 0.5:
                    missing = [i for i in range(count) if i not in values][:20]
                    for idx in missing:
                        conn.send(conn.factory.param_request_read_encode(ts, tc, b"", idx))
                    quiet_since = time.monotonic()
        if count is None or len(values) < count:
            got = len(values)
            raise ParameterError(f"Only {got} of {count if count is not None else '?'} parameters arrived within "
                                 f"{total_timeout_s:g} s; check the link and try again.")
        self.cache = {name: value for name, value in values.values()}
        return dict(self.cache)

    def get(self, name: str) -> float:
        """One parameter by name (ParameterError if the vehicle has none such)."""
        conn = self.conn
        name = name.upper()
        with conn.subscribe("PARAM_VALUE", lambda m: _name(m) == name) as sub:
            for _ in range(self.retries + 1):
                conn.send(conn.factory.param_request_read_encode(conn.target_system, conn.target_component,
                                                                 name.encode(), -1))
                msg = sub.get(self.timeout_s)
                if msg is not None:
                    self.cache[name] = float(msg.param_value)
                    return float(msg.param_value)
        raise ParameterError(f"The vehicle did not report parameter {name}; check the name (it may not exist "
                             "on this firmware) and the link.")

    def set(self, name: str, value: float) -> float:
        """Set and read back; ParameterError if the vehicle keeps a different value."""
        conn = self.conn
        name = name.upper()
        if not _NAME_RE.match(name):
            raise ParameterError(f"{name!r} is not a valid ArduPilot parameter name.")
        ptype = MAV_PARAM_TYPE_REAL32
        with conn.subscribe("PARAM_VALUE", lambda m: _name(m) == name) as sub:
            last: float | None = None
            for _ in range(self.retries + 1):
                conn.send(conn.factory.param_set_encode(conn.target_system, conn.target_component, name.encode(),
                                                        float(value), ptype))
                msg = sub.get(self.timeout_s)
                if msg is None:
                    continue
                last = float(msg.param_value)
                if values_equal(last, value):
                    self.cache[name] = last
                    return last
                # The first echo may be the old value; wait for one more before retrying.
                msg = sub.get(self.timeout_s / 2)
                if msg is not None and values_equal(float(msg.param_value), value):
                    self.cache[name] = float(msg.param_value)
                    return float(msg.param_value)
        if last is None:
            raise ParameterError(f"The vehicle did not confirm {name}={_fmt(value)}; it may not have this "
                                 "parameter (check the firmware) or the link is poor.")
        raise ParameterError(f"The vehicle kept {name}={_fmt(last)} instead of {_fmt(value)}; the value is "
                             "probably outside its allowed range.")

    def apply(self, profile: dict[str, float], *, known: dict[str, float] | None = None) -> list[ParamDiff]:
        """Set every profile entry that differs; returns what was changed."""
        current = known if known is not None else self.read_all()
        changes = diff_params(profile, current)
        for change in changes:
            if change.vehicle is None:
                raise ParameterError(f"The vehicle has no parameter {change.name}; remove it from the profile or "
                                     "check the firmware type.")
        for change in changes:
            self.set(change.name, change.profile)
        return changes

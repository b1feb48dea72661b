"""Reading the capture log (``flight/captures.csv``) written by ``uavops fly``.

Used when photos carry no GPS (a camera triggered by the autopilot without its own receiver) or to
override EXIF poses with the autopilot's. The reader is deliberately tolerant, because logs come
from different firmware and hand edits:

* the delimiter is sniffed (comma, semicolon, tab);
* column names are matched case-insensitively against aliases: the photo is identified by a
  file-name column (``image``, ``file``, ``filename``, ``photo``, ``name``, ``path``) or else by a
  1-based or 0-based index column (``index``, ``image_index``, ``seq``, ``n``) matched against the
  photos in name order; position by ``lat``/``lat_deg``/``latitude`` and ``lon``/``lon_deg``/
  ``lng``/``longitude``; height above ground by ``rel_alt_m``/``alt_rel_m``/``relative_alt_m``/
  ``agl_m``/``alt_agl_m``, else ``alt``/``alt_m`` (taken as above the take-off point, as
  ArduPilot's CAM message reports it); AMSL by ``alt_amsl_m``/``amsl_m``; attitude by
  ``roll``/``pitch``/``yaw`` (with or without ``_deg``, ``heading`` for yaw);
* a pitch near 0 is read as the body attitude (MAVLink ATTITUDE) of a camera fixed to the body
  looking down — the convention of uavops' virtual camera — and turned into DJI gimbal angles
  (pitch − 90°, roll); a pitch near −90° is taken as a DJI-style gimbal pitch as it is;
* blank cells and unparsable numbers are ignored, not fatal.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["CapturePose", "read_captures"]

_NAME = ("image", "file", "filename", "file_name", "photo", "name", "path", "image_name")
_INDEX = ("index", "image_index", "idx", "seq", "n", "photo_index", "capture_index", "img")
_LAT = ("lat", "lat_deg", "latitude", "latitude_deg")
_LON = ("lon", "lon_deg", "lng", "longitude", "longitude_deg")
_REL = ("rel_alt_m", "alt_rel_m", "relative_alt_m", "relative_alt", "rel_alt", "agl_m", "alt_agl_m", "alt_agl")
_ALT = ("alt", "alt_m", "altitude", "altitude_m")
_AMSL = ("alt_amsl_m", "amsl_m", "alt_amsl", "alt_msl_m")
_ROLL = ("roll", "roll_deg", "gimbal_roll_deg")
_PITCH = ("pitch", "pitch_deg", "gimbal_pitch_deg")
_YAW = ("yaw", "yaw_deg", "heading", "heading_deg", "gimbal_yaw_deg")
_TIME = ("time", "time_utc", "timestamp", "utc")


@dataclass(frozen=True)
class CapturePose:
    """One row of the capture log."""

    name: str | None
    index: int | None
    lat_deg: float
    lon_deg: float
    rel_alt_m: float | None
    alt_amsl_m: float | None
    roll_deg: float | None
    pitch_deg: float | None
    yaw_deg: float | None
    time: str | None


def _pick(header: dict[str, str], aliases: tuple[str, ...]) -> str | None:
    for alias in aliases:
        if alias in header:
            return header[alias]
    return None


def _num(row: dict[str, str], col: str | None) -> float | None:
    if col is None:
        return None
    raw = (row.get(col) or "").strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_captures(path: Path) -> list[CapturePose]:
    """Parse a capture log; see the module docstring for the accepted columns.

    Raises
    ------
    InputError
        The file is missing, empty, or has no latitude/longitude columns.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"The capture log {path} does not exist; check the --captures path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"The capture log {path} cannot be read ({exc}); give the CSV written by uavops fly.") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if len(lines) < 2:
        raise InputError(f"The capture log {path} has no capture rows; give the CSV written by uavops fly.")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    reader = csv.DictReader(lines, dialect=dialect)
    header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
    lat_c, lon_c = _pick(header, _LAT), _pick(header, _LON)
    if lat_c is None or lon_c is None:
        raise InputError(f"The capture log {path} has no lat/lon columns (found: {', '.join(header) or 'none'}); "
                         "give the CSV written by uavops fly.")
    name_c, idx_c = _pick(header, _NAME), _pick(header, _INDEX)
    rel_c, alt_c, amsl_c = _pick(header, _REL), _pick(header, _ALT), _pick(header, _AMSL)
    roll_c, pitch_c, yaw_c = _pick(header, _ROLL), _pick(header, _PITCH), _pick(header, _YAW)
    time_c = _pick(header, _TIME)
    out: list[CapturePose] = []
    for row in reader:
        lat, lon = _num(row, lat_c), _num(row, lon_c)
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            continue
        rel = _num(row, rel_c)
        if rel is None:
            rel = _num(row, alt_c)
        idx = _num(row, idx_c)
        name = (row.get(name_c) or "").strip() if name_c else None
        out.append(CapturePose(name=Path(name).name if name else None, index=int(idx) if idx is not None else None,
                               lat_deg=lat, lon_deg=lon, rel_alt_m=rel, alt_amsl_m=_num(row, amsl_c),
                               roll_deg=_num(row, roll_c), pitch_deg=_num(row, pitch_c), yaw_deg=_num(row, yaw_c),
                               time=(row.get(time_c) or "").strip() or None if time_c else None))
    if not out:
        raise InputError(f"The capture log {path} has no row with a valid latitude and longitude; check the file.")
    return out

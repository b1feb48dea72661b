"""What a flight leaves on disk: flight.json, captures.csv/.geojson, ledger.json.

Everything is written atomically (a crash never leaves half a file) and often, because
``uavops fly --resume`` must be able to continue from disk alone after the ground station
itself died. The capture log is the truth about photos: one row per CAMERA_FEEDBACK (an ACK
of a camera command proves nothing). The coverage ledger compares it with the plan.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import atomic_write, read_json, write_json
from ..mission import Mission, PlannedPhoto

__all__ = ["Capture", "CaptureLog", "Ledger", "build_ledger", "FlightRecord", "photo_match_radius_m",
           "CAPTURE_FIELDS", "FLIGHT_JSON", "CAPTURES_CSV", "CAPTURES_GEOJSON", "LEDGER_JSON", "SESSION_TLOG",
           "PLAN_COPY"]

FLIGHT_JSON = "flight.json"
CAPTURES_CSV = "captures.csv"
CAPTURES_GEOJSON = "captures.geojson"
LEDGER_JSON = "ledger.json"
SESSION_TLOG = "session.tlog"
PLAN_COPY = "plan.plan"

CAPTURE_FIELDS = ["time_utc", "time_usec", "lat_deg", "lon_deg", "alt_msl_m", "alt_rel_m", "roll_deg", "pitch_deg",
                  "yaw_deg", "image_index", "sortie", "vehicle"]


def _utc(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Capture:
    """One CAMERA_FEEDBACK: a photo the vehicle says it took, where and how it was oriented."""

    time_utc: str
    time_usec: int
    lat_deg: float
    lon_deg: float
    alt_msl_m: float
    alt_rel_m: float
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    image_index: int
    sortie: int = 0
    vehicle: int = 0

    @classmethod
    def from_feedback(cls, msg: Any, *, sortie: int = 0, vehicle: int = 0) -> "Capture":
        usec = int(msg.time_usec)
        ts = usec / 1e6 if usec > 1e15 else time.time()  # GPS-synchronised UTC when the vehicle has it
        return cls(time_utc=_utc(ts), time_usec=usec, lat_deg=msg.lat * 1e-7, lon_deg=msg.lng * 1e-7,
                   alt_msl_m=float(msg.alt_msl), alt_rel_m=float(msg.alt_rel), roll_deg=float(msg.roll),
                   pitch_deg=float(msg.pitch), yaw_deg=float(msg.yaw), image_index=int(msg.img_idx),
                   sortie=sortie, vehicle=vehicle)


class CaptureLog:
    """Captures of a flight folder, rewritten atomically as CSV and GeoJSON (throttled)."""

    def __init__(self, out_dir: Path, *, flush_interval_s: float = 0.5) -> None:
        self.out_dir = Path(out_dir)
        self.captures: list[Capture] = []
        self._keys: set[tuple[int, int, int]] = set()
        self._lock = threading.Lock()
        self._last_flush = 0.0
        self.flush_interval_s = flush_interval_s
        existing = self.out_dir / CAPTURES_CSV
        if existing.exists():
            for cap in read_captures(existing):
                self._add(cap)

    def _add(self, cap: Capture) -> bool:
        key = (cap.vehicle, cap.time_usec, cap.image_index)
        if key in self._keys:
            return False
        self._keys.add(key)
        self.captures.append(cap)
        return True

    def add(self, cap: Capture) -> None:
        """Record a capture; captures.csv is rewritten at once (a crash must not lose a photo),
        the GeoJSON copy at most every ``flush_interval_s``."""
        with self._lock:
            if not self._add(cap):
                return
            caps = list(self.captures)
            write_captures(self.out_dir, caps, geojson=False)
            due = time.monotonic() - self._last_flush > self.flush_interval_s
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            caps = list(self.captures)
            self._last_flush = time.monotonic()
            write_captures(self.out_dir, caps)

    def __len__(self) -> int:
        return len(self.captures)


def write_captures(out_dir: Path, caps: list[Capture], *, geojson: bool = True) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CAPTURE_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in caps:
        writer.writerow(asdict(c))
    with atomic_write(Path(out_dir) / CAPTURES_CSV) as fh:
        fh.write(buf.getvalue())
    if not geojson:
        return
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [c.lon_deg, c.lat_deg, c.alt_msl_m]},
                 "properties": {k: v for k, v in asdict(c).items() if k not in ("lat_deg", "lon_deg")}}
                for c in caps]
    write_json(Path(out_dir) / CAPTURES_GEOJSON, {"type": "FeatureCollection", "features": features})


def read_captures(path: Path) -> list[Capture]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        return []
    out = []
    for row in rows:
        try:
            out.append(Capture(row["time_utc"], int(row["time_usec"]), float(row["lat_deg"]), float(row["lon_deg"]),
                               float(row["alt_msl_m"]), float(row["alt_rel_m"]), float(row["roll_deg"]),
                               float(row["pitch_deg"]), float(row["yaw_deg"]), int(row["image_index"]),
                               int(row.get("sortie") or 0), int(row.get("vehicle") or 0)))
        except (KeyError, ValueError) as exc:
            raise InputError(f"{path} has an unreadable row ({exc}); it was not written by uavops fly.") from None
    return out


# --- coverage ledger -----------------------------------------------------------------------
def _dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    k = math.pi / 180.0
    x = (lon2 - lon1) * k * math.cos((lat1 + lat2) * 0.5 * k)
    y = (lat2 - lat1) * k
    return 6371008.8 * math.hypot(x, y)


def photo_match_radius_m(photos: list[PlannedPhoto]) -> float:
    """Half the planned spacing between neighbouring photos of a leg (at least 3 m)."""
    gaps = []
    by_leg: dict[int, list[PlannedPhoto]] = {}
    for p in photos:
        by_leg.setdefault(p.leg, []).append(p)
    for leg_photos in by_leg.values():
        leg_photos.sort(key=lambda p: p.photo_id)
        for a, b in zip(leg_photos, leg_photos[1:]):
            gaps.append(_dist_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg))
    if not gaps:
        return 10.0
    gaps.sort()
    return max(3.0, 0.55 * gaps[len(gaps) // 2])


@dataclass
class Ledger:
    """Planned photos not (yet) confirmed by a CAMERA_FEEDBACK near their position."""

    planned: int
    taken: int
    missing: list[PlannedPhoto]
    match_radius_m: float
    captures: int
    last_completed_leg: int | None = None
    completed_legs: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"planned_photos": self.planned, "planned_photos_taken": self.taken, "captures": self.captures,
                "missing_count": len(self.missing), "match_radius_m": round(self.match_radius_m, 2),
                "last_completed_leg": self.last_completed_leg, "completed_legs": self.completed_legs,
                "missing": [asdict(p) for p in self.missing]}


def build_ledger(photos: list[PlannedPhoto], captures: list[Capture], *, radius_m: float | None = None,
                 vehicle: int | None = None) -> Ledger:
    """Match captures to planned photos by position (grid-bucketed, so thousands are cheap)."""
    radius = photo_match_radius_m(photos) if radius_m is None else radius_m
    caps = [c for c in captures if vehicle is None or c.vehicle == vehicle]
    cell = radius / 111_000.0
    grid: dict[tuple[int, int], list[Capture]] = {}
    for c in caps:
        grid.setdefault((int(c.lat_deg // cell), int(c.lon_deg // cell)), []).append(c)
    missing = []
    for p in photos:
        ci, cj = int(p.lat_deg // cell), int(p.lon_deg // cell)
        found = False
        span = 1 + int(1 / max(math.cos(math.radians(p.lat_deg)), 0.2))
        for di in (-1, 0, 1):
            for dj in range(-span, span + 1):
                for c in grid.get((ci + di, cj + dj), ()):
                    if _dist_m(p.lat_deg, p.lon_deg, c.lat_deg, c.lon_deg) <= radius:
                        found = True
                        break
                if found:
                    break
            if found:
                break
        if not found:
            missing.append(p)
    return Ledger(len(photos), len(photos) - len(missing), missing, radius, len(caps))


# --- flight.json ---------------------------------------------------------------------------
class FlightRecord:
    """flight.json: the state of one flight folder, saved atomically after every change."""

    def __init__(self, out_dir: Path, data: dict[str, Any] | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.data: dict[str, Any] = data or {}
        self._lock = threading.Lock()
        self._last_save = 0.0

    @classmethod
    def load(cls, out_dir: Path) -> "FlightRecord":
        path = Path(out_dir) / FLIGHT_JSON
        if not path.exists():
            raise InputError(f"{out_dir} holds no {FLIGHT_JSON}; give the --out folder of an earlier `uavops fly`.")
        data = read_json(path, "flight record")
        if not isinstance(data, dict) or "plan_hash" not in data:
            raise InputError(f"{path} is not a uavops flight record; give the --out folder of an earlier `uavops fly`.")
        return cls(out_dir, data)

    def update(self, *, save: bool = True, force: bool = True, **fields: Any) -> None:
        with self._lock:
            self.data.update(fields)
            self.data["updated_utc"] = _utc()
        if save and (force or time.monotonic() - self._last_save > 0.5):
            self.save()

    def save(self) -> None:
        with self._lock:
            snapshot = json.loads(json.dumps(self.data, default=_json_default))
            self._last_save = time.monotonic()
        write_json(self.out_dir / FLIGHT_JSON, snapshot)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return str(obj)


def mission_photos_for(mission: Mission) -> list[PlannedPhoto]:
    return list(mission.photos)

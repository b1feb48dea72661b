"""The mission model shared by the planner, the link layer, the simulator and the flight stage.

One :class:`MissionItem` is one MAVLink mission item with its seven parameters kept as
MAVLink's COMMAND_LONG names them (``param5``/``param6``/``param7`` = lat/lon/alt for
navigation commands in a global frame). The conversion to the wire's MISSION_ITEM_INT
(``x``/``y`` = degE7 for global frames, the raw param5/param6 for MAV_FRAME_MISSION, as
ArduPilot does) happens here and nowhere else.

A :class:`Mission` is what one vehicle flies in one sortie: home, mission items (seq 1..N
on the wire; seq 0 is home, which ArduPilot replaces), fence items and rally items, plus
the survey metadata the flight stage needs for its coverage ledger (planned photos and
survey legs). File formats (.plan, .waypoints) live in :mod:`uavops.plan.formats`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

__all__ = [
    "MAV_FRAME",
    "MAV_CMD",
    "MAV_MISSION_TYPE",
    "MissionItem",
    "HomePosition",
    "PlannedPhoto",
    "SurveyLeg",
    "Mission",
    "is_global_frame",
    "items_match",
]


class MAV_FRAME:  # noqa: N801 - MAVLink's own enum name
    GLOBAL = 0
    LOCAL_NED = 1
    MISSION = 2
    GLOBAL_RELATIVE_ALT = 3
    GLOBAL_INT = 5
    GLOBAL_RELATIVE_ALT_INT = 6
    GLOBAL_TERRAIN_ALT = 10
    GLOBAL_TERRAIN_ALT_INT = 11


class MAV_CMD:  # noqa: N801
    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    CONDITION_DELAY = 112
    CONDITION_YAW = 115
    DO_SET_MODE = 176
    DO_JUMP = 177
    DO_CHANGE_SPEED = 178
    DO_SET_HOME = 179
    DO_SET_SERVO = 183
    DO_LAND_START = 189
    DO_DIGICAM_CONTROL = 203
    DO_MOUNT_CONTROL = 205
    DO_SET_CAM_TRIGG_DIST = 206
    DO_FENCE_ENABLE = 207
    DO_GIMBAL_MANAGER_PITCHYAW = 1000
    IMAGE_START_CAPTURE = 2000
    IMAGE_STOP_CAPTURE = 2001
    NAV_FENCE_RETURN_POINT = 5000
    NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
    NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
    NAV_FENCE_CIRCLE_INCLUSION = 5003
    NAV_FENCE_CIRCLE_EXCLUSION = 5004
    NAV_RALLY_POINT = 5100


class MAV_MISSION_TYPE:  # noqa: N801
    MISSION = 0
    FENCE = 1
    RALLY = 2


_GLOBAL_FRAMES = {
    MAV_FRAME.GLOBAL,
    MAV_FRAME.GLOBAL_RELATIVE_ALT,
    MAV_FRAME.GLOBAL_INT,
    MAV_FRAME.GLOBAL_RELATIVE_ALT_INT,
    MAV_FRAME.GLOBAL_TERRAIN_ALT,
    MAV_FRAME.GLOBAL_TERRAIN_ALT_INT,
}


def is_global_frame(frame: int) -> bool:
    """True where x/y are latitude/longitude (scaled by 1e7 on the wire)."""
    return frame in _GLOBAL_FRAMES


@dataclass(frozen=True)
class MissionItem:
    """One mission/fence/rally item, independent of its sequence number."""

    command: int
    frame: int = MAV_FRAME.GLOBAL_RELATIVE_ALT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    param5: float = 0.0  # latitude (deg) for global frames, raw otherwise
    param6: float = 0.0  # longitude (deg) for global frames, raw otherwise
    param7: float = 0.0  # altitude (m) for global frames, raw otherwise
    autocontinue: int = 1
    mission_type: int = MAV_MISSION_TYPE.MISSION

    # --- convenient names -------------------------------------------------------------
    @property
    def lat_deg(self) -> float:
        return self.param5

    @property
    def lon_deg(self) -> float:
        return self.param6

    @property
    def alt_m(self) -> float:
        return self.param7

    @property
    def params(self) -> tuple[float, float, float, float, float, float, float]:
        return (self.param1, self.param2, self.param3, self.param4, self.param5, self.param6, self.param7)

    @property
    def is_nav_with_position(self) -> bool:
        return is_global_frame(self.frame) and self.command in {
            MAV_CMD.NAV_WAYPOINT, MAV_CMD.NAV_TAKEOFF, MAV_CMD.NAV_LAND, MAV_CMD.NAV_LOITER_TIME,
            MAV_CMD.NAV_LOITER_TURNS, MAV_CMD.NAV_LOITER_UNLIM, MAV_CMD.NAV_RALLY_POINT,
            MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
            MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION, MAV_CMD.NAV_FENCE_CIRCLE_EXCLUSION,
            MAV_CMD.NAV_FENCE_RETURN_POINT,
        }

    # --- wire conversion ---------------------------------------------------------------
    def to_int_fields(self) -> dict[str, Any]:
        """Fields of MISSION_ITEM_INT (without seq/target ids/current)."""
        if is_global_frame(self.frame):
            x = int(round(self.param5 * 1e7))
            y = int(round(self.param6 * 1e7))
        else:
            x = int(round(self.param5))
            y = int(round(self.param6))
        return {
            "frame": self.frame,
            "command": self.command,
            "autocontinue": self.autocontinue,
            "param1": float(self.param1),
            "param2": float(self.param2),
            "param3": float(self.param3),
            "param4": float(self.param4),
            "x": x,
            "y": y,
            "z": float(self.param7),
            "mission_type": self.mission_type,
        }

    @classmethod
    def from_int_fields(cls, *, frame: int, command: int, param1: float, param2: float, param3: float,
                        param4: float, x: int, y: int, z: float, autocontinue: int = 1,
                        mission_type: int = 0, **_: Any) -> "MissionItem":
        """Inverse of :meth:`to_int_fields` (extra MAVLink fields such as seq are ignored)."""
        scale = 1e-7 if is_global_frame(frame) else 1.0
        return cls(command=int(command), frame=int(frame), param1=float(param1), param2=float(param2),
                   param3=float(param3), param4=float(param4), param5=x * scale, param6=y * scale,
                   param7=float(z), autocontinue=int(autocontinue), mission_type=int(mission_type))

    @classmethod
    def from_float_fields(cls, *, frame: int, command: int, param1: float, param2: float, param3: float,
                          param4: float, x: float, y: float, z: float, autocontinue: int = 1,
                          mission_type: int = 0, **_: Any) -> "MissionItem":
        """From the legacy MISSION_ITEM (float x/y, degrees for global frames)."""
        return cls(command=int(command), frame=int(frame), param1=float(param1), param2=float(param2),
                   param3=float(param3), param4=float(param4), param5=float(x), param6=float(y),
                   param7=float(z), autocontinue=int(autocontinue), mission_type=int(mission_type))

    def with_frame(self, frame: int) -> "MissionItem":
        return replace(self, frame=frame)


def _close(a: float, b: float, tol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return abs(a - b) <= tol


def items_match(a: MissionItem, b: MissionItem, *, pos_tol_deg: float = 2e-7, alt_tol_m: float = 0.01,
                param_tol: float = 1e-4) -> bool:
    """Whether a downloaded item equals an uploaded one within wire precision.

    Tolerances cover the degE7 rounding and float32 of MISSION_ITEM_INT; frames INT/non-INT
    variants are treated as the same frame because autopilots may report either.
    """
    norm = {MAV_FRAME.GLOBAL_INT: MAV_FRAME.GLOBAL, MAV_FRAME.GLOBAL_RELATIVE_ALT_INT: MAV_FRAME.GLOBAL_RELATIVE_ALT,
            MAV_FRAME.GLOBAL_TERRAIN_ALT_INT: MAV_FRAME.GLOBAL_TERRAIN_ALT}
    if a.command != b.command or norm.get(a.frame, a.frame) != norm.get(b.frame, b.frame):
        return False
    if a.mission_type != b.mission_type:
        return False
    for pa, pb in zip(a.params[:4], b.params[:4]):
        if not _close(pa, pb, param_tol * max(1.0, abs(pa))):
            return False
    if is_global_frame(a.frame):
        return (_close(a.param5, b.param5, pos_tol_deg) and _close(a.param6, b.param6, pos_tol_deg)
                and _close(a.param7, b.param7, alt_tol_m))
    return (_close(a.param5, b.param5, max(1.0, param_tol)) and _close(a.param6, b.param6, max(1.0, param_tol))
            and _close(a.param7, b.param7, param_tol * max(1.0, abs(a.param7))))


@dataclass(frozen=True)
class HomePosition:
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float = 0.0


@dataclass(frozen=True)
class PlannedPhoto:
    """A photo the plan expects: the flight stage's coverage ledger is built from these."""

    photo_id: int
    lat_deg: float
    lon_deg: float
    alt_m: float  # in the mission's altitude frame (relative to home unless terrain-following)
    leg: int  # survey leg (transect segment) index within the whole plan
    sortie: int = 0
    vehicle: int = 0


@dataclass(frozen=True)
class SurveyLeg:
    """One straight survey segment: mission items ``start_seq``..``end_seq`` (wire seq, home = 0)."""

    leg: int
    start_seq: int
    end_seq: int
    start_lat_deg: float
    start_lon_deg: float
    end_lat_deg: float
    end_lon_deg: float
    sortie: int = 0
    vehicle: int = 0


@dataclass
class Mission:
    """What one vehicle flies in one sortie."""

    home: HomePosition
    items: list[MissionItem] = field(default_factory=list)
    fence: list[MissionItem] = field(default_factory=list)
    rally: list[MissionItem] = field(default_factory=list)
    photos: list[PlannedPhoto] = field(default_factory=list)
    legs: list[SurveyLeg] = field(default_factory=list)
    cruise_speed_mps: float | None = None
    hover_speed_mps: float | None = None
    sortie: int = 0
    vehicle: int = 0
    name: str = "mission"

    def wire_items(self, mission_type: int = MAV_MISSION_TYPE.MISSION) -> list[MissionItem]:
        """Items as uploaded: for the mission type, item 0 is a home waypoint (ArduPilot replaces it)."""
        if mission_type == MAV_MISSION_TYPE.MISSION:
            home = MissionItem(command=MAV_CMD.NAV_WAYPOINT, frame=MAV_FRAME.GLOBAL, param5=self.home.lat_deg,
                               param6=self.home.lon_deg, param7=self.home.alt_amsl_m)
            return [home, *self.items]
        if mission_type == MAV_MISSION_TYPE.FENCE:
            return list(self.fence)
        if mission_type == MAV_MISSION_TYPE.RALLY:
            return list(self.rally)
        raise ValueError(f"unknown mission type {mission_type}")

    def content_hash(self) -> str:
        """SHA-256 of the mission's items, fence and rally: identifies a plan in flight logs."""
        payload = {
            "home": asdict(self.home),
            "items": [asdict(i) for i in self.items],
            "fence": [asdict(i) for i in self.fence],
            "rally": [asdict(i) for i in self.rally],
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

"""Mission, fence and rally storage with ArduPilot's AP_Mission conversions.

Items are kept the way AP_Mission keeps them, so what a ground station reads back is what
ArduPilot would return: positions rounded to degE7 and centimetres, frames reduced to
GLOBAL / GLOBAL_RELATIVE_ALT / GLOBAL_TERRAIN_ALT for commands stored as a location and frame 0
otherwise, and only the parameters ArduCopter stores for each command. Item 0 of the
mission is home and is always read back as the current home.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..mission import MAV_CMD, MAV_FRAME, MAV_MISSION_TYPE, MissionItem

__all__ = ["LOCATION_COMMANDS", "MAV_MISSION_RESULT", "SUPPORTED_MISSION_COMMANDS", "FENCE_COMMANDS", "to_stored", "MissionStore",
           "NAV_COMMANDS", "is_nav_command"]


class MAV_MISSION_RESULT:  # noqa: N801
    ACCEPTED = 0
    ERROR = 1
    UNSUPPORTED_FRAME = 2
    UNSUPPORTED = 3
    NO_SPACE = 4
    INVALID = 5
    INVALID_PARAM1 = 6
    INVALID_PARAM5_X = 11
    INVALID_PARAM6_Y = 12
    INVALID_SEQUENCE = 13
    DENIED = 14
    OPERATION_CANCELLED = 15


# commands AP_Mission stores as a location (x/y/z are lat/lon/alt)
LOCATION_COMMANDS = {16, 17, 18, 19, 21, 22, 30, 31, 82, 92, 179, 189, 191, 195, 201, 84, 85, 94}
# per command: which of param1..4 ArduCopter keeps (others read back as 0); None = all four
_KEPT_PARAMS: dict[int, tuple[int, ...]] = {
    16: (1,), 17: (), 18: (1, 3), 19: (1, 3, 4), 20: (), 21: (1, 4), 22: (1,), 82: (1,), 92: (1,), 93: (1, 2, 3, 4),
    112: (1,), 114: (1,), 115: (1, 2, 3, 4), 177: (1, 2), 178: (1, 2, 3), 179: (1,), 181: (1, 2), 183: (1, 2),
    184: (1, 2, 3, 4), 189: (), 201: (), 195: (), 203: (1, 2, 3, 4), 205: (1, 2, 3), 206: (1, 3), 207: (1,),
    2000: (1, 2, 3, 4), 2001: (1,), 1000: (1, 2, 3, 4), 211: (1, 2), 2500: (1,), 2501: (1,), 222: (1, 2, 3, 4),
    30: (), 31: (1, 2, 4), 208: (1,), 202: (1, 2, 3, 4),
}
# non-location commands whose x/y/z AP keeps raw (MAV_FRAME_MISSION style)
_RAW_XYZ = {203: (True, True, False), 205: (False, False, True), 1000: (True, False, True), 2000: (False, False, False)}

NAV_COMMANDS = {16, 17, 18, 19, 20, 21, 22, 30, 31, 82, 84, 85, 92, 93, 94, 213}
SUPPORTED_MISSION_COMMANDS = set(_KEPT_PARAMS) | NAV_COMMANDS
FENCE_COMMANDS = {MAV_CMD.NAV_FENCE_RETURN_POINT, MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                  MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION, MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION,
                  MAV_CMD.NAV_FENCE_CIRCLE_EXCLUSION}

_FRAME_NORMAL = {MAV_FRAME.GLOBAL: MAV_FRAME.GLOBAL, MAV_FRAME.GLOBAL_INT: MAV_FRAME.GLOBAL,
                 MAV_FRAME.GLOBAL_RELATIVE_ALT: MAV_FRAME.GLOBAL_RELATIVE_ALT,
                 MAV_FRAME.GLOBAL_RELATIVE_ALT_INT: MAV_FRAME.GLOBAL_RELATIVE_ALT,
                 MAV_FRAME.GLOBAL_TERRAIN_ALT: MAV_FRAME.GLOBAL_TERRAIN_ALT,
                 MAV_FRAME.GLOBAL_TERRAIN_ALT_INT: MAV_FRAME.GLOBAL_TERRAIN_ALT}


def is_nav_command(command: int) -> bool:
    return command in NAV_COMMANDS or command < 95


def _f32(x: float) -> float:
    import struct

    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def _alt_cm(alt_m: float) -> int:
    """AP_Mission stores altitude as int32 centimetres computed in float32 (truncating)."""
    import numpy as np

    return int(np.float32(alt_m) * np.float32(100.0))


def to_stored(item: MissionItem) -> tuple[int, MissionItem | None]:
    """Convert an uploaded mission item as AP_Mission::mavlink_int_to_mission_cmd does.

    Returns (MAV_MISSION_RESULT, stored item or None).
    """
    cmd = item.command
    if cmd not in SUPPORTED_MISSION_COMMANDS:
        return MAV_MISSION_RESULT.UNSUPPORTED, None
    keep = _KEPT_PARAMS.get(cmd, (1, 2, 3, 4))
    p = [item.param1, item.param2, item.param3, item.param4]
    params = [_f32(p[i]) if (i + 1) in keep else 0.0 for i in range(4)]
    if cmd in LOCATION_COMMANDS:
        frame = _FRAME_NORMAL.get(item.frame)
        if frame is None:
            if item.frame == MAV_FRAME.MISSION:  # AP_Mission treats it as absolute altitude
                frame = MAV_FRAME.GLOBAL
            else:
                return MAV_MISSION_RESULT.UNSUPPORTED_FRAME, None
        lat, lon = item.param5, item.param6
        if not (-90 <= lat <= 90) or math.isnan(lat):
            return MAV_MISSION_RESULT.INVALID_PARAM5_X, None
        if not (-180 <= lon <= 180) or math.isnan(lon):
            return MAV_MISSION_RESULT.INVALID_PARAM6_Y, None
        lat = round(lat * 1e7) / 1e7
        lon = round(lon * 1e7) / 1e7
        alt = _alt_cm(item.param7) / 100.0
        if cmd == MAV_CMD.NAV_LOITER_TIME:  # AP keeps direction (+-1) and the cross-track flag
            params[2] = -1.0 if item.param3 < 0 else 1.0
            params[3] = 1.0 if item.param4 != 0 else 0.0
        if cmd == MAV_CMD.NAV_LAND:
            params[3] = 1.0 if item.param4 != 0 else 0.0
        return MAV_MISSION_RESULT.ACCEPTED, MissionItem(cmd, frame, *params, lat, lon, alt, 1, item.mission_type)
    raw = _RAW_XYZ.get(cmd, (False, False, False))
    x = float(round(item.param5)) if raw[0] else 0.0
    y = float(round(item.param6)) if raw[1] else 0.0
    z = _f32(item.param7) if raw[2] else 0.0
    if cmd == MAV_CMD.DO_JUMP:
        params[0] = float(int(params[0]))
        params[1] = float(int(params[1]))
    return MAV_MISSION_RESULT.ACCEPTED, MissionItem(cmd, 0, *params, x, y, z, 1, item.mission_type)


def _fence_stored(item: MissionItem) -> tuple[int, MissionItem | None]:
    """As MissionItemProtocol_Fence: global frames only; read back with frame 0, z 0."""
    if item.frame not in _FRAME_NORMAL:
        return MAV_MISSION_RESULT.UNSUPPORTED_FRAME, None
    if item.command not in FENCE_COMMANDS:
        return MAV_MISSION_RESULT.UNSUPPORTED, None
    p1 = 0.0
    if item.command in (MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION):
        p1 = float(int(item.param1) & 0xFF)
    elif item.command in (MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION, MAV_CMD.NAV_FENCE_CIRCLE_EXCLUSION):
        p1 = _f32(item.param1)
    lat = round(item.param5 * 1e7) / 1e7
    lon = round(item.param6 * 1e7) / 1e7
    return MAV_MISSION_RESULT.ACCEPTED, MissionItem(item.command, MAV_FRAME.GLOBAL, p1, 0.0, 0.0, 0.0, lat, lon, 0.0,
                                                     1, MAV_MISSION_TYPE.FENCE)


def _rally_stored(item: MissionItem) -> tuple[int, MissionItem | None]:
    """As MissionItemProtocol_Rally: relative-altitude frames only, altitude kept as whole metres."""
    if item.command != MAV_CMD.NAV_RALLY_POINT:
        return MAV_MISSION_RESULT.UNSUPPORTED, None
    if item.frame not in (MAV_FRAME.GLOBAL_RELATIVE_ALT, MAV_FRAME.GLOBAL_RELATIVE_ALT_INT):
        return MAV_MISSION_RESULT.UNSUPPORTED_FRAME, None
    if not -90 <= item.param5 <= 90:
        return MAV_MISSION_RESULT.INVALID_PARAM5_X, None
    if not -180 <= item.param6 <= 180:
        return MAV_MISSION_RESULT.INVALID_PARAM6_Y, None
    if not -32768 <= item.param7 <= 32767:
        return 7, None  # MAV_MISSION_INVALID_PARAM7
    lat = round(item.param5 * 1e7) / 1e7
    lon = round(item.param6 * 1e7) / 1e7
    return MAV_MISSION_RESULT.ACCEPTED, MissionItem(item.command, MAV_FRAME.GLOBAL_RELATIVE_ALT, 0.0, 0.0, 0.0, 0.0,
                                                     lat, lon, float(int(item.param7)), 1, MAV_MISSION_TYPE.RALLY)


class MissionStore:
    """The three item lists; ``mission[0]`` is home."""

    MAX_ITEMS = {MAV_MISSION_TYPE.MISSION: 724, MAV_MISSION_TYPE.FENCE: 84, MAV_MISSION_TYPE.RALLY: 40}

    def __init__(self) -> None:
        self.lists: dict[int, list[MissionItem]] = {0: [], 1: [], 2: []}
        self.version = 0

    def convert(self, mission_type: int, item: MissionItem) -> tuple[int, MissionItem | None]:
        item = replace(item, mission_type=mission_type)
        if mission_type == MAV_MISSION_TYPE.MISSION:
            return to_stored(item)
        if mission_type == MAV_MISSION_TYPE.FENCE:
            return _fence_stored(item)
        return _rally_stored(item)

    def count(self, mission_type: int) -> int:
        return len(self.lists[mission_type])

    def replace_all(self, mission_type: int, items: list[MissionItem]) -> None:
        self.lists[mission_type] = list(items)
        self.version += 1

    @property
    def mission(self) -> list[MissionItem]:
        return self.lists[MAV_MISSION_TYPE.MISSION]

    @property
    def fence(self) -> list[MissionItem]:
        return self.lists[MAV_MISSION_TYPE.FENCE]

    @property
    def rally(self) -> list[MissionItem]:
        return self.lists[MAV_MISSION_TYPE.RALLY]

    def to_json(self) -> dict[str, list[list[float]]]:
        return {str(t): [[i.command, i.frame, *i.params, i.autocontinue] for i in items]
                for t, items in self.lists.items()}

    def load_json(self, data: dict[str, list[list[float]]]) -> None:
        for key, rows in data.items():
            t = int(key)
            self.lists[t] = [MissionItem(int(r[0]), int(r[1]), *map(float, r[2:9]), int(r[9]), t) for r in rows]

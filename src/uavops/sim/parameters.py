"""ArduCopter parameters: names, types, defaults and ArduPilot's ``.parm`` file format.

The simulator answers PARAM_REQUEST_LIST/READ/SET with the same names, MAVLink types and
units ArduCopter 4.7 uses, so a ground station (or ``uavops params``) that works against the
simulator works against a real flight controller. Only parameters uavops reads or sets, and
those a ground station commonly shows, are listed; the defaults are ArduCopter's (SITL's where
SITL differs, e.g. ``BATT_MONITOR`` 4).

Values are stored as Python floats; integer parameters are rounded and clamped to their type's
range on set, as ArduPilot's ``AP_Param`` does. Persistence ("eeprom") is handled by
:class:`ParamStore` through a small JSON file per simulator instance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

__all__ = ["ParamDef", "ARDUCOPTER_PARAMS", "ParamStore", "read_parm_file", "MAV_PARAM_TYPE"]


class MAV_PARAM_TYPE:  # noqa: N801 - MAVLink enum name
    INT8 = 2
    INT16 = 4
    INT32 = 6
    REAL32 = 9


_INT_RANGES = {
    MAV_PARAM_TYPE.INT8: (-128, 127),
    MAV_PARAM_TYPE.INT16: (-32768, 32767),
    MAV_PARAM_TYPE.INT32: (-2147483648, 2147483647),
}

I8, I16, I32, F = MAV_PARAM_TYPE.INT8, MAV_PARAM_TYPE.INT16, MAV_PARAM_TYPE.INT32, MAV_PARAM_TYPE.REAL32


@dataclass(frozen=True)
class ParamDef:
    name: str
    default: float
    mav_type: int
    read_only: bool = False


def _defs() -> list[ParamDef]:
    rows: list[tuple[str, float, int]] = [
        ("FORMAT_VERSION", 120, I16),
        ("MAV_SYSID", 1, I16),
        ("MAV_GCS_SYSID", 255, I16),
        ("FRAME_CLASS", 1, I8),
        ("FRAME_TYPE", 1, I8),
        ("ARMING_CHECK", 1, I32),
        ("ARMING_RUDDER", 2, I8),
        ("DISARM_DELAY", 10, I8),
        ("AUTO_OPTIONS", 0, I32),
        ("ANGLE_MAX", 3000, I16),
        ("PILOT_SPEED_UP", 250, I16),
        ("PILOT_SPEED_DN", 0, I16),
        ("PILOT_TKOFF_ALT", 0, F),
        # waypoint navigation (AC_WPNav), cm and cm/s as ArduPilot keeps them
        ("WPNAV_SPEED", 1000, F),
        ("WPNAV_RADIUS", 200, F),
        ("WPNAV_SPEED_UP", 250, F),
        ("WPNAV_SPEED_DN", 150, F),
        ("WPNAV_ACCEL", 250, F),
        ("WPNAV_ACCEL_Z", 100, F),
        ("WPNAV_JERK", 1, F),
        ("WPNAV_RFND_USE", 1, I8),
        ("WPNAV_TER_MARGIN", 10, F),
        ("WP_YAW_BEHAVIOR", 2, I8),
        ("WP_NAVALT_MIN", 0, F),
        ("LOIT_SPEED", 1250, F),
        ("LOIT_ACC_MAX", 500, F),
        ("LOIT_BRK_ACCEL", 250, F),
        ("LOIT_BRK_DELAY", 1, F),
        ("LOIT_BRK_JERK", 500, F),
        ("LOIT_ANG_MAX", 0, F),
        ("ATC_SLEW_YAW", 6000, F),
        ("ATC_ACCEL_R_MAX", 110000, F),
        ("ATC_ACCEL_P_MAX", 110000, F),
        ("ATC_ACCEL_Y_MAX", 27000, F),
        ("ATC_RATE_R_MAX", 0, F),
        ("ATC_RATE_P_MAX", 0, F),
        ("ATC_RATE_Y_MAX", 0, F),
        ("ATC_ANG_LIM_TC", 1.0, F),
        ("ATC_INPUT_TC", 0.15, F),
        # return to launch and landing
        ("RTL_ALT", 1500, I32),
        ("RTL_ALT_FINAL", 0, I16),
        ("RTL_ALT_TYPE", 0, I8),
        ("RTL_CLIMB_MIN", 0, I16),
        ("RTL_CONE_SLOPE", 3.0, F),
        ("RTL_LOIT_TIME", 5000, I32),
        ("RTL_OPTIONS", 0, I32),
        ("RTL_SPEED", 0, I16),
        ("LAND_SPEED", 50, I16),
        ("LAND_SPEED_HIGH", 0, I16),
        ("LAND_ALT_LOW", 1000, I16),
        ("LAND_REPOSITION", 1, I8),
        # geofence (AC_Fence)
        ("FENCE_ENABLE", 0, I8),
        ("FENCE_TYPE", 7, I8),
        ("FENCE_ACTION", 1, I8),
        ("FENCE_ALT_MAX", 100, F),
        ("FENCE_ALT_MIN", -10, F),
        ("FENCE_RADIUS", 300, F),
        ("FENCE_MARGIN", 2, F),
        ("FENCE_TOTAL", 0, I8),
        ("FENCE_AUTOENABLE", 0, I8),
        ("FENCE_OPTIONS", 0, I16),
        ("RALLY_TOTAL", 0, I8),
        ("RALLY_LIMIT_KM", 0.3, F),
        ("RALLY_INCL_HOME", 1, I8),
        # battery monitor and its failsafe (AP_BattMonitor)
        ("BATT_MONITOR", 4, I8),
        ("BATT_CAPACITY", 3300, I32),
        ("BATT_SERIAL_NUM", -1, I32),
        ("BATT_LOW_TIMER", 10, I8),
        ("BATT_FS_VOLTSRC", 0, I8),
        ("BATT_LOW_VOLT", 10.5, F),
        ("BATT_LOW_MAH", 0, F),
        ("BATT_CRT_VOLT", 0, F),
        ("BATT_CRT_MAH", 0, F),
        ("BATT_FS_LOW_ACT", 0, I8),
        ("BATT_FS_CRT_ACT", 0, I8),
        ("BATT_ARM_VOLT", 0, F),
        ("BATT_ARM_MAH", 0, I32),
        # other failsafes
        ("FS_GCS_ENABLE", 0, I8),
        ("FS_GCS_TIMEOUT", 5, F),
        ("FS_THR_ENABLE", 1, I8),
        ("FS_THR_VALUE", 975, I16),
        ("FS_OPTIONS", 0, I32),
        ("FS_EKF_ACTION", 1, I8),
        ("FS_EKF_THRESH", 0.8, F),
        ("FS_CRASH_CHECK", 1, I8),
        # mission (AP_Mission)
        ("MIS_TOTAL", 0, I16),
        ("MIS_RESTART", 0, I8),
        ("MIS_OPTIONS", 0, I16),
        # camera (AP_Camera), instance 1 and 2
        ("CAM_MAX_ROLL", 0, I16),
        ("CAM_AUTO_ONLY", 0, I8),
        ("CAM1_TYPE", 0, I8),
        ("CAM1_DURATION", 0.1, F),
        ("CAM1_SERVO_ON", 1300, I16),
        ("CAM1_SERVO_OFF", 1100, I16),
        ("CAM1_TRIGG_DIST", 0, F),
        ("CAM1_RELAY_ON", 1, I8),
        ("CAM1_INTRVAL_MIN", 0, F),
        ("CAM1_FEEDBAK_PIN", -1, I8),
        ("CAM1_FEEDBAK_POL", 1, I8),
        ("CAM1_OPTIONS", 0, I16),
        ("CAM1_MNT_INST", 0, I8),
        ("CAM1_HFOV", 0, F),
        ("CAM1_VFOV", 0, F),
        ("CAM2_TYPE", 0, I8),
        ("CAM2_DURATION", 0.1, F),
        ("CAM2_TRIGG_DIST", 0, F),
        ("CAM2_INTRVAL_MIN", 0, F),
        ("SERVO9_FUNCTION", 0, I16),
        ("SERVO9_MIN", 1100, I16),
        ("SERVO9_MAX", 1900, I16),
        ("SERVO9_TRIM", 1500, I16),
        ("RELAY1_FUNCTION", 0, I8),
        # flight modes and RC
        ("FLTMODE_CH", 5, I8),
        ("FLTMODE1", 7, I8),
        ("FLTMODE2", 9, I8),
        ("FLTMODE3", 6, I8),
        ("FLTMODE4", 3, I8),
        ("FLTMODE5", 5, I8),
        ("FLTMODE6", 0, I8),
        ("RC1_MIN", 1100, I16),
        ("RC1_MAX", 1900, I16),
        ("RC3_MIN", 1100, I16),
        ("RC3_MAX", 1900, I16),
        # sensors and estimation
        ("AHRS_EKF_TYPE", 3, I8),
        ("EK3_ENABLE", 1, I8),
        ("EK2_ENABLE", 0, I8),
        ("GPS_TYPE", 1, I8),
        ("GPS_AUTO_CONFIG", 1, I8),
        ("COMPASS_USE", 1, I8),
        ("TERRAIN_ENABLE", 1, I8),
        ("LOG_BITMASK", 176126, I32),
        ("LOG_DISARMED", 0, I8),
        # stream rates of the first three serial ports, as SITL ships them
        *[(f"SR{port}_{name}", 0, I16) for port in range(3) for name in
          ("RAW_SENS", "EXT_STAT", "RC_CHAN", "RAW_CTRL", "POSITION", "EXTRA1", "EXTRA2", "EXTRA3", "PARAMS",
           "ADSB")],
        # simulator physics (SITL names where SITL has them)
        ("SIM_SPEEDUP", 1, F),
        ("SIM_WIND_SPD", 0, F),
        ("SIM_WIND_DIR", 180, F),
        ("SIM_WIND_TURB", 0, F),
        ("SIM_GPS_DISABLE", 0, I8),
        ("SIM_GPS_NOISE", 0, F),
        ("SIM_BATT_VOLTAGE", 16.8, F),
        ("SIM_BATT_CAP_AH", 0, F),
    ]
    seen: set[str] = set()
    out: list[ParamDef] = []
    for name, default, mav_type in rows:
        if name in seen:
            continue
        seen.add(name)
        out.append(ParamDef(name, float(default), mav_type, read_only=name in {"FORMAT_VERSION", "MIS_TOTAL"}))
    return sorted(out, key=lambda d: d.name)


ARDUCOPTER_PARAMS: tuple[ParamDef, ...] = tuple(_defs())


def read_parm_file(path: str | Path) -> dict[str, float]:
    """Read an ArduPilot ``.parm`` file (``NAME VALUE`` or ``NAME,VALUE`` per line, ``#`` comments).

    Raises
    ------
    InputError
        The file is missing or a line cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise InputError(f"The parameter file {path} cannot be read; check the --params path.") from None
    values: dict[str, float] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        if len(parts) < 2:
            raise InputError(f"{path} line {lineno} is not 'NAME VALUE'; fix or remove that line.")
        try:
            values[parts[0].upper()] = float(parts[1])
        except ValueError:
            raise InputError(f"{path} line {lineno}: '{parts[1]}' is not a number; fix that value.") from None
    return values


def _coerce(value: float, mav_type: int) -> float:
    if mav_type == MAV_PARAM_TYPE.REAL32:
        return float(value)
    lo, hi = _INT_RANGES[mav_type]
    if math.isnan(value):
        return 0.0
    return float(min(hi, max(lo, int(round(value)))))


class ParamStore:
    """The vehicle's parameter table with change listeners and optional persistence.

    ``overrides`` are default values from a ``.parm`` file (SITL's ``--defaults``); ``stored``
    are values a ground station set earlier and that were persisted (SITL's eeprom.bin).
    Stored values win over overrides, overrides over built-in defaults, as in SITL.
    """

    def __init__(self, overrides: dict[str, float] | None = None, stored: dict[str, float] | None = None,
                 on_persist: Callable[[dict[str, float]], None] | None = None) -> None:
        self._defs = {d.name: d for d in ARDUCOPTER_PARAMS}
        self._order = [d.name for d in ARDUCOPTER_PARAMS]
        self._values: dict[str, float] = {d.name: d.default for d in ARDUCOPTER_PARAMS}
        self._defaults = dict(self._values)
        self._stored: dict[str, float] = {}
        self._on_persist = on_persist
        self.unknown_in_file: list[str] = []
        for name, value in (overrides or {}).items():
            if name in self._defs:
                self._values[name] = self._defaults[name] = _coerce(value, self._defs[name].mav_type)
            else:
                self.unknown_in_file.append(name)
        for name, value in (stored or {}).items():
            if name in self._defs:
                self._values[name] = _coerce(value, self._defs[name].mav_type)
                self._stored[name] = self._values[name]
        self._listeners: list[Callable[[str, float], None]] = []

    def __contains__(self, name: object) -> bool:
        return name in self._defs

    def __getitem__(self, name: str) -> float:
        return self._values[name]

    def get(self, name: str, default: float | None = None) -> float | None:
        return self._values.get(name, default)

    def names(self) -> list[str]:
        return list(self._order)

    def count(self) -> int:
        return len(self._order)

    def index(self, name: str) -> int:
        return self._order.index(name)

    def by_index(self, index: int) -> str | None:
        return self._order[index] if 0 <= index < len(self._order) else None

    def mav_type(self, name: str) -> int:
        return self._defs[name].mav_type

    def read_only(self, name: str) -> bool:
        return self._defs[name].read_only

    def on_change(self, listener: Callable[[str, float], None]) -> None:
        self._listeners.append(listener)

    def set(self, name: str, value: float, *, persist: bool = True, internal: bool = False) -> float:
        """Set a parameter (rounded to its type); returns the value now held. Unknown names raise KeyError."""
        definition = self._defs[name]
        if definition.read_only and not internal:
            return self._values[name]
        new = _coerce(value, definition.mav_type)
        old = self._values[name]
        self._values[name] = new
        if persist:
            self._stored[name] = new
            if self._on_persist is not None:
                self._on_persist(dict(self._stored))
        if new != old:
            for listener in self._listeners:
                listener(name, new)
        return new

    def items(self) -> Iterable[tuple[str, float]]:
        return ((n, self._values[n]) for n in self._order)

    def stored(self) -> dict[str, float]:
        return dict(self._stored)

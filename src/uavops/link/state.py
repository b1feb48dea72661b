"""Vehicle state as the ground station knows it, folded from the telemetry stream.

:class:`VehicleState` is updated by the connection's reader thread only; readers get a copy
(:meth:`VehicleState.snapshot`) so they never see half an update.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pymavlink import mavutil

__all__ = ["VehicleState", "StatusText", "mode_name", "mode_number", "EKF_OK_FLAGS", "vehicle_kind"]

MAV_MODE_FLAG_SAFETY_ARMED = 128
MAV_SYS_STATUS_PREARM_CHECK = 0x10000000
# EKF_STATUS_FLAGS: attitude|vel_horiz|vel_vert|pos_horiz_rel|pos_horiz_abs|pos_vert_abs
EKF_OK_FLAGS = 1 | 2 | 4 | 8 | 16 | 32
EKF_CONST_POS_MODE = 128
EKF_UNINITIALIZED = 1024
_SEVERITY = ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"]

_PLANE_TYPES = {1, 16, 19, 20, 21, 22, 23, 24, 25}  # fixed wing and VTOLs use ArduPlane's table


def vehicle_kind(mav_type: int | None) -> str:
    if mav_type in _PLANE_TYPES:
        return "plane"
    if mav_type in (10, 11):
        return "rover"
    return "copter"


def mode_name(mav_type: int | None, custom_mode: int) -> str:
    """ArduPilot mode name for a HEARTBEAT custom_mode (ArduCopter or ArduPlane table)."""
    table = mavutil.mode_mapping_apm if vehicle_kind(mav_type) == "plane" else mavutil.mode_mapping_acm
    if vehicle_kind(mav_type) == "rover":
        table = mavutil.mode_mapping_rover
    return str(table.get(custom_mode, f"MODE({custom_mode})"))


def mode_number(mav_type: int | None, name: str) -> int | None:
    table = mavutil.mode_mapping_apm if vehicle_kind(mav_type) == "plane" else mavutil.mode_mapping_acm
    if vehicle_kind(mav_type) == "rover":
        table = mavutil.mode_mapping_rover
    wanted = name.strip().upper()
    for number, label in table.items():
        if label == wanted:
            return int(number)
    return None


@dataclass(frozen=True)
class StatusText:
    time_s: float
    severity: int
    text: str

    @property
    def severity_name(self) -> str:
        return _SEVERITY[self.severity] if 0 <= self.severity < len(_SEVERITY) else str(self.severity)


@dataclass
class VehicleState:
    """Everything the operator and the flight runner look at."""

    sysid: int | None = None
    compid: int | None = None
    mav_type: int | None = None
    autopilot: int | None = None
    custom_mode: int = 0
    mode: str = "UNKNOWN"
    armed: bool = False
    system_status: int = 0
    last_heartbeat_s: float = 0.0
    link_ok: bool = False
    link_losses: int = 0
    firmware: str | None = None
    # position
    lat_deg: float | None = None
    lon_deg: float | None = None
    alt_amsl_m: float | None = None
    alt_rel_m: float | None = None
    ground_speed_mps: float = 0.0
    heading_deg: float | None = None
    climb_mps: float = 0.0
    # power
    battery_pct: int | None = None
    battery_v: float | None = None
    # gps / ekf
    gps_fix_type: int = 0
    gps_hdop: float | None = None
    gps_satellites: int | None = None
    ekf_flags: int | None = None
    prearm_ok: bool | None = None
    sensors_health: int | None = None
    # home
    home_lat_deg: float | None = None
    home_lon_deg: float | None = None
    home_alt_amsl_m: float | None = None
    # mission
    mission_current: int | None = None
    mission_count: int | None = None
    mission_state: int | None = None
    last_item_reached: int | None = None
    photos_seen: int = 0
    statustext: deque[StatusText] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def ekf_ok(self) -> bool:
        if self.ekf_flags is None:
            return False
        return (self.ekf_flags & EKF_OK_FLAGS) == EKF_OK_FLAGS and not self.ekf_flags & (
            EKF_CONST_POS_MODE | EKF_UNINITIALIZED)

    @property
    def home_set(self) -> bool:
        return self.home_lat_deg is not None

    @property
    def vehicle_kind(self) -> str:
        return vehicle_kind(self.mav_type)

    def snapshot(self) -> "VehicleState":
        return copy.deepcopy(self)

    # --- folding -----------------------------------------------------------------------
    def update(self, msg: Any, now_s: float | None = None) -> None:
        now = time.monotonic() if now_s is None else now_s
        kind = msg.get_type()
        handler = getattr(self, f"_on_{kind.lower()}", None)
        if handler is not None:
            handler(msg, now)

    def _on_heartbeat(self, m: Any, now: float) -> None:
        self.mav_type = m.type
        self.autopilot = m.autopilot
        self.custom_mode = m.custom_mode
        self.mode = mode_name(m.type, m.custom_mode)
        self.armed = bool(m.base_mode & MAV_MODE_FLAG_SAFETY_ARMED)
        self.system_status = m.system_status
        self.last_heartbeat_s = now

    def _on_global_position_int(self, m: Any, now: float) -> None:
        self.lat_deg = m.lat * 1e-7
        self.lon_deg = m.lon * 1e-7
        self.alt_amsl_m = m.alt * 1e-3
        self.alt_rel_m = m.relative_alt * 1e-3
        self.ground_speed_mps = (m.vx ** 2 + m.vy ** 2) ** 0.5 / 100.0
        self.climb_mps = -m.vz / 100.0
        if m.hdg != 65535:
            self.heading_deg = m.hdg / 100.0

    def _on_vfr_hud(self, m: Any, now: float) -> None:
        self.ground_speed_mps = float(m.groundspeed)

    def _on_sys_status(self, m: Any, now: float) -> None:
        if m.battery_remaining >= 0:
            self.battery_pct = int(m.battery_remaining)
        if m.voltage_battery not in (0, 65535):
            self.battery_v = m.voltage_battery / 1000.0
        self.sensors_health = m.onboard_control_sensors_health
        if m.onboard_control_sensors_present & MAV_SYS_STATUS_PREARM_CHECK:
            self.prearm_ok = bool(m.onboard_control_sensors_health & MAV_SYS_STATUS_PREARM_CHECK)

    def _on_battery_status(self, m: Any, now: float) -> None:
        if m.battery_remaining >= 0 and m.id == 0:
            self.battery_pct = int(m.battery_remaining)

    def _on_gps_raw_int(self, m: Any, now: float) -> None:
        self.gps_fix_type = m.fix_type
        self.gps_hdop = None if m.eph == 65535 else m.eph / 100.0
        self.gps_satellites = None if m.satellites_visible == 255 else m.satellites_visible

    def _on_ekf_status_report(self, m: Any, now: float) -> None:
        self.ekf_flags = m.flags

    def _on_home_position(self, m: Any, now: float) -> None:
        self.home_lat_deg = m.latitude * 1e-7
        self.home_lon_deg = m.longitude * 1e-7
        self.home_alt_amsl_m = m.altitude * 1e-3

    def _on_mission_current(self, m: Any, now: float) -> None:
        self.mission_current = m.seq
        total = getattr(m, "total", 0)
        if total and total != 65535:
            self.mission_count = total
        state = getattr(m, "mission_state", 0)
        if state:
            self.mission_state = state

    def _on_mission_item_reached(self, m: Any, now: float) -> None:
        self.last_item_reached = m.seq

    def _on_camera_feedback(self, m: Any, now: float) -> None:
        self.photos_seen += 1

    def _on_statustext(self, m: Any, now: float) -> None:
        text = m.text if isinstance(m.text, str) else m.text.decode("utf-8", "replace")
        self.statustext.append(StatusText(time.time(), int(m.severity), text.rstrip("\x00")))

    def _on_autopilot_version(self, m: Any, now: float) -> None:
        v = m.flight_sw_version
        kind = {"plane": "ArduPlane", "rover": "Rover"}.get(self.vehicle_kind, "ArduCopter")
        types = {0: "dev", 64: "alpha", 128: "beta", 192: "rc", 255: "official"}
        self.firmware = f"{kind} {(v >> 24) & 0xFF}.{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}-{types.get(v & 0xFF, v & 0xFF)}"

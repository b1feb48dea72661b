"""ArduCopter's MAVLink behaviour towards ground stations: streams, commands, parameters, missions.

One :class:`GcsHub` serves every connected link (TCP clients, UDP peers). Like ArduPilot it
sends only HEARTBEAT until a link asks for streams with REQUEST_DATA_STREAM or
MAV_CMD_SET_MESSAGE_INTERVAL; rates are kept per link. Status texts, PARAM_VALUE after a set,
MISSION_ITEM_REACHED, MISSION_CURRENT changes and CAMERA_FEEDBACK go to every link.
"""

from __future__ import annotations

import math
from dataclasses import replace
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from ..mission import MAV_MISSION_TYPE, MissionItem
from .camera import CameraTrigger
from .mission_protocol import MissionProtocol
from .mission_store import LOCATION_COMMANDS
from .modes import GUIDED_FLAG_MODES
from .vehicle import MAV_SEVERITY, SimVehicle

if TYPE_CHECKING:
    from .transport import Link

__all__ = ["GcsHub", "MAV_RESULT", "STREAM_GROUPS"]

M = mavlink2


class MAV_RESULT:  # noqa: N801
    ACCEPTED = 0
    TEMPORARILY_REJECTED = 1
    DENIED = 2
    UNSUPPORTED = 3
    FAILED = 4
    IN_PROGRESS = 5


# ArduCopter's stream groups (GCS_Mavlink.cpp STREAM_*_msgs), reduced to what the simulator produces
STREAM_GROUPS: dict[int, tuple[str, ...]] = {
    M.MAV_DATA_STREAM_RAW_SENSORS: ("SCALED_PRESSURE",),
    M.MAV_DATA_STREAM_EXTENDED_STATUS: ("SYS_STATUS", "POWER_STATUS", "MEMINFO", "MISSION_CURRENT", "GPS_RAW_INT",
                                         "NAV_CONTROLLER_OUTPUT", "FENCE_STATUS"),
    M.MAV_DATA_STREAM_RC_CHANNELS: ("SERVO_OUTPUT_RAW", "RC_CHANNELS"),
    M.MAV_DATA_STREAM_POSITION: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),
    M.MAV_DATA_STREAM_EXTRA1: ("ATTITUDE", "SIMSTATE", "AHRS2"),
    M.MAV_DATA_STREAM_EXTRA2: ("VFR_HUD",),
    M.MAV_DATA_STREAM_EXTRA3: ("AHRS", "SYSTEM_TIME", "WIND", "BATTERY_STATUS", "EKF_STATUS_REPORT", "VIBRATION"),
}
_MSG_IDS = {name: getattr(M, f"MAVLINK_MSG_ID_{name}") for group in STREAM_GROUPS.values() for name in group}
_MSG_IDS.update({"HEARTBEAT": 0, "HOME_POSITION": M.MAVLINK_MSG_ID_HOME_POSITION,
                 "AUTOPILOT_VERSION": M.MAVLINK_MSG_ID_AUTOPILOT_VERSION,
                 "GPS_GLOBAL_ORIGIN": M.MAVLINK_MSG_ID_GPS_GLOBAL_ORIGIN,
                 "EXTENDED_SYS_STATE": M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE,
                 "CAMERA_FEEDBACK": M.MAVLINK_MSG_ID_CAMERA_FEEDBACK})
_NAME_BY_ID = {v: k for k, v in _MSG_IDS.items()}

_CAPABILITIES = (M.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT | M.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
                 | M.MAV_PROTOCOL_CAPABILITY_MISSION_INT | M.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
                 | M.MAV_PROTOCOL_CAPABILITY_SET_ATTITUDE_TARGET | M.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED
                 | M.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT | M.MAV_PROTOCOL_CAPABILITY_FLIGHT_TERMINATION
                 | M.MAV_PROTOCOL_CAPABILITY_COMPASS_CALIBRATION | M.MAV_PROTOCOL_CAPABILITY_MAVLINK2
                 | M.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE | M.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY)
BOOT_S = 1.0
FLIGHT_SW_VERSION = (4 << 24) | (7 << 16) | (0 << 8) | 0  # 4.7.0, FIRMWARE_VERSION_TYPE_DEV
_PREARM_BIT = M.MAV_SYS_STATUS_PREARM_CHECK
_SENSORS = (M.MAV_SYS_STATUS_SENSOR_3D_GYRO | M.MAV_SYS_STATUS_SENSOR_3D_ACCEL | M.MAV_SYS_STATUS_SENSOR_3D_MAG
            | M.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE | M.MAV_SYS_STATUS_SENSOR_GPS
            | M.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL | M.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
            | M.MAV_SYS_STATUS_SENSOR_YAW_POSITION | M.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
            | M.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL | M.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
            | M.MAV_SYS_STATUS_AHRS | M.MAV_SYS_STATUS_SENSOR_BATTERY | M.MAV_SYS_STATUS_LOGGING)


class GcsHub:
    """Everything the vehicle says to, and hears from, ground stations."""

    def __init__(self, vehicle: SimVehicle, persist: Callable[[], None]) -> None:
        self.v = vehicle
        self.links: list[Link] = []
        self.enc = M.MAVLink(None, srcSystem=1, srcComponent=1)
        self.persist = persist
        self.protocols = {t: MissionProtocol(self, t) for t in (0, 1, 2)}
        self._last_heartbeat_t = -1.0
        self.statustexts: list[tuple[float, int, str]] = []
        vehicle.events = self  # type: ignore[assignment]
        self._banner_sent = False
        self._was_booting = True

    # --- VehicleEvents -------------------------------------------------------------------
    def text(self, severity: int, text: str) -> None:
        self.statustexts.append((self.v.t, severity, text))
        del self.statustexts[:-200]
        self.broadcast(self.enc.statustext_encode(severity, text.encode()[:50]))

    def mission_item_reached(self, seq: int) -> None:
        self.broadcast(self.enc.mission_item_reached_encode(seq))

    def mission_current_changed(self) -> None:
        self.broadcast(self._make("MISSION_CURRENT"))

    def camera_feedback(self, trigger: CameraTrigger) -> None:
        self.broadcast(self.enc.camera_feedback_encode(
            trigger.time_usec, 0, 0, trigger.img_idx, int(round(trigger.lat_deg * 1e7)),
            int(round(trigger.lon_deg * 1e7)), trigger.alt_amsl_m, trigger.alt_rel_m, trigger.roll_deg,
            trigger.pitch_deg, trigger.yaw_deg, 0.0, M.CAMERA_FEEDBACK_PHOTO, trigger.img_idx))

    def home_changed(self) -> None:
        mission = self.v.store.mission
        if not mission:
            mission.append(self._home_item())
        self.broadcast(self._make("HOME_POSITION"))
        self.broadcast(self._make("GPS_GLOBAL_ORIGIN"))

    # --- sending -------------------------------------------------------------------------
    def broadcast(self, msg: Any) -> None:
        for link in list(self.links):
            link.send(msg)

    def _home_item(self) -> MissionItem:
        if not self.v.home_set:  # ArduPilot reads home back as zeros until the EKF has set it
            return MissionItem(16, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 1, 0)
        return MissionItem(16, 0, 0, 0, 0, 0, round(self.v.home_lat * 1e7) / 1e7, round(self.v.home_lon * 1e7) / 1e7,
                           round(self.v.home_amsl_m * 100) / 100, 1, 0)

    def home_item(self) -> MissionItem:
        return self._home_item()

    def tick(self) -> None:
        """Called after every simulation step: heartbeat, streams, mission protocol timeouts."""
        t = self.v.t
        if self._was_booting and not self.booting:
            self._was_booting = False
            if self.v.mode != 0 and not self.v.armed:
                self.v.mode = 0  # the end of ArduCopter's init sets the boot mode, whatever was asked before
        if not self._banner_sent:
            self._banner_sent = True
            for line in ("ArduCopter V4.7.0-dev (uavops builtin simulator)", "Frame: QUAD/PLUS"):
                self.text(MAV_SEVERITY.INFO, line)
        if t - self._last_heartbeat_t >= 1.0 - 1e-9:
            self._last_heartbeat_t = t
            self.broadcast(self._make("HEARTBEAT"))
        for link in list(self.links):
            due = [name for name, interval in link.intervals.items()
                   if interval > 0 and t - link.last_sent.get(name, -1e9) >= interval - 1e-6]
            for name in due:
                link.last_sent[name] = t
                msg = self._make(name)
                if msg is not None:
                    link.send(msg)
            link.send_param_batch(self)
        for proto in self.protocols.values():
            proto.update()

    def _make(self, name: str) -> Any:
        v = self.v
        e = self.enc
        t_ms = int(v.t * 1000) & 0xFFFFFFFF
        if name == "HEARTBEAT":
            base = M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | M.MAV_MODE_FLAG_STABILIZE_ENABLED | \
                M.MAV_MODE_FLAG_MANUAL_INPUT_ENABLED
            if v.mode in GUIDED_FLAG_MODES:
                base |= M.MAV_MODE_FLAG_GUIDED_ENABLED
            if v.armed:
                base |= M.MAV_MODE_FLAG_SAFETY_ARMED
            status = M.MAV_STATE_ACTIVE if v.armed else M.MAV_STATE_STANDBY
            if self.booting:
                status = M.MAV_STATE_BOOT
                base |= M.MAV_MODE_FLAG_GUIDED_ENABLED
            if v.armed and (v.batt_fs_level or v.gcs_fs_active or v.ekf_fs_active):
                status = M.MAV_STATE_CRITICAL
            return e.heartbeat_encode(M.MAV_TYPE_QUADROTOR, M.MAV_AUTOPILOT_ARDUPILOTMEGA, base, v.mode, status, 3)
        if name == "SYS_STATUS":
            health = _SENSORS
            if not v.gps.has_fix(v.t):
                health &= ~M.MAV_SYS_STATUS_SENSOR_GPS
            if v.armed or not v.arm_checks():
                health |= _PREARM_BIT
            present = _SENSORS | _PREARM_BIT
            if v.fence.enabled():
                present |= M.MAV_SYS_STATUS_GEOFENCE
                if not v.fence.breached:
                    health |= M.MAV_SYS_STATUS_GEOFENCE
            return e.sys_status_encode(present, present, health, 150, int(v.battery.voltage() * 1000),
                                       int(v.battery.current_a * 100), int(v.battery_pct), 0, 0, 0, 0, 0, 0)
        if name == "GPS_RAW_INT":
            en, ee, ed = v.gps.error_ned_m
            from .geo import offset_deg

            lat, lon = offset_deg(v.origin_lat, v.origin_lon, v.n + en, v.e + ee)
            fix = v.gps.fix_type(v.t)
            sats = v.gps.satellites(v.t)
            cog = int(math.degrees(math.atan2(v.ve, v.vn)) % 360 * 100) if v.groundspeed_mps > 0.2 else 0
            if fix < 2:
                return e.gps_raw_int_encode(0, fix, 0, 0, 0, 65535, 65535, 0, 0, sats)
            return e.gps_raw_int_encode(int(v.t * 1e6), fix, int(lat * 1e7), int(lon * 1e7),
                                        int((v.alt_amsl_m - ed) * 1000), 121, 200, int(v.groundspeed_mps * 100),
                                        cog, sats, int((v.alt_amsl_m - ed) * 1000), 300, 300, 0, 0)
        if name == "GLOBAL_POSITION_INT":
            lat, lon = v.estimated_latlon()
            hdg = int(v.yaw * 100) % 36000
            return e.global_position_int_encode(t_ms, int(lat * 1e7), int(lon * 1e7), int(v.alt_amsl_m * 1000),
                                                int(v.alt * 1000), int(v.vn * 100), int(v.ve * 100),
                                                int(-v.vz * 100), hdg)
        if name == "LOCAL_POSITION_NED":
            hn, he = v.home_ne()
            return e.local_position_ned_encode(t_ms, v.n - hn, v.e - he, -v.alt, v.vn, v.ve, -v.vz)
        if name == "ATTITUDE":
            return e.attitude_encode(t_ms, math.radians(v.roll), math.radians(v.pitch),
                                     math.radians(v.yaw if v.yaw <= 180 else v.yaw - 360), 0.0, 0.0,
                                     math.radians(v.yaw_rate))
        if name == "VFR_HUD":
            an, ae = v.airspeed_ne()
            throttle = 0 if not v.armed or v.landed else int(min(100, 40 + v.battery.current_a))
            return e.vfr_hud_encode(math.hypot(an, ae), v.groundspeed_mps, int(v.yaw) % 360, throttle,
                                    v.alt_amsl_m, v.vz)
        if name == "BATTERY_STATUS":
            volts = int(v.battery.voltage() * 1000)
            cells = [min(volts, 65534)] + [65535] * 9
            return e.battery_status_encode(0, M.MAV_BATTERY_FUNCTION_ALL, M.MAV_BATTERY_TYPE_LIPO, 32767, cells,
                                           int(v.battery.current_a * 100), int(v.battery.consumed_mah),
                                           int(v.battery.energy_wh * 36), int(v.battery_pct), 0,
                                           M.MAV_BATTERY_CHARGE_STATE_OK if not v.batt_fs_level else
                                           M.MAV_BATTERY_CHARGE_STATE_LOW + v.batt_fs_level - 1)
        if name == "EKF_STATUS_REPORT":
            flags = M.EKF_ATTITUDE | M.EKF_VELOCITY_VERT | M.EKF_POS_VERT_ABS | M.EKF_CONST_POS_MODE
            if v.position_ok():
                flags = (M.EKF_ATTITUDE | M.EKF_VELOCITY_HORIZ | M.EKF_VELOCITY_VERT | M.EKF_POS_HORIZ_REL
                         | M.EKF_POS_HORIZ_ABS | M.EKF_POS_VERT_ABS | M.EKF_PRED_POS_HORIZ_REL
                         | M.EKF_PRED_POS_HORIZ_ABS)
            var = 0.02 if v.position_ok() else 0.6
            return e.ekf_status_report_encode(flags, var, var, 0.02, 0.03, 0.0, 0.0)
        if name == "MISSION_CURRENT":
            total = max(0, v.store.count(0) - 1)
            state = {0: M.MISSION_STATE_PAUSED, 1: M.MISSION_STATE_ACTIVE, 2: M.MISSION_STATE_COMPLETE}
            mstate = M.MISSION_STATE_NO_MISSION if total == 0 else (
                M.MISSION_STATE_NOT_STARTED if v.mission.nav_index is None and v.mission.state == 0
                else state[v.mission.state])
            return e.mission_current_encode(v.mission.current_seq, total, mstate, 1 if v.mode == 3 else 0)
        if name == "HOME_POSITION":
            hn, he = v.home_ne()
            return e.home_position_encode(int(v.home_lat * 1e7), int(v.home_lon * 1e7), int(v.home_amsl_m * 1000),
                                          0.0, 0.0, 0.0, [1.0, 0.0, 0.0, 0.0], 0.0, 0.0, 0.0,
                                          int(v.epoch_usec + v.t * 1e6))
        if name == "GPS_GLOBAL_ORIGIN":
            return e.gps_global_origin_encode(int(v.origin_lat * 1e7), int(v.origin_lon * 1e7),
                                              int(v.ground_amsl_m * 1000), int(v.epoch_usec + v.t * 1e6))
        if name == "AUTOPILOT_VERSION":
            return e.autopilot_version_encode(_CAPABILITIES, FLIGHT_SW_VERSION, 0, 0, 0, [0] * 8, [0] * 8, [0] * 8,
                                              0, 0, 0x5541564F5053494D, [0] * 18)
        if name == "SYSTEM_TIME":
            return e.system_time_encode(int(v.epoch_usec + v.t * 1e6), t_ms)
        if name == "WIND":
            wn, we = v.wind.velocity_ne
            speed = math.hypot(wn, we)
            direction = (math.degrees(math.atan2(-we, -wn)) + 360) % 360  # where it comes from
            return e.wind_encode(direction, speed, 0.0)
        if name == "POWER_STATUS":
            return e.power_status_encode(5000, 0, 0)
        if name == "MEMINFO":
            return e.meminfo_encode(65535, 65535, 131072)
        if name == "NAV_CONTROLLER_OUTPUT":
            tgt = v.target or (v.n, v.e, v.alt)
            dist = math.hypot(tgt[0] - v.n, tgt[1] - v.e)
            bearing = int(math.degrees(math.atan2(tgt[1] - v.e, tgt[0] - v.n))) % 360
            return e.nav_controller_output_encode(v.roll, v.pitch, bearing, bearing, int(min(dist, 65535)),
                                                  tgt[2] - v.alt, 0.0, 0.0)
        if name == "FENCE_STATUS":
            return e.fence_status_encode(1 if v.fence.breached else 0, 0, 0, 0)
        if name == "EXTENDED_SYS_STATE":
            landed = M.MAV_LANDED_STATE_ON_GROUND if v.landed else (
                M.MAV_LANDED_STATE_TAKEOFF if v.phase == "takeoff" else M.MAV_LANDED_STATE_IN_AIR)
            return e.extended_sys_state_encode(0, landed)
        if name == "VIBRATION":
            return e.vibration_encode(int(v.epoch_usec + v.t * 1e6), 0.01, 0.01, 0.01, 0, 0, 0)
        if name == "AHRS":
            return e.ahrs_encode(0, 0, 0, 0, 0, 0, 0)
        if name == "AHRS2":
            lat, lon = v.estimated_latlon()
            return e.ahrs2_encode(math.radians(v.roll), math.radians(v.pitch), math.radians(v.yaw), v.alt_amsl_m,
                                  int(lat * 1e7), int(lon * 1e7))
        if name == "SIMSTATE":
            lat, lon = v.latlon()
            return e.simstate_encode(math.radians(v.roll), math.radians(v.pitch), math.radians(v.yaw), 0, 0, -9.81,
                                     0, 0, 0, int(lat * 1e7), int(lon * 1e7))
        if name == "SCALED_PRESSURE":
            return e.scaled_pressure_encode(t_ms, 1013.25 - v.alt_amsl_m * 0.12, 0.0, 2500)
        if name == "SERVO_OUTPUT_RAW":
            pwm = 1100 if not v.armed else (1150 if v.landed else 1500)
            return e.servo_output_raw_encode(int(v.t * 1e6) & 0xFFFFFFFF, 0, pwm, pwm, pwm, pwm, 0, 0, 0, 0)
        if name == "RC_CHANNELS":
            return e.rc_channels_encode(t_ms, 8, 1500, 1500, 1000, 1500, 1800, 1000, 1000, 1800, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 255)
        return None

    # --- receiving -----------------------------------------------------------------------
    @property
    def booting(self) -> bool:
        """The first simulated second after start: HEARTBEAT says MAV_STATE_BOOT, as SITL's does."""
        return self.v.t < BOOT_S

    def handle(self, link: "Link", msg: Any) -> None:
        mtype = msg.get_type()
        if mtype == "BAD_DATA":
            return
        if self.booting and mtype == "MISSION_COUNT":
            # SITL while booting: mission storage is not ready yet
            link.send(self.enc.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                  M.MAV_MISSION_NO_SPACE, msg.mission_type))
            return
        target = getattr(msg, "target_system", None)
        if target not in (None, 0, 1):
            return
        handler = getattr(self, f"_on_{mtype.lower()}", None)
        if handler is not None:
            handler(link, msg)

    def _on_heartbeat(self, link: "Link", msg: Any) -> None:
        # ArduPilot's GCS failsafe only counts heartbeats from MAV_GCS_SYSID (SYSID_MYGCS before 4.7)
        if msg.get_srcSystem() == int(self.v.params["MAV_GCS_SYSID"]):
            self.v.on_gcs_heartbeat()

    def _on_request_data_stream(self, link: "Link", msg: Any) -> None:
        if self.v.home_set and msg.start_stop and not getattr(link, "home_sent", False):
            link.home_sent = True  # type: ignore[attr-defined]  # SITL then sends home and origin once
            link.send(self._make("HOME_POSITION"))
            link.send(self._make("GPS_GLOBAL_ORIGIN"))
        groups = list(STREAM_GROUPS) if msg.req_stream_id == M.MAV_DATA_STREAM_ALL else [msg.req_stream_id]
        for group in groups:
            for name in STREAM_GROUPS.get(group, ()):
                if msg.start_stop and msg.req_message_rate > 0:
                    link.intervals[name] = 1.0 / msg.req_message_rate
                else:
                    link.intervals.pop(name, None)

    def _ack(self, link: "Link", msg: Any, command: int, result: int) -> None:
        link.send(self.enc.command_ack_encode(command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()))

    def _on_set_mode(self, link: "Link", msg: Any) -> None:
        # ArduCopter 4.7 changes mode on SET_MODE but sends no COMMAND_ACK for it (checked against SITL)
        if msg.base_mode & M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
            self.v.set_mode(int(msg.custom_mode))

    def _on_command_long(self, link: "Link", msg: Any) -> None:
        params = (msg.param1, msg.param2, msg.param3, msg.param4, msg.param5, msg.param6, msg.param7)
        result = self.command(link, msg, msg.command, params, frame=None)
        if result is not None:
            self._ack(link, msg, msg.command, result)

    def _on_command_int(self, link: "Link", msg: Any) -> None:
        global_frame = msg.frame in (0, 3, 5, 6, 10, 11)
        x = msg.x * 1e-7 if global_frame else float(msg.x)
        y = msg.y * 1e-7 if global_frame else float(msg.y)
        params = (msg.param1, msg.param2, msg.param3, msg.param4, x, y, msg.z)
        result = self.command(link, msg, msg.command, params, frame=msg.frame)
        if result is not None:
            self._ack(link, msg, msg.command, result)

    def command(self, link: "Link", msg: Any, cmd: int, p: tuple[float, ...], frame: int | None) -> int | None:
        """Run one MAV_CMD; returns the MAV_RESULT ArduCopter answers with."""
        v = self.v
        R = MAV_RESULT
        if cmd == M.MAV_CMD_COMPONENT_ARM_DISARM:
            force = int(round(p[1])) in (21196, 2989)
            if int(round(p[0])) == 1:
                ok, reasons = v.arm(force=force)
                for reason in reasons:
                    self.text(MAV_SEVERITY.CRITICAL, reason)
                return R.ACCEPTED if ok else R.FAILED
            if int(round(p[0])) == 0:
                return R.ACCEPTED if v.disarm(force=force) else R.FAILED
            return R.DENIED
        if cmd == M.MAV_CMD_DO_SET_MODE:
            if not int(p[0]) & M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
                return R.FAILED
            return R.ACCEPTED if v.set_mode(int(p[1])) else R.FAILED
        if cmd == M.MAV_CMD_NAV_TAKEOFF:
            return R.ACCEPTED if v.user_takeoff(p[6]) else R.FAILED
        if cmd == M.MAV_CMD_MISSION_START:
            if p[0] != 0 or p[1] != 0:
                return R.DENIED
            if not v.armed and not v.internal_error:
                # ArduCopter 4.7 SITL: MISSION_START while disarmed is ACCEPTED but raises a latched
                # internal error (flow_of_control) that blocks arming until reboot.
                v.internal_error = True
                self.text(MAV_SEVERITY.CRITICAL, "Internal Errors 0x100000")
            was_auto_armed = v.auto_armed
            v.auto_armed = v.armed  # Copter: set_auto_armed(true) — AUTO may now lift off
            if v.set_mode(3):
                if v.mission.state != 1:
                    v.mission.start_or_resume()
                return R.ACCEPTED
            v.auto_armed = was_auto_armed
            return R.FAILED
        if cmd == M.MAV_CMD_NAV_RETURN_TO_LAUNCH:
            return R.ACCEPTED if v.set_mode(6) else R.FAILED
        if cmd == M.MAV_CMD_NAV_LAND:
            return R.ACCEPTED if v.set_mode(9) else R.FAILED
        if cmd == M.MAV_CMD_SET_MESSAGE_INTERVAL:
            name = _NAME_BY_ID.get(int(p[0]))
            if name is None:
                return R.FAILED
            interval_us = p[1]
            if interval_us < 0 or (interval_us == 0 and not any(name in g for g in STREAM_GROUPS.values())):
                link.intervals.pop(name, None)
            elif interval_us == 0:
                link.intervals.pop(name, None)
            else:
                link.intervals[name] = interval_us / 1e6
            return R.ACCEPTED
        if cmd == M.MAV_CMD_REQUEST_MESSAGE:
            name = _NAME_BY_ID.get(int(p[0]))
            if name is None:
                return R.FAILED
            self._ack(link, msg, cmd, R.ACCEPTED)
            if name == "AUTOPILOT_VERSION":
                self._send_version(link)
            else:
                link.send(self._make(name))
            return None
        if cmd == M.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES:
            self._ack(link, msg, cmd, R.ACCEPTED)
            self._send_version(link)
            return None
        if cmd == M.MAV_CMD_GET_HOME_POSITION:
            if not v.home_set:
                return R.FAILED
            self._ack(link, msg, cmd, R.ACCEPTED)
            link.send(self._make("HOME_POSITION"))
            return None
        if cmd == M.MAV_CMD_DO_CHANGE_SPEED:
            if p[1] > 0:
                v.wp_speed_mps = p[1]
                return R.ACCEPTED
            return R.FAILED
        if cmd == M.MAV_CMD_DO_SET_HOME:
            if int(p[0]) == 1:
                if not v.position_ok():
                    return R.FAILED
                v.set_home_here()
            else:
                if p[4] == 0 and p[5] == 0:
                    return R.FAILED
                v.set_home(p[4], p[5], p[6])
            return R.ACCEPTED
        if cmd == M.MAV_CMD_DO_REPOSITION:
            if v.mode != 4:
                if not (int(p[1]) & M.MAV_DO_REPOSITION_FLAGS_CHANGE_MODE) or not v.set_mode(4):
                    return R.FAILED
            alt = p[6]
            if frame in (0, 5):
                alt -= v.home_amsl_m
            return R.ACCEPTED if v.guided_goto(p[4], p[5], alt) else R.FAILED
        if cmd == M.MAV_CMD_DO_DIGICAM_CONTROL:
            if int(round(p[4])) == 1:
                v.take_picture()
            return R.ACCEPTED
        if cmd == M.MAV_CMD_DO_SET_CAM_TRIGG_DIST:
            v.camera.set_trigger_distance(p[0])
            if int(p[2]) == 1:
                v.take_picture()
            return R.ACCEPTED
        if cmd == M.MAV_CMD_IMAGE_START_CAPTURE:
            if not v.camera.present:
                return R.UNSUPPORTED
            count = int(p[2])
            if count == 1:
                if v.take_picture() is None:
                    return R.FAILED  # too soon after the previous photo
            else:
                v.camera.start_interval(v.t, p[1], count)
            return R.ACCEPTED
        if cmd == M.MAV_CMD_IMAGE_STOP_CAPTURE:
            v.camera.stop_interval()
            return R.ACCEPTED
        if cmd == M.MAV_CMD_CONDITION_YAW:
            if v.mode not in (4, 3) or not v.armed:
                return R.FAILED
            target = (v.yaw + (p[0] if p[2] >= 0 else -p[0])) if int(p[3]) else p[0]
            v.yaw_target = target % 360.0
            v.yaw_locked = True
            return R.ACCEPTED
        if cmd == M.MAV_CMD_DO_FENCE_ENABLE:
            v.fence.auto_enabled = int(p[0]) == 1
            if int(p[0]) == 0:
                v.params.set("FENCE_ENABLE", 0, persist=False)
            return R.ACCEPTED
        if cmd == M.MAV_CMD_DO_SET_MISSION_CURRENT:
            return R.ACCEPTED if v.mission.set_current(int(p[0])) else R.FAILED
        if cmd == M.MAV_CMD_DO_SET_SERVO:
            return R.ACCEPTED
        return R.UNSUPPORTED

    def _send_version(self, link: "Link") -> None:
        link.send(self._make("AUTOPILOT_VERSION"))

    # parameters
    def param_value(self, name: str) -> Any:
        params = self.v.params
        return self.enc.param_value_encode(name.encode(), params[name], params.mav_type(name), params.count(),
                                           params.index(name))

    def _on_param_request_list(self, link: "Link", msg: Any) -> None:
        link.param_queue = list(self.v.params.names())

    def _on_param_request_read(self, link: "Link", msg: Any) -> None:
        params = self.v.params
        if msg.param_index >= 0:
            name = params.by_index(msg.param_index)
        else:
            raw = msg.param_id
            name = (raw.decode(errors="ignore") if isinstance(raw, bytes) else raw).rstrip("\x00")
            name = name if name in params else None
        if name is not None:
            link.send(self.param_value(name))

    def _on_param_set(self, link: "Link", msg: Any) -> None:
        raw = msg.param_id
        name = (raw.decode(errors="ignore") if isinstance(raw, bytes) else raw).rstrip("\x00")
        params = self.v.params
        if name not in params:
            return  # ArduPilot ignores unknown names silently
        if params.read_only(name):
            self.text(MAV_SEVERITY.WARNING, f"Param write denied ({name})")
            link.send(self.param_value(name))
            return
        if math.isnan(msg.param_value) or math.isinf(msg.param_value):
            return
        params.set(name, msg.param_value)
        self.broadcast(self.param_value(name))

    # missions: delegated to the per-type protocol
    def _proto(self, msg: Any) -> MissionProtocol:
        return self.protocols.get(getattr(msg, "mission_type", 0), self.protocols[0])

    def _on_mission_count(self, link: "Link", msg: Any) -> None:
        if msg.mission_type not in self.protocols:
            link.send(self.enc.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(),
                                                  M.MAV_MISSION_UNSUPPORTED, msg.mission_type))
            return
        self._proto(msg).handle_count(link, msg)

    def _on_mission_item_int(self, link: "Link", msg: Any) -> None:
        item = MissionItem.from_int_fields(**_fields(msg))
        if msg.command not in LOCATION_COMMANDS and msg.mission_type == MAV_MISSION_TYPE.MISSION:
            # ArduPilot reads x/y of non-location commands raw, whatever the frame says
            item = replace(item, param5=float(msg.x), param6=float(msg.y))
        self._mission_item(link, msg, item)

    def _on_mission_item(self, link: "Link", msg: Any) -> None:
        self._mission_item(link, msg, MissionItem.from_float_fields(**_fields(msg)))

    def _mission_item(self, link: "Link", msg: Any, item: MissionItem) -> None:
        if msg.mission_type == MAV_MISSION_TYPE.MISSION and msg.current in (2, 3):
            self._guided_item(link, msg, item)
            return
        self._proto(msg).handle_item(link, msg, item)

    def _guided_item(self, link: "Link", msg: Any, item: MissionItem) -> None:
        v = self.v
        result = M.MAV_MISSION_ERROR
        if msg.current == 2 and v.mode == 4:
            alt = item.param7 - (v.home_amsl_m if item.frame in (0, 5) else 0.0)
            if v.guided_goto(item.param5, item.param6, alt):
                result = M.MAV_MISSION_ACCEPTED
        elif msg.current == 3 and v.target is not None:
            v.target = (v.target[0], v.target[1], item.param7)
            result = M.MAV_MISSION_ACCEPTED
        link.send(self.enc.mission_ack_encode(msg.get_srcSystem(), msg.get_srcComponent(), result, 0))

    def _on_mission_request_list(self, link: "Link", msg: Any) -> None:
        self._proto(msg).handle_request_list(link, msg)

    def _on_mission_request_int(self, link: "Link", msg: Any) -> None:
        self._proto(msg).handle_request(link, msg, as_int=True)

    def _on_mission_request(self, link: "Link", msg: Any) -> None:
        self._proto(msg).handle_request(link, msg, as_int=False)

    def _on_mission_clear_all(self, link: "Link", msg: Any) -> None:
        self._proto(msg).handle_clear_all(link, msg)

    def _on_mission_set_current(self, link: "Link", msg: Any) -> None:
        if self.v.mission.set_current(int(msg.seq)):
            self.mission_current_changed()

    def _on_mission_ack(self, link: "Link", msg: Any) -> None:
        pass

    def _on_file_transfer_protocol(self, link: "Link", msg: Any) -> None:
        """MAVLink FTP is not simulated: NAK every request (FileNotFound) so ground stations fall
        back to PARAM_REQUEST_LIST and mission download straight away instead of timing out."""
        payload = bytes(msg.payload)
        seq = int.from_bytes(payload[0:2], "little")
        session, opcode = payload[2], payload[3]
        reply = bytearray(251)
        reply[0:2] = ((seq + 1) & 0xFFFF).to_bytes(2, "little")
        reply[2] = session
        reply[3] = 129  # NAK
        reply[4] = 1  # size
        reply[5] = opcode
        reply[12] = 10  # FileNotFound
        link.send(self.enc.file_transfer_protocol_encode(0, msg.get_srcSystem(), msg.get_srcComponent(),
                                                         list(reply)))

    def _on_set_position_target_global_int(self, link: "Link", msg: Any) -> None:
        v = self.v
        mask = msg.type_mask
        pos_ignored = mask & 0b111 == 0b111
        vel_ignored = mask & 0b111000 == 0b111000
        if not pos_ignored:
            alt = msg.alt - (v.home_amsl_m if msg.coordinate_frame in (0, 5) else 0.0)
            v.guided_goto(msg.lat_int * 1e-7, msg.lon_int * 1e-7, alt)
        elif not vel_ignored:
            v.guided_velocity(msg.vx, msg.vy, -msg.vz)

    def _on_set_position_target_local_ned(self, link: "Link", msg: Any) -> None:
        v = self.v
        mask = msg.type_mask
        if mask & 0b111000 != 0b111000 and mask & 0b111 == 0b111:
            v.guided_velocity(msg.vx, msg.vy, -msg.vz)
        elif mask & 0b111 != 0b111:
            from .geo import offset_deg

            hn, he = v.home_ne()
            lat, lon = offset_deg(v.origin_lat, v.origin_lon, hn + msg.x, he + msg.y)
            v.guided_goto(lat, lon, -msg.z)


def _fields(msg: Any) -> dict[str, Any]:
    return {k: getattr(msg, k) for k in ("frame", "command", "param1", "param2", "param3", "param4", "x", "y", "z",
                                         "autocontinue", "mission_type")}

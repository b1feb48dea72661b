"""The simulated ArduCopter: kinematics, flight modes, arming, failsafes, fence and camera.

A point-mass multirotor whose position controller obeys ArduCopter's limits (WPNAV_SPEED,
WPNAV_ACCEL, WPNAV_SPEED_UP/DN, LAND_SPEED, the yaw slew rate, an airspeed cap set by
ANGLE_MAX against drag) flown in :class:`~uavops.sim.world.Wind`. Attitude is derived from the
acceleration and drag the controller asks for, which is what a camera pose needs.

The vehicle knows nothing about MAVLink: it reports through a :class:`VehicleEvents` sink
(status texts, mission progress, camera triggers) that the MAVLink layer implements.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from ..locations import Location
from ..mission import MAV_FRAME, MissionItem
from .camera import Camera, CameraTrigger
from .fence import Fence
from .geo import ne_from, offset_deg, wrap_180, wrap_360
from .mission_store import MissionStore
from .modes import GPS_MODES, MODE_NAMES, SUPPORTED_MODES
from .parameters import ParamStore
from .world import Battery, EkfStartup, Gps, Wind

__all__ = ["SimVehicle", "VehicleEvents", "VehicleState", "MAV_SEVERITY"]

GRAVITY = 9.80665
_DRAG_K = 0.0117  # 1/m: drag acceleration = k * airspeed^2 (22 m/s at 30 degrees lean)


class MAV_SEVERITY:  # noqa: N801
    EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFO, DEBUG = range(8)


class VehicleEvents(Protocol):
    def text(self, severity: int, text: str) -> None: ...
    def mission_item_reached(self, seq: int) -> None: ...
    def mission_current_changed(self) -> None: ...
    def camera_feedback(self, trigger: CameraTrigger) -> None: ...
    def home_changed(self) -> None: ...


class _NullEvents:
    def text(self, severity: int, text: str) -> None:
        pass

    def mission_item_reached(self, seq: int) -> None:
        pass

    def mission_current_changed(self) -> None:
        pass

    def camera_feedback(self, trigger: CameraTrigger) -> None:
        pass

    def home_changed(self) -> None:
        pass


@dataclass(frozen=True)
class VehicleState:
    """A consistent snapshot of what the vehicle is doing (true state, not the noisy estimate)."""

    sim_time_s: float
    lat_deg: float
    lon_deg: float
    alt_rel_m: float
    alt_amsl_m: float
    vn_mps: float
    ve_mps: float
    climb_mps: float
    groundspeed_mps: float
    airspeed_mps: float
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    mode: int
    mode_name: str
    armed: bool
    landed: bool
    battery_pct: float
    battery_voltage_v: float
    battery_current_a: float
    mission_seq: int
    ekf_ok: bool
    gps_fix_type: int


class SimVehicle:
    """One simulated copter. Driven by :meth:`step`; commanded by the MAVLink layer's calls."""

    def __init__(self, home: Location, params: ParamStore, store: MissionStore, *, seed: int = 0,
                 ekf_settle_s: float = 41.0, epoch_usec: int = 1_753_056_000_000_000,
                 wind_speed_mps: float | None = None, wind_dir_deg: float | None = None,
                 wind_turbulence_mps: float | None = None, gps_noise_m: float = 0.3) -> None:
        self.params = params
        self.store = store
        self.events: VehicleEvents = _NullEvents()
        self.rng = random.Random(seed)
        self.t = 0.0
        self.epoch_usec = epoch_usec
        self.origin_lat, self.origin_lon = home.lat_deg, home.lon_deg
        self.home_lat, self.home_lon, self.home_amsl_m = home.lat_deg, home.lon_deg, home.ground_amsl_m
        self.ground_amsl_m = home.ground_amsl_m
        self.home_set = False  # ArduPilot sets home when the EKF has a position
        self.n = self.e = self.alt = 0.0  # metres from the origin; alt above home
        self.vn = self.ve = self.vz = 0.0  # commanded ground velocity (vz up)
        self.an = self.ae = 0.0
        self.yaw = wrap_360(home.heading_deg)
        self.yaw_rate = 0.0
        self.roll = self.pitch = 0.0
        self.armed = False
        self.mode = 0
        self.landed = True
        self.auto_armed = False
        self._landed_armed_s = 0.0
        self._last_prearm_report_s = 0.0
        self.internal_error = False  # latched until reboot, like AP_InternalError
        self.wind = Wind(self.rng, params["SIM_WIND_SPD"] if wind_speed_mps is None else wind_speed_mps,
                         params["SIM_WIND_DIR"] if wind_dir_deg is None else wind_dir_deg,
                         params["SIM_WIND_TURB"] if wind_turbulence_mps is None else wind_turbulence_mps)
        self.gps = Gps(self.rng, noise_m=gps_noise_m, fix_after_s=0.7 * ekf_settle_s)
        self.ekf = EkfStartup(ekf_settle_s)
        self.battery = Battery(capacity_mah=params["BATT_CAPACITY"])
        self.camera = Camera(params, self._camera_pose)
        self.camera.listeners.append(lambda trig: self.events.camera_feedback(trig))
        self.fence = Fence(self)
        # navigation
        self.target: tuple[float, float, float] | None = None  # n, e, alt
        self.target_end_speed = 0.0
        self.wp_speed_mps = params["WPNAV_SPEED"] / 100.0
        self.yaw_target: float | None = None
        self.yaw_rate_limit = params["ATC_SLEW_YAW"] / 100.0
        self.yaw_locked = False
        self.guided_vel: tuple[float, float, float, float] | None = None  # vn, ve, vup, until_t
        self.phase = ""  # takeoff / land / rtl phases
        self.rtl_state = ""
        self.rtl_alt = 0.0
        self._rtl_loiter_until = 0.0
        self.land_target: tuple[float, float] | None = None
        self.batt_fs_level = 0  # 0 none, 1 low, 2 critical
        self._batt_low_since: float | None = None
        self._batt_crit_since: float | None = None
        self.gcs_fs_active = False
        self.last_gcs_heartbeat_s: float | None = None
        self.ekf_fs_active = False
        self._gps_bad_since: float | None = None
        from .executor import MissionRunner

        self.mission = MissionRunner(self)
        params.on_change(self._param_changed)

    # --- helpers -------------------------------------------------------------------------
    def _param_changed(self, name: str, value: float) -> None:
        if name == "WPNAV_SPEED":
            self.wp_speed_mps = value / 100.0
        elif name == "BATT_CAPACITY":
            self.battery.capacity_mah = value
        elif name == "SIM_WIND_SPD":
            self.wind.speed_mps = value
        elif name == "SIM_WIND_DIR":
            self.wind.direction_deg = value
        elif name == "SIM_WIND_TURB":
            self.wind.turbulence_mps = value
        elif name == "SIM_GPS_DISABLE":
            self.gps.lost = bool(value)
        elif name == "ATC_SLEW_YAW":
            self.yaw_rate_limit = max(1.0, value / 100.0)

    def text(self, severity: int, message: str) -> None:
        self.events.text(severity, message)

    @property
    def lat_deg(self) -> float:
        return offset_deg(self.origin_lat, self.origin_lon, self.n, self.e)[0]

    @property
    def lon_deg(self) -> float:
        return offset_deg(self.origin_lat, self.origin_lon, self.n, self.e)[1]

    def latlon(self) -> tuple[float, float]:
        return offset_deg(self.origin_lat, self.origin_lon, self.n, self.e)

    def estimated_latlon(self) -> tuple[float, float]:
        """What the EKF reports: truth plus a share of the GPS wander."""
        en, ee, _ = self.gps.error_ned_m
        return offset_deg(self.origin_lat, self.origin_lon, self.n + 0.5 * en, self.e + 0.5 * ee)

    @property
    def alt_rel_m(self) -> float:
        return self.alt

    @property
    def alt_amsl_m(self) -> float:
        return self.home_amsl_m + self.alt

    @property
    def mode_name(self) -> str:
        return MODE_NAMES.get(self.mode, str(self.mode))

    @property
    def battery_pct(self) -> float:
        return 100.0 * self.battery.remaining_frac()

    @property
    def groundspeed_mps(self) -> float:
        return math.hypot(self.vn, self.ve)

    def airspeed_ne(self) -> tuple[float, float]:
        wn, we = self.wind.velocity_ne
        return self.vn - wn, self.ve - we

    def position_ok(self) -> bool:
        return self.ekf.position_ok(self.t, self.gps.has_fix(self.t)) and not self.ekf_fs_active

    def ne_of(self, lat_deg: float, lon_deg: float) -> tuple[float, float]:
        return ne_from(self.origin_lat, self.origin_lon, lat_deg, lon_deg)

    def home_ne(self) -> tuple[float, float]:
        return self.ne_of(self.home_lat, self.home_lon)

    def state(self) -> VehicleState:
        lat, lon = self.latlon()
        an, ae = self.airspeed_ne()
        return VehicleState(self.t, lat, lon, self.alt, self.alt_amsl_m, self.vn, self.ve, self.vz,
                            self.groundspeed_mps, math.hypot(an, ae), self.roll, self.pitch, self.yaw, self.mode,
                            self.mode_name, self.armed, self.landed, self.battery_pct, self.battery.voltage(),
                            self.battery.current_a, self.mission.current_seq, self.position_ok(),
                            self.gps.fix_type(self.t))

    def _camera_pose(self, img_idx: int) -> CameraTrigger:
        lat, lon = self.estimated_latlon()
        return CameraTrigger(time_usec=int(self.epoch_usec + self.t * 1e6), lat_deg=lat, lon_deg=lon,
                             alt_amsl_m=self.alt_amsl_m, alt_rel_m=self.alt, roll_deg=self.roll,
                             pitch_deg=self.pitch, yaw_deg=self.yaw, img_idx=img_idx)

    def take_picture(self) -> CameraTrigger | None:
        return self.camera.take_picture(self.t)

    def location_to_ne_alt(self, item: MissionItem, *, default_alt: float | None = None) -> tuple[float, float, float]:
        """Target of a navigation item (lat/lon 0 = here, alt 0 = current altitude for waypoints)."""
        if item.param5 == 0 and item.param6 == 0:
            n, e = self.n, self.e
        else:
            n, e = self.ne_of(item.param5, item.param6)
        alt = item.param7
        if item.frame in (MAV_FRAME.GLOBAL, MAV_FRAME.GLOBAL_INT):
            alt = alt - self.home_amsl_m
        if default_alt is not None and item.param7 == 0 and item.frame not in (MAV_FRAME.GLOBAL, MAV_FRAME.GLOBAL_INT):
            alt = default_alt
        return n, e, alt

    # --- modes ---------------------------------------------------------------------------
    def set_mode(self, mode: int, reason: str = "GCS") -> bool:
        """Change flight mode as Copter::set_mode does; False when refused (and says why)."""
        if mode == self.mode:
            if mode == 3 and self.armed:
                return True
            return True
        if mode not in SUPPORTED_MODES:
            self.text(MAV_SEVERITY.WARNING, "Flight mode change failed")
            return False
        ignore_checks = not self.armed
        if not ignore_checks and mode in GPS_MODES and not self.position_ok():
            self.text(MAV_SEVERITY.WARNING, f"Flight mode change failed: {MODE_NAMES[mode]} requires position")
            return False
        if mode == 3:
            if not ignore_checks and self.store.count(0) <= 1:
                self.text(MAV_SEVERITY.WARNING, "AutoMode: No Mission")
                return False
            if self.armed and self.landed and not self.mission.starts_with_takeoff():
                self.text(MAV_SEVERITY.CRITICAL, "Auto: Missing Takeoff Cmd")
                return False
        if mode in (6, 21) and not ignore_checks and not self.home_set:
            return False
        old = self.mode
        self.mode = mode
        self._enter_mode(old)
        return True

    def _enter_mode(self, old: int) -> None:
        self.guided_vel = None
        self.yaw_target = None
        self.yaw_locked = False
        if old == 3:
            self.mission.stop()
        if self.mode == 3:
            if self.armed and not self.landed:
                self.auto_armed = True
            self.mission.start_or_resume()
        elif self.mode in (4, 5, 16, 17):
            self.target = (self.n, self.e, self.alt)
            self.target_end_speed = 0.0
            self.phase = "hold"
        elif self.mode in (6, 21):
            self.start_rtl()
        elif self.mode == 9:
            self.start_land(None)
        elif self.mode in (0, 2):
            self.target = None
            self.phase = "manual"

    def start_rtl(self) -> None:
        rtl_alt = self.params["RTL_ALT"] / 100.0
        climb_min = self.params["RTL_CLIMB_MIN"] / 100.0
        self.rtl_alt = max(rtl_alt, self.alt + climb_min) if self.alt < rtl_alt else self.alt + climb_min
        self.rtl_state = "climb"
        self.phase = "rtl"
        self.target = (self.n, self.e, self.rtl_alt)
        self.target_end_speed = 0.0
        hn, he = self.home_ne()
        if math.hypot(self.n - hn, self.e - he) < 2.0 and self.alt < 1.0:
            self.rtl_state = "land"
            self.start_land(None, phase="rtl")

    def start_land(self, at_ne: tuple[float, float] | None, phase: str = "land") -> None:
        self.phase = phase
        if phase == "rtl":
            self.rtl_state = "land"
        self.land_target = at_ne
        if at_ne is None:
            self.target = (self.n, self.e, self.alt)
        else:
            self.target = (at_ne[0], at_ne[1], self.alt)
        self.target_end_speed = 0.0

    def start_takeoff(self, alt_rel_m: float) -> None:
        self.phase = "takeoff"
        self.landed = False
        self.auto_armed = True
        self._landed_armed_s = 0.0
        self.target = (self.n, self.e, alt_rel_m)
        self.target_end_speed = 0.0

    def user_takeoff(self, alt_rel_m: float) -> bool:
        """MAV_CMD_NAV_TAKEOFF outside missions (Mode::do_user_takeoff)."""
        if not self.armed or not self.landed or self.mode not in (4,) or alt_rel_m <= self.alt:
            return False
        self.start_takeoff(alt_rel_m)
        return True

    def guided_goto(self, lat_deg: float, lon_deg: float, alt_rel_m: float) -> bool:
        if self.mode != 4 or not self.armed:
            return False
        n, e = self.ne_of(lat_deg, lon_deg)
        if self.landed:
            return False
        self.guided_vel = None
        self.phase = "goto"
        self.target = (n, e, alt_rel_m)
        self.target_end_speed = 0.0
        return True

    def guided_velocity(self, vn: float, ve: float, vup: float) -> bool:
        if self.mode != 4 or not self.armed or self.landed:
            return False
        self.guided_vel = (vn, ve, vup, self.t + 3.0)
        return True

    # --- arming --------------------------------------------------------------------------
    def arm_checks(self) -> list[str]:
        """Why arming would fail now, worded as ArduCopter 4.7 words them (without the prefix).

        Arming attempts report them as ``Arm: ...``; while disarmed they are repeated every
        30 s as ``PreArm: ...`` (as SITL does).
        """
        checks = int(self.params["ARMING_CHECK"])
        if self.mode == 3 and not (int(self.params["AUTO_OPTIONS"]) & 1):
            return ["Mode not armable"]
        if self.mode in (6, 9, 21):
            return ["Mode not armable"]
        reasons: list[str] = []
        if checks and self.t < min(2.0, self.ekf.settle_s):
            reasons.append("EKF attitude is bad")
        if checks and not self.home_set:
            reasons.append("AHRS: waiting for home")
        if checks and (self.batt_fs_level or self._battery_below(low=True)):
            reasons.append("Battery 1 low voltage failsafe")
        if self.internal_error:
            reasons.insert(0, "Internal errors 0x100000 l:373 flow_of_ctrl")
        if not self.position_ok():
            if self.mode in GPS_MODES and (self.gps.has_fix(self.t) or not self.fence.enabled()):
                reasons.append("Need Position Estimate")
            elif self.fence.enabled():
                reasons.append("Fence requires position")
        elif checks and self.fence.enabled() and self.fence.breaches():
            reasons.append("Fence: vehicle outside fence")
        return reasons

    def arm(self, force: bool = False) -> tuple[bool, list[str]]:
        if self.armed:
            return True, []
        reasons = [] if force else [f"Arm: {r}" for r in self.arm_checks()]
        if reasons:
            return False, reasons
        self.armed = True
        self.text(MAV_SEVERITY.INFO, "Arming motors")
        self.landed = True
        self.auto_armed = False
        self._landed_armed_s = 0.0
        if not self.home_set and self.position_ok():
            self.set_home_here()
        self.fence.on_arm()
        return True, []

    def disarm(self, force: bool = False, reason: str = "") -> bool:
        if not self.armed:
            return True
        if not force and not self.landed:
            return False
        self.armed = False
        self.auto_armed = False
        self.mission.on_disarm()
        self.phase = ""
        self.target = None
        self.vn = self.ve = self.vz = 0.0
        if not self.landed:
            self.landed = True  # forced disarm in the air: the simulator drops it to the ground
            self.alt = 0.0
        self.text(MAV_SEVERITY.INFO, "Disarming motors")
        return True

    def set_home_here(self) -> None:
        self.home_lat, self.home_lon = self.latlon()
        self.home_amsl_m = self.ground_amsl_m
        self.home_set = True
        self.events.home_changed()

    def set_home(self, lat_deg: float, lon_deg: float, alt_amsl_m: float) -> None:
        self.home_lat, self.home_lon, self.home_amsl_m = lat_deg, lon_deg, alt_amsl_m
        # altitudes stay relative to the ground the vehicle stands on
        self.home_set = True
        self.events.home_changed()

    # --- failsafes -----------------------------------------------------------------------
    def _battery_below(self, low: bool) -> bool:
        p = self.params
        volt_key, mah_key = ("BATT_LOW_VOLT", "BATT_LOW_MAH") if low else ("BATT_CRT_VOLT", "BATT_CRT_MAH")
        if int(p["BATT_MONITOR"]) == 0:
            return False
        remaining_mah = self.battery.capacity_mah - self.battery.consumed_mah
        if p[mah_key] > 0 and remaining_mah < p[mah_key]:
            return True
        return bool(p[volt_key] > 0 and self.battery.voltage() < p[volt_key] and self.armed)

    def _failsafe_action(self, action: int, kind: str) -> None:
        """Battery / GCS failsafe actions (FS_GCS_ENABLE and BATT_FS_*_ACT numbering)."""
        if not self.armed:
            return
        if self.landed:
            self.disarm(force=True, reason=f"{kind} failsafe")
            return
        if kind == "battery":
            table = {0: None, 1: 9, 2: 6, 3: 6, 4: 9, 5: None, 6: 6, 7: 9}
        else:  # GCS: 1 RTL, 2 continue in AUTO, 3 SmartRTL->RTL, 4 SmartRTL->Land, 5 Land, 6 DO_LAND_START->RTL, 7 brake->land
            table = {0: None, 1: 6, 2: 6 if self.mode != 3 else None, 3: 6, 4: 9, 5: 9, 6: 6, 7: 9}
        mode = table.get(action, 6)
        if mode is None:
            return
        if self.mode == 9 or (self.mode == 6 and mode == 6):
            return
        if not self.set_mode(mode, reason=kind):
            self.set_mode(9, reason=kind)

    def check_failsafes(self, dt: float) -> None:
        p = self.params
        # battery
        for level, low in ((2, False), (1, True)):
            if self.batt_fs_level >= level:
                continue
            below = self._battery_below(low)
            remaining_mah = self.battery.capacity_mah - self.battery.consumed_mah
            mah_key = "BATT_LOW_MAH" if low else "BATT_CRT_MAH"
            immediate = p[mah_key] > 0 and remaining_mah < p[mah_key]
            attr = "_batt_low_since" if low else "_batt_crit_since"
            if below:
                since = getattr(self, attr)
                if since is None:
                    setattr(self, attr, self.t)
                    since = self.t
                if immediate or self.t - since >= p["BATT_LOW_TIMER"]:
                    self.batt_fs_level = level
                    word = "low" if low else "critical"
                    self.text(MAV_SEVERITY.CRITICAL, f"Battery 1 is {word} {self.battery.voltage():.2f}V used "
                              f"{self.battery.consumed_mah:.0f} mAh")
                    self._failsafe_action(int(p["BATT_FS_LOW_ACT" if low else "BATT_FS_CRT_ACT"]), "battery")
                    break
            else:
                setattr(self, attr, None)
        # ground station heartbeat
        if int(p["FS_GCS_ENABLE"]) and self.last_gcs_heartbeat_s is not None and self.armed:
            lost = self.t - self.last_gcs_heartbeat_s > p["FS_GCS_TIMEOUT"]
            if lost and not self.gcs_fs_active:
                self.gcs_fs_active = True
                self.text(MAV_SEVERITY.WARNING, "GCS Failsafe")
                self._failsafe_action(int(p["FS_GCS_ENABLE"]), "gcs")
            elif not lost and self.gcs_fs_active:
                self.gcs_fs_active = False
                self.text(MAV_SEVERITY.WARNING, "GCS Failsafe Cleared")
        elif self.gcs_fs_active and not self.armed:
            self.gcs_fs_active = False
        # EKF failsafe on GPS loss: LAND after ~1 s with no GPS while flying in a GPS mode
        if self.ekf.position_ok(self.t, True):
            if not self.gps.has_fix(self.t) and self.armed:
                if self._gps_bad_since is None:
                    self._gps_bad_since = self.t
                if not self.ekf_fs_active and self.t - self._gps_bad_since > 1.0:
                    self.ekf_fs_active = True
                    self.text(MAV_SEVERITY.CRITICAL, "EKF Failsafe: changed to LAND Mode")
                    if self.armed and not self.landed and self.mode in GPS_MODES and int(p["FS_EKF_ACTION"]):
                        self.mode = 9
                        self._enter_mode(-1)
                        self.land_target = None
            elif self.gps.has_fix(self.t) or not self.armed:
                self._gps_bad_since = None
                if self.ekf_fs_active and self.gps.has_fix(self.t):
                    self.ekf_fs_active = False
                    self.text(MAV_SEVERITY.CRITICAL, "EKF Failsafe Cleared")
        # fence
        if self.armed and not self.landed:
            self.fence.check()

    def on_gcs_heartbeat(self) -> None:
        self.last_gcs_heartbeat_s = self.t

    # --- simulation step -----------------------------------------------------------------
    def step(self, dt: float) -> None:
        self.t += dt
        self.wind.step(dt)
        self.gps.step(dt)
        if not self.home_set and self.position_ok():
            self.set_home_here()
            self.text(MAV_SEVERITY.INFO, "EKF3 IMU0 is using GPS")
        if self.armed:
            self._control(dt)
        else:
            self.vn = self.ve = self.vz = 0.0
            self.an = self.ae = 0.0
        self._integrate(dt)
        an, ae = self.airspeed_ne()
        flying = self.armed and not self.landed
        self.battery.step(dt, Battery.current_for(armed=self.armed, flying=flying, airspeed_mps=math.hypot(an, ae),
                                                  climb_mps=self.vz))
        lat, lon = self.estimated_latlon()
        self.camera.update(self.t, lat, lon, self.gps.has_fix(self.t), self.roll, self.mode == 3)
        self.check_failsafes(dt)
        self._auto_disarm(dt)
        if not self.armed and self.t - self._last_prearm_report_s >= 30.0:
            # AP_Arming::update: pre-arm failures are reported every 30 s while disarmed
            self._last_prearm_report_s = self.t
            for reason in self.arm_checks():
                if reason != "Mode not armable":
                    self.text(MAV_SEVERITY.CRITICAL, f"PreArm: {reason}")

    def _auto_disarm(self, dt: float) -> None:
        if not self.armed:
            return
        if self.landed and not (self.phase == "takeoff"):
            self._landed_armed_s += dt
            delay = self.params["DISARM_DELAY"]
            if delay > 0 and self._landed_armed_s >= delay:
                self.disarm(force=True, reason="auto disarm")
        else:
            self._landed_armed_s = 0.0

    # --- control -------------------------------------------------------------------------
    def _control(self, dt: float) -> None:
        p = self.params
        mode = self.mode
        if self.landed and self.phase != "takeoff":
            # on the ground: only a takeoff (GUIDED takeoff, AUTO takeoff item) lifts off
            if mode == 3 and self.auto_armed:
                self.mission.update(dt)
            self.vn = self.ve = self.vz = 0.0
            self.an = self.ae = 0.0
            return
        if mode == 3:
            self.mission.update(dt)
        elif mode in (6, 21):
            self._rtl_update()
        elif mode == 4 and self.guided_vel is not None and self.phase != "takeoff":
            vn, ve, vup, until = self.guided_vel
            if self.t > until:
                self.guided_vel = None
                self.target = (self.n, self.e, self.alt)
            else:
                self._velocity_control(dt, vn, ve, vup)
                return
        if mode in (0,) and not self.landed:
            # no pilot throttle in the simulator: motors at minimum, the copter sinks
            self._velocity_control(dt, 0.0, 0.0, -3.0)
            self._detect_landing()
            return
        if mode == 2:
            self._velocity_control(dt, self.vn * 0.98, self.ve * 0.98, 0.0)
            return
        if self.phase in ("land",) or (self.phase == "rtl" and self.rtl_state == "land"):
            self._land_control(dt)
            return
        if self.target is not None:
            speed = self.wp_speed_mps
            if self.phase == "rtl" and p["RTL_SPEED"] > 0:
                speed = p["RTL_SPEED"] / 100.0
            self._position_control(dt, self.target, speed, self.target_end_speed)
            if self.phase == "takeoff" and self.alt >= self.target[2] - 0.1:
                self.phase = "hold"
        else:
            self._velocity_control(dt, 0.0, 0.0, 0.0)

    def _rtl_update(self) -> None:
        hn, he = self.home_ne()
        if self.rtl_state == "climb":
            if self.alt >= self.rtl_alt - 0.2:
                self.rtl_state = "return"
                self.target = (hn, he, self.rtl_alt)
        elif self.rtl_state == "return":
            self.target = (hn, he, self.rtl_alt)
            if math.hypot(self.n - hn, self.e - he) < self.params["WPNAV_RADIUS"] / 100.0 and self.groundspeed_mps < 1.0:
                self.rtl_state = "loiter"
                self._rtl_loiter_until = self.t + self.params["RTL_LOIT_TIME"] / 1000.0
        elif self.rtl_state == "loiter":
            if self.t >= self._rtl_loiter_until:
                final = self.params["RTL_ALT_FINAL"] / 100.0
                if final > 0:
                    self.rtl_state = "final"
                    self.target = (hn, he, final)
                else:
                    self.start_land((hn, he), phase="rtl")

    def _land_control(self, dt: float) -> None:
        p = self.params
        tn, te = self.land_target if self.land_target is not None else (self.target[0], self.target[1]) if self.target else (self.n, self.e)
        dist = math.hypot(tn - self.n, te - self.e)
        if self.land_target is not None and dist > 2.0:
            # fly to the landing point first, at the current altitude
            self._position_control(dt, (tn, te, self.alt), self.wp_speed_mps, 0.0)
            return
        low_alt = p["LAND_ALT_LOW"] / 100.0
        if self.alt > low_alt:
            high = p["LAND_SPEED_HIGH"] if p["LAND_SPEED_HIGH"] > 0 else p["WPNAV_SPEED_DN"]
            descent = high / 100.0
        else:
            descent = p["LAND_SPEED"] / 100.0
        # hold position horizontally while descending
        hn_v, he_v = self._horizontal_velocity_to(tn, te, self.wp_speed_mps, 0.0)
        self._velocity_control(dt, hn_v, he_v, -descent)
        self._detect_landing()

    def _detect_landing(self) -> None:
        if self.alt <= 0.0 and self.vz <= 0.0:
            self.alt = 0.0
            self.vz = self.vn = self.ve = 0.0
            self.landed = True
            self.phase = "landed"
            self.target = None
            if self.mode == 3:
                self.mission.on_landed()
            elif self.mode in (6, 9, 21):
                self.disarm(force=True, reason="landed")

    def _horizontal_velocity_to(self, tn: float, te: float, speed: float, end_speed: float) -> tuple[float, float]:
        dn, de = tn - self.n, te - self.e
        dist = math.hypot(dn, de)
        if dist < 1e-3:
            return 0.0, 0.0
        accel = max(0.5, self.params["WPNAV_ACCEL"] / 100.0)
        v = min(speed, math.sqrt(end_speed ** 2 + 2.0 * accel * dist * 0.9), dist * 2.0 + end_speed)
        return dn / dist * v, de / dist * v

    def _position_control(self, dt: float, target: tuple[float, float, float], speed: float,
                          end_speed: float) -> None:
        tn, te, talt = target
        vn, ve = self._horizontal_velocity_to(tn, te, speed, end_speed)
        err = talt - self.alt
        up = self.params["WPNAV_SPEED_UP"] / 100.0
        dn = abs(self.params["WPNAV_SPEED_DN"]) / 100.0
        accel_z = max(0.3, self.params["WPNAV_ACCEL_Z"] / 100.0)
        vz = math.copysign(min(math.sqrt(2.0 * accel_z * abs(err)), 2.0 * abs(err)), err)
        vz = max(-dn, min(up, vz))
        self._velocity_control(dt, vn, ve, vz)
        dist = math.hypot(tn - self.n, te - self.e)
        if self.yaw_target is None and not self.yaw_locked and dist > 2.0 and self.phase != "takeoff":
            self._slew_yaw(dt, math.degrees(math.atan2(te - self.e, tn - self.n)))
        elif self.yaw_target is not None:
            self._slew_yaw(dt, self.yaw_target)

    def _slew_yaw(self, dt: float, target_deg: float) -> None:
        err = wrap_180(target_deg - self.yaw)
        step = self.yaw_rate_limit * dt
        self.yaw_rate = max(-self.yaw_rate_limit, min(self.yaw_rate_limit, err / dt if dt else 0.0))
        self.yaw = wrap_360(self.yaw + max(-step, min(step, err)))

    def _velocity_control(self, dt: float, vn_des: float, ve_des: float, vz_des: float) -> None:
        accel = max(0.5, self.params["WPNAV_ACCEL"] / 100.0)
        dvn, dve = vn_des - self.vn, ve_des - self.ve
        dv = math.hypot(dvn, dve)
        max_dv = accel * dt
        if dv > max_dv:
            dvn, dve = dvn / dv * max_dv, dve / dv * max_dv
        self.an, self.ae = dvn / dt, dve / dt
        vn, ve = self.vn + dvn, self.ve + dve
        # the airframe cannot exceed the airspeed its lean angle allows
        wn, we = self.wind.velocity_ne
        an, ae = vn - wn, ve - we
        max_air = math.sqrt(GRAVITY * math.tan(math.radians(self.params["ANGLE_MAX"] / 100.0)) / _DRAG_K)
        air = math.hypot(an, ae)
        if air > max_air:
            an, ae = an / air * max_air, ae / air * max_air
            vn, ve = an + wn, ae + we
        self.vn, self.ve = vn, ve
        accel_z = max(0.3, self.params["WPNAV_ACCEL_Z"] / 100.0)
        dvz = max(-accel_z * dt, min(accel_z * dt, vz_des - self.vz))
        self.vz += dvz

    def _integrate(self, dt: float) -> None:
        if not self.armed or self.landed and self.phase != "takeoff":
            self.roll = self.pitch = 0.0
            return
        gn, ge = self.wind.gust_ne
        # the controller rejects gusts with a lag: part of each gust shows in the ground track
        self.n += (self.vn + 0.25 * gn) * dt
        self.e += (self.ve + 0.25 * ge) * dt
        self.alt += self.vz * dt
        if self.phase == "takeoff" and self.alt > 0.05:
            self.landed = False
        if self.alt < 0.0 and self.phase not in ("land", "rtl", "takeoff") and self.mode not in (0,):
            self.alt = 0.0
            self.vz = max(0.0, self.vz)
        # attitude from the horizontal force the rotors must produce: acceleration plus drag
        an, ae = self.airspeed_ne()
        air = math.hypot(an, ae)
        fn = self.an + _DRAG_K * an * air
        fe = self.ae + _DRAG_K * ae * air
        yaw = math.radians(self.yaw)
        f_fwd = fn * math.cos(yaw) + fe * math.sin(yaw)
        f_right = -fn * math.sin(yaw) + fe * math.cos(yaw)
        self.pitch = -math.degrees(math.atan2(f_fwd, GRAVITY))
        self.roll = math.degrees(math.atan2(f_right, GRAVITY))

"""The mission executor: AP_Mission's nav/do command sequencing with ArduCopter's mode_auto verbs.

Navigation commands run one at a time; the DO/CONDITION commands after a navigation command run
while it flies, as ArduPilot does. Each started command announces ``Mission: N Name``; each
completed navigation or condition command sends MISSION_ITEM_REACHED with its sequence number
(home is 0, so the first real item is 1).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..mission import MAV_CMD, MissionItem
from .mission_store import is_nav_command

if TYPE_CHECKING:
    from .vehicle import SimVehicle

__all__ = ["MissionRunner", "COMMAND_NAMES"]

COMMAND_NAMES = {16: "WP", 17: "LoitUnlim", 18: "LoitTurns", 19: "LoitTime", 20: "RTL", 21: "Land", 22: "Takeoff",
                 93: "Delay", 112: "CondDelay", 114: "CondDist", 115: "CondYaw", 177: "Jump", 178: "ChangeSpeed",
                 179: "SetHome", 183: "SetServo", 189: "LandStart", 201: "SetROI", 203: "DigiCamCtrl",
                 205: "MountControl", 206: "SetCamTrigDst", 207: "FenceEnable", 2000: "ImageStartCapture",
                 2001: "ImageStopCapture", 1000: "GimbalPitchYaw", 82: "SplineWP"}

STOPPED, RUNNING, COMPLETE = 0, 1, 2
# DO commands AP_Mission::verify_command completes itself (no MISSION_ITEM_REACHED for them)
_AP_MISSION_VERIFIED = {181, 182, 183, 184, 200, 202, 203, 206, 208, 211, 215}


class MissionRunner:
    def __init__(self, vehicle: "SimVehicle") -> None:
        self.v = vehicle
        self.state = STOPPED
        self.nav_index: int | None = None
        self.nav_item: MissionItem | None = None
        self.nav_started_t = 0.0
        self._nav_phase = ""
        self._hold_until: float | None = None
        self.do_queue: list[int] = []  # DO/CONDITION items still to run while the current nav flies
        self._takeoff_pending: float | None = None
        self._resume_pending: list[int] = []  # DO items before the nav chosen by set_current, run on resume
        self.cond_item: tuple[int, MissionItem] | None = None
        self._cond_until = 0.0
        self.jump_counts: dict[int, int] = {}

    # --- state ---------------------------------------------------------------------------
    @property
    def items(self) -> list[MissionItem]:
        return self.v.store.mission

    @property
    def current_seq(self) -> int:
        return self.nav_index if self.nav_index is not None else (0 if self.state != COMPLETE else 0)

    def starts_with_takeoff(self) -> bool:
        for i in range(1, min(len(self.items), 17)):
            cmd = self.items[i].command
            if cmd == MAV_CMD.NAV_TAKEOFF:
                return True
            if is_nav_command(cmd) and cmd != 93:
                return False
        return False

    def reset(self) -> None:
        self.nav_index = None
        self.nav_item = None
        self.do_queue = []
        self.cond_item = None
        self.jump_counts.clear()

    def start(self) -> None:
        self.state = RUNNING
        self.reset()
        if self.v.armed and (not self.v.landed or self.v.auto_armed):
            if not self._advance_nav(1):
                self._complete()
                return
        self.v.events.mission_current_changed()

    def start_or_resume(self) -> None:
        """AP_Mission::start_or_resume: restart with MIS_RESTART 1 or after completion, else resume."""
        if int(self.v.params["MIS_RESTART"]) == 1 or self.state == COMPLETE or self.nav_index is None \
                or self.nav_index >= len(self.items):
            self.start()
            return
        self.state = RUNNING
        pending, self._resume_pending = self._resume_pending, []
        self._start_nav(self.nav_index, pending)

    def stop(self) -> None:
        if self.state == RUNNING:
            self.state = STOPPED

    def on_disarm(self) -> None:
        if self.state == RUNNING:
            self.state = STOPPED

    def set_current(self, seq: int) -> bool:
        """MISSION_SET_CURRENT / DO_SET_MISSION_CURRENT: jump to ``seq`` (0 restarts at 1)."""
        if seq >= len(self.items) or len(self.items) <= 1:
            return False
        if seq == 0:
            seq = 1
            self.jump_counts.clear()
        running = self.state == RUNNING and self.v.mode == 3
        self.nav_index = None
        self.do_queue = []
        self.cond_item = None
        if self.state == COMPLETE:
            self.state = STOPPED
        # find the first nav command at or after seq; DO commands on the way run with it
        idx = seq
        pending: list[int] = []
        while idx < len(self.items) and not is_nav_command(self.items[idx].command):
            if self.items[idx].command != MAV_CMD.DO_JUMP:
                pending.append(idx)
            idx += 1
        if idx >= len(self.items):
            return False
        if running:
            self._start_nav(idx, pending)
        else:
            self.nav_index = idx
            self.nav_item = self.items[idx]
            self._resume_pending = pending
        self.v.events.mission_current_changed()
        return True

    # --- sequencing ------------------------------------------------------------------------
    def _advance_nav(self, start: int) -> bool:
        """Find the next nav command from ``start`` (following DO_JUMPs) and start it.

        The DO/CONDITION commands passed on the way run while that nav command flies, as in
        AP_Mission::advance_current_nav_cmd: a DO placed after waypoint N runs when N is reached.
        """
        idx = start
        guard = 0
        pending: list[int] = []
        while idx < len(self.items):
            guard += 1
            if guard > 10000:
                return False
            item = self.items[idx]
            if item.command == MAV_CMD.DO_JUMP:
                target, repeat = int(item.param1), int(item.param2)
                done = self.jump_counts.get(idx, 0)
                if repeat < 0 or done < repeat:
                    self.jump_counts[idx] = done + 1
                    self.v.text(6, f"Mission: {idx} Jump {done + 1}/{repeat}")
                    idx = target
                    continue
                idx += 1
                continue
            if is_nav_command(item.command):
                if pending and self.items[pending[0]].command not in (112, 114, 115):
                    # AP_Mission starts the first DO command it passes before starting the nav command
                    first = pending.pop(0)
                    self._start_do(first, self.items[first])
                self._start_nav(idx, pending)
                return True
            pending.append(idx)
            idx += 1
        # DO commands after the last nav command still run
        self.do_queue = pending
        self._run_do_commands()
        return False

    def _start_nav(self, idx: int, pending: list[int] | None = None) -> None:
        v = self.v
        item = self.items[idx]
        self.nav_index = idx
        self.nav_item = item
        self.nav_started_t = v.t
        self._hold_until = None
        self._nav_phase = ""
        self.do_queue = list(pending or [])
        self.cond_item = None
        v.yaw_target = None
        v.yaw_locked = False
        v.text(6, f"Mission: {idx} {COMMAND_NAMES.get(item.command, str(item.command))}")
        v.events.mission_current_changed()
        cmd = item.command
        self._takeoff_pending = None
        if cmd == MAV_CMD.NAV_TAKEOFF:
            _, _, alt = v.location_to_ne_alt(item)
            alt = max(alt, 1.0)
            if v.landed:
                if v.auto_armed and v.armed:
                    v.start_takeoff(alt)
                else:  # AUTO on the ground waits for MISSION_START (or throttle) before lifting off
                    self._takeoff_pending = alt
            else:
                v.phase = "takeoff"
                v.target = (v.n, v.e, max(alt, v.alt))
        elif cmd in (MAV_CMD.NAV_WAYPOINT, MAV_CMD.NAV_LOITER_TIME, MAV_CMD.NAV_LOITER_UNLIM, MAV_CMD.NAV_LOITER_TURNS, 82):
            n, e, alt = v.location_to_ne_alt(item, default_alt=v.alt)
            v.phase = "wp"
            v.target = (n, e, alt)
            v.target_end_speed = self._corner_speed(idx, (n, e)) if cmd in (16, 82) and item.param1 <= 0 else 0.0
        elif cmd == MAV_CMD.NAV_RETURN_TO_LAUNCH:
            v.start_rtl()
        elif cmd == MAV_CMD.NAV_LAND:
            if item.param5 == 0 and item.param6 == 0:
                v.start_land(None)
            else:
                v.start_land(v.ne_of(item.param5, item.param6))
        elif cmd == 93:  # NAV_DELAY
            self._hold_until = v.t + max(0.0, item.param1)
            v.target = (v.n, v.e, v.alt)
        else:
            v.target = (v.n, v.e, v.alt)
        self._run_do_commands()

    def _corner_speed(self, idx: int, here: tuple[float, float]) -> float:
        """Speed to carry through a waypoint: ArduCopter's S-curves round corners instead of stopping."""
        v = self.v
        prev = (v.n, v.e)
        nxt = None
        for j in range(idx + 1, len(self.items)):
            it = self.items[j]
            if is_nav_command(it.command):
                if it.command in (16, 82) and not (it.param5 == 0 and it.param6 == 0):
                    nxt = v.ne_of(it.param5, it.param6)
                break
        if nxt is None:
            return 0.0
        a1 = math.atan2(here[1] - prev[1], here[0] - prev[0])
        a2 = math.atan2(nxt[1] - here[1], nxt[0] - here[0])
        turn = abs(math.degrees(math.atan2(math.sin(a2 - a1), math.cos(a2 - a1))))
        return v.wp_speed_mps * max(0.0, math.cos(math.radians(min(90.0, turn))))

    def _start_do(self, idx: int, item: MissionItem) -> None:
        v = self.v
        v.text(6, f"Mission: {idx} {COMMAND_NAMES.get(item.command, str(item.command))}")
        cmd = item.command
        if cmd not in _AP_MISSION_VERIFIED:
            # ModeAuto::verify_command completes other DO commands at once and reports them reached
            v.events.mission_item_reached(idx)
        if cmd == MAV_CMD.DO_CHANGE_SPEED:
            if item.param2 > 0:
                v.wp_speed_mps = item.param2
        elif cmd == MAV_CMD.DO_SET_CAM_TRIGG_DIST:
            v.camera.set_trigger_distance(item.param1)
            if int(item.param3) == 1:
                v.take_picture()
        elif cmd == MAV_CMD.DO_DIGICAM_CONTROL:
            if int(round(item.param5)) == 1:
                v.take_picture()
        elif cmd == MAV_CMD.IMAGE_START_CAPTURE:
            count = int(item.param3)
            if count == 1:
                v.take_picture()
            else:
                v.camera.start_interval(v.t, item.param2, count)
        elif cmd == MAV_CMD.IMAGE_STOP_CAPTURE:
            v.camera.stop_interval()
        elif cmd == MAV_CMD.DO_SET_HOME:
            if int(item.param1) == 1:
                v.set_home_here()
            else:
                v.set_home(item.param5, item.param6, item.param7)
        elif cmd == MAV_CMD.DO_FENCE_ENABLE:
            v.fence.auto_enabled = int(item.param1) == 1

    def _run_do_commands(self) -> None:
        """Start queued DO commands until a CONDITION command blocks the rest."""
        if self.cond_item is not None:
            return
        while self.do_queue:
            idx = self.do_queue.pop(0)
            item = self.items[idx]
            if item.command in (112, 114, 115):
                self._start_condition(idx, item)
                return
            self._start_do(idx, item)

    def _start_condition(self, idx: int, item: MissionItem) -> None:
        v = self.v
        v.text(6, f"Mission: {idx} {COMMAND_NAMES.get(item.command, str(item.command))}")
        self.cond_item = (idx, item)
        if item.command == 112:
            self._cond_until = v.t + max(0.0, item.param1)
        elif item.command == 115:
            angle, direction, relative = item.param1, item.param3, int(item.param4)
            if relative:
                target = v.yaw + (angle if direction >= 0 else -angle)
            else:
                target = angle
            v.yaw_target = target % 360.0
            v.yaw_locked = True
            if item.param2 > 0:
                v.yaw_rate_limit = item.param2

    def _verify_condition(self) -> bool:
        if self.cond_item is None:
            return True
        idx, item = self.cond_item
        v = self.v
        done = True
        if item.command == 112:
            done = v.t >= self._cond_until
        elif item.command == 115:
            done = v.yaw_target is None or abs(((v.yaw - v.yaw_target + 180) % 360) - 180) < 2.0
            if done:
                v.yaw_rate_limit = v.params["ATC_SLEW_YAW"] / 100.0
        elif item.command == 114:
            if v.target is not None:
                done = math.hypot(v.target[0] - v.n, v.target[1] - v.e) < item.param1
        if done:
            self.cond_item = None
            v.events.mission_item_reached(idx)
        return done

    def _verify_nav(self) -> bool:
        v = self.v
        item = self.nav_item
        if item is None:
            return True
        cmd = item.command
        radius = max(0.05, v.params["WPNAV_RADIUS"] / 100.0)
        if cmd == MAV_CMD.NAV_TAKEOFF:
            return v.phase == "hold" and not v.landed
        if cmd in (MAV_CMD.NAV_WAYPOINT, 82, MAV_CMD.NAV_LOITER_TIME):
            if self._hold_until is None:
                tn, te, talt = v.target if v.target else (v.n, v.e, v.alt)
                if math.hypot(tn - v.n, te - v.e) > radius or abs(talt - v.alt) > max(1.0, radius):
                    return False
                hold = max(0.0, item.param1)
                self._hold_until = v.t + hold
                v.text(6, f"Reached command #{self.nav_index}")
                if cmd == MAV_CMD.NAV_LOITER_TIME or hold > 0:
                    v.target_end_speed = 0.0
            return v.t >= self._hold_until
        if cmd == MAV_CMD.NAV_LOITER_UNLIM:
            return False
        if cmd == MAV_CMD.NAV_LOITER_TURNS:
            if self._hold_until is None:
                tn, te, _ = v.target if v.target else (v.n, v.e, v.alt)
                if math.hypot(tn - v.n, te - v.e) > radius:
                    return False
                radius_m = max(item.param3, 2.0)
                self._hold_until = v.t + max(1.0, item.param1) * 2 * math.pi * radius_m / 5.0
            return v.t >= self._hold_until
        if cmd in (MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_CMD.NAV_LAND):
            return v.landed
        if cmd == 93:
            return self._hold_until is not None and v.t >= self._hold_until
        return True

    def update(self, dt: float) -> None:
        """Run one step of the mission (called in AUTO while armed)."""
        v = self.v
        if self.state != RUNNING or len(self.items) <= 1:
            return
        if v.landed and self.nav_item is not None and self.nav_item.command != MAV_CMD.NAV_TAKEOFF:
            if self.nav_item.command in (MAV_CMD.NAV_LAND, MAV_CMD.NAV_RETURN_TO_LAUNCH) and self._verify_nav():
                self._complete()
            return
        if self.nav_index is None:
            if not self._advance_nav(1):
                self._complete()
                return
        if self._takeoff_pending is not None and v.landed and v.auto_armed:
            v.start_takeoff(self._takeoff_pending)
            self._takeoff_pending = None
        if self.nav_item is not None and v.phase in ("rtl",):
            v._rtl_update()
        if self._verify_condition():
            self._run_do_commands()
        if self._verify_nav():
            reached = self.nav_index or 0
            v.events.mission_item_reached(reached)
            if not self._advance_nav(reached + 1):
                self._complete()

    def on_landed(self) -> None:
        """Touchdown in AUTO: a LAND/RTL item is complete, and so is the mission if it was the last."""
        v = self.v
        if self.state == RUNNING and self.nav_item is not None and self.nav_item.command in (
                MAV_CMD.NAV_LAND, MAV_CMD.NAV_RETURN_TO_LAUNCH):
            # SITL sends no MISSION_ITEM_REACHED for the final LAND: it disarms on touchdown
            if self._advance_nav((self.nav_index or 0) + 1) and not v.landed:
                return
            self._complete()
            return
        v.disarm(force=True, reason="landed")

    def _complete(self) -> None:
        v = self.v
        self.state = COMPLETE
        if v.landed:
            v.disarm(force=True, reason="mission complete")
        else:
            v.phase = "hold"
            v.target = (v.n, v.e, v.alt)
            v.target_end_speed = 0.0

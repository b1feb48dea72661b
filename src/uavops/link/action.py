"""Vehicle commands: arm/disarm, modes by name, takeoff, mission start, pause, RTL, land.

COMMAND_LONG is retried (with the ``confirmation`` field counting up, as the spec asks) until a
COMMAND_ACK for that command arrives. A refusal raises :class:`~uavops.errors.CommandDenied`
with the MAV_RESULT; for arming, the vehicle's own "PreArm: …"/"Arm: …" STATUSTEXT reasons are
put into the message because that is what the operator needs to read.
"""

from __future__ import annotations

import time
from ..errors import CommandDenied, LinkError, LinkTimeout, PreflightError
from .connection import MavConnection
from .state import mode_number

__all__ = ["ActionClient", "MAV_RESULT_TEXT", "MAV_CMD_NAMES"]

MAV_RESULT_TEXT = {
    0: "accepted", 1: "temporarily rejected", 2: "denied", 3: "unsupported", 4: "failed",
    5: "in progress", 6: "cancelled",
}
MAV_CMD_NAMES = {
    400: "arm/disarm", 176: "set mode", 22: "takeoff", 300: "mission start", 193: "pause/continue",
    20: "return to launch", 21: "land", 224: "set current mission item", 207: "fence enable",
    511: "set message interval", 512: "request message", 2: "set current item",
}
MAV_CMD_COMPONENT_ARM_DISARM = 400
MAV_CMD_DO_SET_MODE = 176
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_MISSION_START = 300
MAV_CMD_DO_PAUSE_CONTINUE = 193
MAV_CMD_DO_SET_MISSION_CURRENT = 224
MAV_CMD_DO_FENCE_ENABLE = 207
MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = 1
FORCE_ARM_MAGIC = 2989.0


class ActionClient:
    """Commands for one connection."""

    def __init__(self, conn: MavConnection, *, ack_timeout_s: float = 1.5, retries: int = 3) -> None:
        self.conn = conn
        self.ack_timeout_s = ack_timeout_s
        self.retries = retries

    # --- generic -----------------------------------------------------------------------
    def command(self, command: int, *params: float, timeout_s: float | None = None,
                retries: int | None = None) -> int:
        """Send COMMAND_LONG and return MAV_RESULT (CommandDenied unless ACCEPTED/IN_PROGRESS)."""
        conn = self.conn
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        name = MAV_CMD_NAMES.get(command, f"MAV_CMD {command}")
        timeout = self.ack_timeout_s if timeout_s is None else timeout_s
        tries = self.retries if retries is None else retries
        with conn.subscribe("COMMAND_ACK", lambda m: m.command == command) as sub:
            for confirmation in range(tries + 1):
                conn.send(conn.factory.command_long_encode(conn.target_system, conn.target_component, command,
                                                           min(confirmation, 255), *p))
                ack = sub.get(timeout)
                while ack is not None and ack.result == 5:  # IN_PROGRESS: keep waiting for the final one
                    ack = sub.get(timeout)
                if ack is None:
                    continue
                if ack.result == 0:
                    return 0
                raise CommandDenied(f"The vehicle refused '{name}': {MAV_RESULT_TEXT.get(ack.result, ack.result)}.",
                                    command=command, mav_result=int(ack.result))
        raise LinkTimeout(f"The vehicle did not acknowledge '{name}' after {tries + 1} tries; check the link.")

    # --- arming ------------------------------------------------------------------------
    def arm(self, *, force: bool = False, reason_wait_s: float = 1.0) -> None:
        """Arm; PreflightError with the vehicle's PreArm reasons if it refuses."""
        conn = self.conn
        t0 = time.time()
        with conn.subscribe("STATUSTEXT") as texts:
            try:
                self.command(MAV_CMD_COMPONENT_ARM_DISARM, 1, FORCE_ARM_MAGIC if force else 0)
            except CommandDenied as exc:
                time.sleep(reason_wait_s)  # ArduPilot sends the reasons right after the NACK
                reasons = [str(m.text) for m in texts.drain()
                           if str(m.text).startswith(("PreArm", "Arm", "Fence", "GPS", "EKF"))]
                reasons += [s.text for s in conn.state.statustext
                            if s.time_s >= t0 - 2 and s.text.startswith(("PreArm", "Arm")) and s.text not in reasons]
                why = "; ".join(dict.fromkeys(reasons)) or "no reason given"
                raise PreflightError(f"The vehicle refused to arm ({why}); fix that and try again.") from exc
        try:
            conn.wait_until(lambda s: s.armed, timeout_s=3.0, what="the vehicle to report armed")
        except LinkTimeout as exc:
            raise PreflightError("The vehicle accepted the arm command but did not arm; check its messages.") from exc

    def disarm(self, *, force: bool = False) -> None:
        self.command(MAV_CMD_COMPONENT_ARM_DISARM, 0, 21196.0 if force else 0)

    # --- modes -------------------------------------------------------------------------
    def set_mode(self, name: str, *, timeout_s: float = 5.0) -> None:
        """Switch flight mode by name (ArduCopter/ArduPlane tables) and wait for the heartbeat to show it."""
        conn = self.conn
        st = conn.state
        number = mode_number(st.mav_type, name)
        if number is None:
            raise LinkError(f"'{name}' is not a {st.vehicle_kind} flight mode; use e.g. GUIDED, AUTO, LOITER, RTL, LAND.")
        wanted = name.strip().upper()
        if st.mode == wanted:
            return
        self.command(MAV_CMD_DO_SET_MODE, MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, number)
        conn.wait_until(lambda s: s.mode == wanted, timeout_s=timeout_s, what=f"mode {wanted}")

    # --- flight ------------------------------------------------------------------------
    def takeoff(self, alt_m: float) -> None:
        self.command(MAV_CMD_NAV_TAKEOFF, 0, 0, 0, float("nan"), 0, 0, alt_m)

    def start_mission(self, first_item: int = 0, last_item: int = 0) -> None:
        """MAV_CMD_MISSION_START (ArduCopter needs it to start AUTO on the ground)."""
        self.command(MAV_CMD_MISSION_START, first_item, last_item)

    def pause(self) -> None:
        """Hold position; DO_PAUSE_CONTINUE where supported, else switch to LOITER (copter) / LOITER."""
        try:
            self.command(MAV_CMD_DO_PAUSE_CONTINUE, 0)
        except CommandDenied:
            self.set_mode("LOITER")

    def resume(self) -> None:
        """Continue the mission after :meth:`pause`."""
        if self.conn.state.mode != "AUTO":
            self.set_mode("AUTO")
            return
        self.command(MAV_CMD_DO_PAUSE_CONTINUE, 1)

    def rtl(self) -> None:
        self.set_mode("RTL")

    def land(self) -> None:
        self.set_mode("LAND")

    def set_current_item(self, seq: int, *, timeout_s: float = 3.0) -> None:
        """Make ``seq`` the current mission item (DO_SET_MISSION_CURRENT, else MISSION_SET_CURRENT)."""
        conn = self.conn
        try:
            self.command(MAV_CMD_DO_SET_MISSION_CURRENT, seq)
            return  # acknowledged (the reported current may already be the next NAV item)
        except (CommandDenied, LinkTimeout):
            pass
        with conn.subscribe("MISSION_CURRENT", lambda m: m.seq >= seq) as sub:
            conn.send(conn.factory.mission_set_current_encode(conn.target_system, conn.target_component, seq))
            sub.wait(timeout_s, f"mission item {seq} as the current item")

    def fence_enable(self, enable: bool = True) -> None:
        self.command(MAV_CMD_DO_FENCE_ENABLE, 1 if enable else 0)

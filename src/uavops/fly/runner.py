"""Flying one mission on one vehicle: preflight, arm and start, watch, record, react.

The runner never decides for the vehicle: failsafes (battery, GCS loss, fence) are
ArduPilot's. The runner notices them (mode RTL/LAND/SMART_RTL while survey legs remain),
records the last completed survey leg and ends the sortie as *interrupted*, so that
``uavops fly --resume`` can continue after a battery swap. If the link drops, the reader
reconnects on its own and the runner keeps watching; the vehicle keeps flying its mission.
flight.json is rewritten atomically on every change so a killed ground station loses nothing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LinkError, LinkTimeout, PreflightError
from ..link import GroundLink
from ..mission import MAV_CMD, Mission, SurveyLeg
from .display import FlightDisplay, FlightStatus
from .preflight import CheckResult, Preflight, PreflightOptions
from .records import Capture, CaptureLog, FlightRecord, build_ledger, LEDGER_JSON, _dist_m
from ..files import write_json

__all__ = ["FlyOptions", "FlightRunner", "FlightInterrupted", "SortieResult", "INTERRUPT_MODES"]

INTERRUPT_MODES = {"RTL", "LAND", "SMART_RTL", "QRTL", "QLAND", "BRAKE"}


class FlightInterrupted(LinkError):
    """The vehicle left its mission (failsafe or operator) before the survey was complete."""

    exit_code = 3


@dataclass
class FlyOptions:
    yes: bool = False
    preflight: PreflightOptions = field(default_factory=PreflightOptions)
    takeoff_timeout_s: float = 60.0
    link_lost_timeout_s: float = 600.0
    flight_timeout_s: float = 7200.0
    poll_s: float = 0.1
    gcs_heartbeat_hz: float = 1.0
    stream_rate_hz: float = 4.0


@dataclass
class SortieResult:
    outcome: str  # completed | interrupted
    reason: str
    completed_legs: list[int]
    photos: int


def _leg_last_nav(mission: Mission, leg: SurveyLeg) -> int:
    wire = mission.wire_items()
    last = leg.start_seq
    for seq in range(leg.start_seq, min(leg.end_seq, len(wire) - 1) + 1):
        if wire[seq].is_nav_with_position:
            last = seq
    return last


class FlightRunner:
    """One vehicle, one flight folder; :meth:`fly` runs one sortie of ``mission``."""

    def __init__(self, link: GroundLink, plan: Mission, out_dir: Path, record: FlightRecord, captures: CaptureLog,
                 display: FlightDisplay, options: FlyOptions, *, label: str = "vehicle",
                 confirm: Callable[[str], bool] | None = None) -> None:
        self.link = link
        self.plan = plan
        self.out_dir = Path(out_dir)
        self.record = record
        self.captures = captures
        self.display = display
        self.opt = options
        self.label = label
        self.confirm = confirm or (lambda question: True)
        self._reached: set[int] = set()
        self._reached_lock = threading.Lock()
        self._listening = False
        self._seen_text = 0

    # --- listeners ------------------------------------------------------------------------
    def _on_message(self, msg: Any) -> None:
        kind = msg.get_type()
        if kind == "CAMERA_FEEDBACK":
            cap = Capture.from_feedback(msg, sortie=int(self.record.get("sortie_count", 1)) - 1,
                                        vehicle=self.plan.vehicle)
            self.captures.add(cap)
        elif kind == "MISSION_ITEM_REACHED":
            with self._reached_lock:
                self._reached.add(int(msg.seq))
        elif kind == "STATUSTEXT":
            text = str(msg.text).rstrip("\x00")
            self.display.statustext(self.label, int(msg.severity), text)
            log = self.record.data.setdefault("statustext", [])
            log.append({"time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "severity": int(msg.severity),
                        "text": text})
            del log[:-200]

    def listen(self) -> None:
        if not self._listening:
            self.link.conn.add_listener(self._on_message)
            self._listening = True

    # --- phases ---------------------------------------------------------------------------
    def preflight(self, mission: Mission, *, upload: bool = True) -> Preflight:
        def emit(check: CheckResult) -> None:
            self.display.note(f"[{self.label}] {check.line()}", style={True: "green", False: "bold red"}.get(check.ok, ""))
            checks = self.record.data.setdefault("preflight", [])
            checks.append(check.to_json())
            self.record.update()

        def progress(text: str) -> None:
            self.display.note(f"[{self.label}] {text}", style="dim")

        self.record.update(preflight=[], state="preflight")
        pf = Preflight(self.link, mission, self.opt.preflight, emit=emit, progress=progress)
        try:
            pf.run(upload=upload)
        except PreflightError:
            self.record.update(state="preflight_failed")
            raise
        ver = [v.to_json() for v in pf.report.verification]
        self.record.update(verification=ver, mission_verified=all(v["ok"] for v in ver),
                           active_mission=_mission_meta(mission), state="ready")
        return pf

    def arm_and_start(self, mission: Mission) -> None:
        if not self.opt.yes and not self.confirm(f"[{self.label}] All checks passed. Arm and start the mission?"):
            self.record.update(state="aborted_by_operator")
            raise PreflightError("The operator did not confirm arming; nothing was flown.")
        act = self.link.action
        self.display.note(f"[{self.label}] Arming in GUIDED and starting the mission (AUTO)", style="bold")
        act.set_mode("GUIDED")
        try:  # start from the first item, not where an earlier (interrupted) mission stopped
            act.set_current_item(1)
        except LinkError:
            pass
        for attempt in range(3):
            try:
                act.arm()
                break
            except PreflightError as exc:
                # conditions that clear by themselves within seconds after the checks passed
                transient = any(k in str(exc) for k in ("Logging not started", "need position estimate",
                                                        "Need Position Estimate", "waiting for", "AHRS"))
                if not transient or attempt == 2:
                    self.record.update(state="arm_refused", arm_refusal=str(exc))
                    raise
                self.display.note(f"[{self.label}] {exc} Retrying in 2 s.", style="yellow")
                time.sleep(2.0)
        # ArduCopter: MISSION_START switches to AUTO and starts from item 1 (arming in AUTO is refused)
        act.start_mission()
        self.link.conn.wait_until(lambda s: s.mode == "AUTO", timeout_s=5.0, what="AUTO mode after mission start")
        self.record.update(state="flying", started_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def fly(self, mission: Mission, *, reattach: bool = False) -> SortieResult:
        """Run one sortie of ``mission`` (already uploaded and verified unless ``reattach``)."""
        self.listen()
        with self._reached_lock:
            self._reached.clear()
        if not reattach:
            self.arm_and_start(mission)
        else:
            self.display.note(f"[{self.label}] Re-attached to the flight in progress (mode {self.link.state.mode})",
                              style="bold")
            self.record.update(state="flying")
        return self._watch(mission)

    # --- watching -------------------------------------------------------------------------
    def _watch(self, mission: Mission) -> SortieResult:
        conn = self.link.conn
        legs = sorted(mission.legs, key=lambda lg: lg.start_seq)
        last_nav = {lg.leg: _leg_last_nav(mission, lg) for lg in legs}
        completed: list[int] = list(self.record.get("completed_legs", []))
        wire = mission.wire_items()
        n_items = len(wire) - 1
        final_nav = max((i for i, it in enumerate(wire) if it.is_nav_with_position), default=n_items)
        been_airborne = False
        seen_current: set[int] = set()
        interrupted_reason: str | None = None
        t_start = time.monotonic()
        link_down_since: float | None = None
        last_ledger = 0.0
        mission_done = False
        while True:
            st = conn.state
            now = time.monotonic()
            if not st.link_ok:
                link_down_since = link_down_since or now
                if now - link_down_since > self.opt.link_lost_timeout_s:
                    self.record.update(state="link_lost")
                    raise LinkTimeout(f"No link to {self.label} for {self.opt.link_lost_timeout_s:.0f} s; the vehicle "
                                      f"follows its own failsafe. Reconnect and run `uavops fly --resume {self.out_dir}`.")
            elif link_down_since is not None:
                self.display.note(f"[{self.label}] Link restored after {now - link_down_since:.1f} s; state resynchronised")
                link_down_since = None
            if st.armed and (st.alt_rel_m or 0.0) > 1.0:
                been_airborne = True
            with self._reached_lock:
                reached = set(self._reached)
            in_auto = st.mode == "AUTO" and st.armed
            if in_auto and st.mission_current is not None:
                seen_current.add(st.mission_current)
            changed = False
            for lg in legs:
                if lg.leg in completed:
                    continue
                # ITEM_REACHED of the leg's last waypoint, or (if that message was lost) the mission
                # having moved past a leg that was seen being flown
                # (a leg flown entirely during a link outage counts once the vehicle is seen past it,
                # having been seen before it: AUTO flies the items in order)
                seen = seen_current | reached
                flown = any(lg.start_seq <= s <= lg.end_seq for s in seen) or (bool(seen) and min(seen) < lg.start_seq)
                done = last_nav[lg.leg] in reached or (in_auto and flown and st.mission_current is not None
                                                       and st.mission_current > lg.end_seq)
                if done:
                    completed.append(lg.leg)
                    changed = True
            if in_auto and st.mission_current is not None and (st.mission_current >= final_nav or final_nav in reached):
                mission_done = True
            all_legs = all(lg.leg in completed for lg in legs)
            if changed:
                self.record.update(completed_legs=completed, last_completed_leg=completed[-1] if completed else None)
            if (st.armed and st.mode in INTERRUPT_MODES and interrupted_reason is None
                    and not (all_legs and (mission_done or not legs))):
                interrupted_reason = self._interrupt_reason(st.mode)
                self.display.note(f"[{self.label}] Mission interrupted: {interrupted_reason}. Last completed leg: "
                                  f"{completed[-1] if completed else 'none'}", style="bold yellow")
                self.record.update(state="interrupted", interrupt_reason=interrupted_reason,
                                   mission_current=st.mission_current)
            self._status(st, mission, completed, n_items)
            if now - last_ledger > 2.0:
                last_ledger = now
                self.write_ledger(completed)
                self.record.update(mission_current=st.mission_current, force=False,
                                   position={"lat_deg": st.lat_deg, "lon_deg": st.lon_deg, "alt_rel_m": st.alt_rel_m,
                                             "battery_pct": st.battery_pct, "mode": st.mode, "armed": st.armed})
            if not st.armed and (been_airborne or now - t_start > self.opt.takeoff_timeout_s) and st.link_ok:
                break
            if now - t_start > self.opt.flight_timeout_s:
                raise LinkTimeout(f"The sortie on {self.label} did not end within {self.opt.flight_timeout_s:.0f} s.")
            time.sleep(self.opt.poll_s)
        self.captures.flush()
        all_legs = all(lg.leg in completed for lg in legs)
        if not been_airborne:
            self.record.update(state="not_flown")
            reasons = [s.text for s in conn.state.statustext][-3:]
            raise PreflightError(f"{self.label} disarmed without taking off ({'; '.join(reasons) or 'no reason given'}).")
        if all_legs and (mission_done or legs):
            outcome, reason = "completed", "mission complete"
        else:
            outcome, reason = "interrupted", interrupted_reason or "the vehicle landed before the mission ended"
        self.record.update(state=outcome, end_reason=reason, completed_legs=completed,
                           last_completed_leg=completed[-1] if completed else None,
                           ended_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.write_ledger(completed)
        return SortieResult(outcome, reason, completed, len(self.captures))

    def _interrupt_reason(self, mode: str) -> str:
        texts = [s.text for s in self.link.state.statustext][-8:]
        hints = [t for t in texts if any(k in t.lower() for k in ("failsafe", "battery", "fence", "gcs", "radio", "ekf"))]
        return f"vehicle switched to {mode}" + (f" ({hints[-1]})" if hints else "")

    def write_ledger(self, completed: list[int]) -> dict[str, Any]:
        ledger = build_ledger(self.plan.photos, self.captures.captures, vehicle=self.plan.vehicle)
        ledger.last_completed_leg = completed[-1] if completed else None
        ledger.completed_legs = list(completed)
        data = ledger.to_json()
        write_json(self.out_dir / LEDGER_JSON, data)
        self.record.update(photos_taken=len(self.captures), planned_photos=ledger.planned,
                           missing_photos=len(ledger.missing), force=False)
        return data

    def _status(self, st: Any, mission: Mission, completed: list[int], n_items: int) -> None:
        wire = mission.wire_items()
        dist = eta = None
        cur = st.mission_current
        if cur is not None and 0 < cur < len(wire) and st.lat_deg is not None:
            target = next((wire[i] for i in range(cur, len(wire)) if wire[i].is_nav_with_position
                           and wire[i].command != MAV_CMD.NAV_TAKEOFF), None)
            if target is not None:
                dist = _dist_m(st.lat_deg, st.lon_deg, target.param5, target.param6)
                eta = dist / st.ground_speed_mps if st.ground_speed_mps > 0.5 else None
        leg = next((lg.leg for lg in mission.legs if cur is not None and lg.start_seq <= cur <= lg.end_seq), None)
        self.display.update(FlightStatus(
            vehicle=self.label, item=cur, items_total=n_items, dist_next_m=dist, eta_s=eta, alt_m=st.alt_rel_m,
            speed_mps=st.ground_speed_mps, battery_pct=st.battery_pct, mode=st.mode, armed=st.armed,
            photos=len(self.captures), photos_planned=len(self.plan.photos),
            leg=f"{leg} ({len(completed)}/{len(mission.legs)} done)" if leg is not None else f"{len(completed)}/{len(mission.legs)} done",
            link="ok" if st.link_ok else "LOST - reconnecting"))


def _mission_meta(mission: Mission) -> dict[str, Any]:
    from dataclasses import asdict

    return {"hash": mission.content_hash(), "name": mission.name, "items": len(mission.items),
            "legs": [asdict(lg) for lg in mission.legs]}

"""The preflight checklist: every check printed, logged, and a failure stops the flight.

Order follows what an operator does in the tent: link and vehicle identity, wait for GPS/EKF
readiness (with progress), battery against what the plan needs, home, parameters against
the profile, fence and rally uploaded and enabled, mission uploaded and verified by download.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import LinkError, LinkTimeout, PreflightError
from ..mission import MAV_CMD, MAV_MISSION_TYPE, Mission
from ..link import GroundLink, VerifyResult, diff_params
from .records import _dist_m

__all__ = ["CheckResult", "PreflightOptions", "Preflight", "estimate_flight_time_s"]


@dataclass
class CheckResult:
    name: str
    ok: bool | None  # None: not applicable (e.g. no fence in the plan)
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}

    def line(self) -> str:
        mark = {True: "[ OK ]", False: "[FAIL]", None: "[ -- ]"}[self.ok]
        return f"{mark} {self.name}: {self.detail}"


@dataclass
class PreflightOptions:
    ready_timeout_s: float = 120.0
    max_hdop: float = 2.0
    min_satellites: int = 6
    battery_minutes: float = 20.0  # usable endurance of a full battery
    battery_reserve_pct: float = 25.0
    params_profile: dict[str, float] | None = None
    params_profile_name: str | None = None
    apply_params: bool = False
    require_ardupilot: bool = True


@dataclass
class PreflightReport:
    checks: list[CheckResult] = field(default_factory=list)
    verification: list[VerifyResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks)


def estimate_flight_time_s(mission: Mission) -> float:
    """Straight-line path length over cruise speed, plus climb and descent (a rough lower bound)."""
    speed = mission.cruise_speed_mps or 8.0
    for it in mission.items:
        if it.command == MAV_CMD.DO_CHANGE_SPEED and it.param2 > 0:
            speed = it.param2
            break
    lat, lon = mission.home.lat_deg, mission.home.lon_deg
    dist = 0.0
    max_alt = 0.0
    for it in mission.items:
        if it.is_nav_with_position and not (it.param5 == 0 and it.param6 == 0):
            dist += _dist_m(lat, lon, it.param5, it.param6)
            lat, lon = it.param5, it.param6
            if math.isfinite(it.param7):
                max_alt = max(max_alt, it.param7)
            if it.command == MAV_CMD.NAV_WAYPOINT and it.param1 > 0:
                dist += it.param1 * speed
    dist += _dist_m(lat, lon, mission.home.lat_deg, mission.home.lon_deg)
    return dist / max(speed, 0.5) + max_alt / 2.5 + max_alt / 1.5


class Preflight:
    """Runs the checks on one link; :meth:`run` raises PreflightError on the first failure."""

    def __init__(self, link: GroundLink, mission: Mission, options: PreflightOptions,
                 emit: Callable[[CheckResult], None] = lambda c: None,
                 progress: Callable[[str], None] = lambda s: None) -> None:
        self.link = link
        self.mission = mission
        self.opt = options
        self.emit = emit
        self.progress = progress
        self.report = PreflightReport()

    def _add(self, name: str, ok: bool | None, detail: str, *, fatal_hint: str = "") -> None:
        res = CheckResult(name, ok, detail)
        self.report.checks.append(res)
        self.emit(res)
        if ok is False:
            raise PreflightError(f"Preflight check '{name}' failed: {detail}{fatal_hint}")

    def _prearm_reasons(self, since_s: float = 0.0) -> list[str]:
        texts = [s.text for s in self.link.state.statustext if s.text.startswith("PreArm") and s.time_s >= since_s]
        return list(dict.fromkeys(texts[-6:]))

    def run(self, *, upload: bool = True) -> PreflightReport:
        link, opt = self.link, self.opt
        st = link.state
        self._add("heartbeat", st.link_ok, f"vehicle system {st.sysid}, component {st.compid}, mode {st.mode}")
        deadline = time.monotonic() + 5.0
        while link.state.firmware is None and time.monotonic() < deadline:
            time.sleep(0.05)
        st = link.state
        is_ardupilot = st.autopilot == 3
        fw = st.firmware or ("ArduPilot (version not reported)" if is_ardupilot else f"autopilot type {st.autopilot}")
        self._add("firmware and vehicle type", is_ardupilot or not opt.require_ardupilot,
                  f"{fw}, {st.vehicle_kind}", fatal_hint="; uavops flies ArduPilot vehicles only.")
        self._armable_mode()
        self._wait_ready()
        st = link.state
        self._add("GPS", True, f"3D fix (type {st.gps_fix_type}), HDOP {st.gps_hdop if st.gps_hdop is not None else '?'}"
                  f", {st.gps_satellites if st.gps_satellites is not None else '?'} satellites")
        self._add("EKF", True, "healthy, using GPS" + (", pre-arm checks pass" if st.prearm_ok else ""))
        self._battery()
        st = link.state
        self._add("home", st.home_set,
                  f"{st.home_lat_deg:.6f}, {st.home_lon_deg:.6f}, {st.home_alt_amsl_m:.1f} m AMSL" if st.home_set
                  else "the vehicle has not reported a home position", fatal_hint="; wait for GPS and try again.")
        self._params()
        if upload:
            self.upload_all()
        return self.report

    def _armable_mode(self) -> None:
        """A landed vehicle left in LAND/RTL/AUTO reports pre-arm failure ("Mode not armable"): use GUIDED."""
        st = self.link.state
        if st.armed or st.mode in ("GUIDED", "LOITER", "STABILIZE", "ALT_HOLD", "POSHOLD", "FBWA", "MANUAL"):
            return
        for mode in ("GUIDED", "STABILIZE") if st.vehicle_kind == "copter" else ("MANUAL",):
            try:
                self.link.action.set_mode(mode, timeout_s=3.0)
                self.progress(f"Switched from {st.mode} to {mode} for the checks")
                return
            except LinkError:
                continue

    def _wait_ready(self) -> None:
        link, opt = self.link, self.opt
        t0 = time.monotonic()
        since = time.time()
        last_note = -2.0
        while True:
            st = link.state
            gps_ok = st.gps_fix_type >= 3 and (st.gps_hdop is None or st.gps_hdop <= opt.max_hdop) and (
                st.gps_satellites is None or st.gps_satellites >= opt.min_satellites)
            ready = gps_ok and st.ekf_ok and st.prearm_ok is not False and st.home_set
            if ready:
                return
            waited = time.monotonic() - t0
            what = []
            if not gps_ok:
                what.append(f"GPS fix {st.gps_fix_type}, HDOP {st.gps_hdop}")
            if not st.ekf_ok:
                what.append("EKF not using GPS yet")
            if st.prearm_ok is False:
                what.append("pre-arm checks failing")
            if not st.home_set:
                what.append("no home")
            if waited - last_note >= 2.0:
                last_note = waited
                self.progress(f"Waiting for the vehicle to be ready ({', '.join(what)}) {waited:.0f}/"
                              f"{opt.ready_timeout_s:.0f} s")
            if waited > opt.ready_timeout_s or (gps_ok and st.ekf_ok and st.home_set and st.prearm_ok is False
                                                 and waited > min(10.0, opt.ready_timeout_s)):
                reasons = self._prearm_reasons(since - 60) or self._ask_prearm_reasons()
                why = "; ".join(reasons) if reasons else "; ".join(what) or "not ready"
                name = "GPS" if not gps_ok else ("EKF" if not st.ekf_ok else "pre-arm checks")
                self._add(name, False, f"not ready after {waited:.0f} s ({why})",
                          fatal_hint="; fix it (the vehicle's reason is above) and start again.")
            time.sleep(0.1)

    def _ask_prearm_reasons(self) -> list[str]:
        """Make the vehicle state why it is not ready, in its own words.

        MAV_CMD_RUN_PREARM_CHECKS makes ArduPilot report every failing check as "PreArm: ...";
        it also repeats them every 30 s on its own while disarmed. (Never probe by arming: in
        STABILIZE ArduCopter may arm without GPS.)
        """
        link = self.link
        t0 = time.time()
        with link.conn.subscribe("STATUSTEXT") as texts:
            try:
                link.action.command(401, retries=0, timeout_s=1.0)
            except LinkError:
                pass
            time.sleep(1.5)
            got = [str(m.text) for m in texts.drain() if str(m.text).startswith(("PreArm", "Arm"))]
        return list(dict.fromkeys(got)) or self._prearm_reasons(t0 - 60)

    def _battery(self) -> None:
        st = self.link.state
        est_s = estimate_flight_time_s(self.mission)
        need = self.opt.battery_reserve_pct + 100.0 * est_s / 60.0 / max(self.opt.battery_minutes, 0.1)
        if st.battery_pct is None:
            self._add("battery", None, "the vehicle does not report its charge; check it by hand")
            return
        detail = (f"{st.battery_pct}% ({st.battery_v or 0:.1f} V); the plan needs about {need:.0f}% "
                  f"({est_s / 60:.1f} min + {self.opt.battery_reserve_pct:.0f}% reserve)")
        self._add("battery", st.battery_pct >= need, detail,
                  fatal_hint="; swap the battery, or plan sorties with `uavops plan --battery-min`.")

    def _params(self) -> None:
        opt = self.opt
        if not opt.params_profile:
            self._add("parameters", None, "no profile given (--params FILE.parm to check one)")
            return
        params = self.link.params
        values = {}
        for name in opt.params_profile:
            try:
                values[name] = params.get(name)
            except Exception:  # noqa: BLE001 - reported as a difference below
                pass
        diffs = diff_params(opt.params_profile, values)
        if diffs and opt.apply_params:
            for d in diffs:
                if d.vehicle is None:
                    break
                params.set(d.name, d.profile)
            values.update({d.name: d.profile for d in diffs if d.vehicle is not None})
            diffs = diff_params(opt.params_profile, values)
        listing = ", ".join(f"{d.name}={d.vehicle} (profile {d.profile:g})" for d in diffs[:6])
        self._add("parameters", not diffs,
                  f"{len(opt.params_profile)} match {opt.params_profile_name or 'the profile'}" if not diffs
                  else f"{len(diffs)} differ from {opt.params_profile_name or 'the profile'}: {listing}",
                  fatal_hint="; run `uavops params apply` or add --apply-params.")

    def upload_all(self) -> None:
        link, m = self.link, self.mission
        for mtype, items, label, enable_param in ((MAV_MISSION_TYPE.FENCE, m.fence, "fence", "FENCE_ENABLE"),
                                                  (MAV_MISSION_TYPE.RALLY, m.rally, "rally points", None)):
            if not items:
                self._add(label, None, f"none in the plan")
                continue
            self.progress(f"Uploading {label} ({len(items)} items)")
            res = link.mission.upload_verified(items, mtype)
            self.report.verification.append(res)
            detail = f"{len(items)} items uploaded and verified"
            if enable_param:
                link.params.set(enable_param, 1)
                detail += ", enabled"
            self._add(label, True, detail)
        wire = m.wire_items()
        self.progress(f"Uploading the mission ({len(wire) - 1} items)")
        try:
            res = link.mission.upload_verified(wire)
        except LinkTimeout as exc:
            raise PreflightError(f"Preflight check 'mission' failed: {exc}") from exc
        self.report.verification.append(res)
        self._add("mission", True, f"{len(wire) - 1} items uploaded and verified by download "
                  f"({res.upload_s + res.verify_s:.1f} s), plan {m.content_hash()[:12]}")

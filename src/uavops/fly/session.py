"""A whole ``uavops fly`` run: plans → vehicles → sorties, new, resumed or gap-filling.

Folder layout (names other stages rely on)::

    OUT/flight.json       state, last completed leg, plan hash, verification, preflight, STATUSTEXT
    OUT/captures.csv      one row per CAMERA_FEEDBACK (+ captures.geojson)
    OUT/ledger.json       planned photos not taken
    OUT/session.tlog      every MAVLink message both ways
    OUT/plan.plan         the plan as flown (with photos and legs), so --resume needs only OUT
    OUT/parts/            one .plan per sortie when the plan has several
    OUT/active.plan       the mission currently on the vehicle

With several vehicles each one gets ``OUT/vehicle_N/`` with the files above, and OUT holds a
summary flight.json plus the merged captures.csv/.geojson and ledger.json.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, LinkError, UavopsError
from ..files import ensure_out_dir, output_folder, read_json, write_json
from ..link import GroundLink, TransferPolicy
from ..mission import MAV_CMD, Mission
from .display import FlightDisplay
from .records import (CAPTURES_CSV, FLIGHT_JSON, LEDGER_JSON, PLAN_COPY, SESSION_TLOG, CaptureLog, FlightRecord,
                      build_ledger, read_captures, write_captures)
from .resume import build_gap_mission, build_resume_mission
from .runner import FlightInterrupted, FlightRunner, FlyOptions, SortieResult

__all__ = ["load_plan_parts", "fly_new", "fly_resume", "fly_gaps", "VehicleOutcome", "Prompt"]

Prompt = Callable[[str], bool]


# --- plans ---------------------------------------------------------------------------------
def _read(path: Path) -> Mission:
    from ..plan.formats import read_mission

    return read_mission(path)


def load_plan_parts(path: str | Path, n_connections: int = 1) -> list[Mission]:
    """The missions to fly for PLAN: one file, or the parts a split plan folder lists.

    A plan folder (or its summary.json) gives its sortie/vehicle parts; a mission.plan given
    with several --connect uses the vehicle parts listed beside it.
    """
    path = Path(path)
    summary_path: Path | None = None
    if path.is_dir():
        summary_path = path / "summary.json"
        if not summary_path.exists():
            raise InputError(f"{path} is a folder without summary.json; give the .plan file to fly.")
    elif path.name == "summary.json":
        summary_path = path
    elif n_connections > 1 and (path.parent / "summary.json").exists():
        summary_path = path.parent / "summary.json"
    if summary_path is None:
        return [_read(path)]
    summary = read_json(summary_path, "plan summary")
    files = (summary.get("layout") or {}).get("files") or []
    parts = [f for f in files if f.get("role") == "part"]
    base = summary_path.parent
    if not parts:
        whole = next((f for f in files if f.get("role") == "whole survey"), {"path": "mission.plan"})
        return [_read(base / whole["path"])]
    missions = []
    for f in parts:
        m = _read(base / f["path"])
        m.vehicle = int(f.get("vehicle", 1)) - 1 if f.get("vehicle") else m.vehicle
        m.sortie = int(f.get("sortie", 1)) - 1 if f.get("sortie") else m.sortie
        missions.append(m)
    return missions


def _by_vehicle(parts: list[Mission]) -> dict[int, list[Mission]]:
    out: dict[int, list[Mission]] = {}
    for m in sorted(parts, key=lambda m: (m.vehicle, m.sortie)):
        out.setdefault(m.vehicle, []).append(m)
    return out


def _ledger_plan(parts: list[Mission]) -> Mission:
    first = parts[0]
    return Mission(home=first.home, photos=[p for m in parts for p in m.photos],
                   legs=[lg for m in parts for lg in m.legs], vehicle=first.vehicle, name=first.name)


def _write_plan(m: Mission, path: Path) -> None:
    from ..plan.formats import write_plan

    path.parent.mkdir(parents=True, exist_ok=True)
    write_plan(m, path)


# --- one vehicle ---------------------------------------------------------------------------
@dataclass
class VehicleOutcome:
    label: str
    out_dir: Path
    state: str
    error: UavopsError | None = None


class VehicleSession:
    """Everything for one vehicle in one flight folder."""

    def __init__(self, url: str, out_dir: Path, parts: list[Mission], options: FlyOptions, display: FlightDisplay,
                 prompt: Prompt, *, label: str, record: FlightRecord, policy: TransferPolicy | None = None) -> None:
        self.url = url
        self.out_dir = out_dir
        self.parts = parts
        self.opt = options
        self.display = display
        self.prompt = prompt
        self.label = label
        self.record = record
        self.policy = policy
        self.captures = CaptureLog(out_dir)
        self.resume_dir = out_dir.parent if label.startswith("vehicle_") else out_dir
        self.link = GroundLink(url, tlog_path=out_dir / SESSION_TLOG, policy=policy, name=label,
                               gcs_heartbeat_hz=options.gcs_heartbeat_hz, stream_rate_hz=options.stream_rate_hz)
        self.runner = FlightRunner(self.link, _ledger_plan(parts), out_dir, record, self.captures, display, options,
                                   label=label, confirm=prompt)

    def connect(self) -> None:
        self.display.note(f"[{self.label}] Connecting to {self.url}")
        self.link.connect(heartbeat_timeout_s=30.0)
        self.runner.listen()
        st = self.link.state
        self.record.update(vehicle={"sysid": st.sysid, "type": st.vehicle_kind, "connect": self.url})

    def close(self) -> None:
        self.captures.flush()
        self.record.save()
        self.link.close()

    def _fly_one(self, mission: Mission, *, sortie_index: int, reattach: bool = False) -> SortieResult:
        count = int(self.record.get("sortie_count", 0)) + 1
        sorties = self.record.data.setdefault("sorties", [])
        self.record.update(sortie_count=count, current_part=sortie_index)
        if not reattach:
            self.runner.preflight(mission)
            _write_plan(mission, self.out_dir / "active.plan")
            self.record.update(active_plan="active.plan")
        entry = {"sortie": count, "part": sortie_index, "mission": mission.name, "mission_hash": mission.content_hash(),
                 "items": len(mission.items), "reattached": reattach,
                 "verification": self.record.get("verification") if not reattach else None}
        sorties.append(entry)
        self.record.update()
        result = self.runner.fly(mission, reattach=reattach)
        entry.update(outcome=result.outcome, reason=result.reason)
        self.record.update()
        return result

    def _continue_parts(self, first_part: int, first_mission: Mission | None, *, reattach: bool = False) -> str:
        """Fly parts from ``first_part`` (its mission given, e.g. resumed) with prompts between sorties."""
        for idx in range(first_part, len(self.parts)):
            mission = first_mission if (idx == first_part and first_mission is not None) else self.parts[idx]
            if idx > first_part or (idx == first_part and self.record.get("sortie_count", 0) and not reattach
                                    and first_mission is None):
                question = (f"[{self.label}] Sortie {idx} of {len(self.parts)} is done. Land, swap the battery, "
                            f"then continue with sortie {idx + 1}?")
                if not self.opt.yes and not self.prompt(question):
                    self.record.update(state="paused_between_sorties")
                    return "paused"
            result = self._fly_one(mission, sortie_index=idx, reattach=reattach and idx == first_part)
            if result.outcome != "completed":
                raise FlightInterrupted(
                    f"{self.label}: {result.reason}; the last completed survey leg is "
                    f"{self.record.get('last_completed_leg')}. After landing (and a battery swap) run "
                    f"`uavops fly --resume {self.resume_dir}`.")
        self.record.update(state="completed")
        return "completed"

    # --- entry points ------------------------------------------------------------------------
    def new_flight(self) -> str:
        self.connect()
        return self._continue_parts(0, None)

    def resume(self) -> str:
        """Continue from what flight.json and captures.csv say, whether the vehicle landed or still flies.

        Landed: the remaining mission is uploaded, checked and flown as a new sortie. Still in the
        air (the ground station crashed or lost the link, and the vehicle kept flying or began its
        GCS-failsafe RTL): the remaining mission is uploaded while it flies and the vehicle is sent
        back to AUTO, unless its battery is below the reserve.
        """
        self.connect()
        st = self.link.state
        if st.armed and (st.alt_rel_m or 0.0) < 2.0:
            try:  # on the ground and armed (landing just finished): let it disarm
                self.link.conn.wait_until(lambda s: not s.armed, timeout_s=30.0, what="the vehicle to disarm")
            except LinkError:
                pass
            st = self.link.state
        completed = set(self.record.get("completed_legs", []))
        airborne = st.armed
        for idx, part in enumerate(self.parts):
            remaining = [lg for lg in part.legs if lg.leg not in completed]
            if part.legs and not remaining:
                continue
            if not part.legs and idx < int(self.record.get("current_part", 0)):
                continue
            mission, point = build_resume_mission(part, completed, self.captures.captures,
                                                  resume_seq=self.record.get("mission_current"))
            self.display.note(f"[{self.label}] Resuming at survey leg {point.leg}"
                              + (f", from photo {point.from_photo_id} (one photo of overlap)" if point.from_photo_id
                                 is not None else "") + f"; {point.skipped_legs} legs already done")
            self.record.update(resumed_from={"leg": point.leg, "photo_id": point.from_photo_id,
                                             "plan_seq": point.plan_seq}, state="resuming")
            if airborne:
                self._redirect_in_flight(mission)
                return self._continue_parts(idx, mission, reattach=True)
            return self._continue_parts(idx, mission)
        self.record.update(state="completed")
        self.display.note(f"[{self.label}] Every survey leg is already complete; nothing to resume.")
        return "completed"

    def _redirect_in_flight(self, mission: Mission) -> None:
        """Upload the remaining mission to a flying vehicle and send it back to AUTO."""
        st = self.link.state
        reserve = self.opt.preflight.battery_reserve_pct
        if st.battery_pct is not None and st.battery_pct < reserve:
            self.record.update(state="interrupted", interrupt_reason=f"battery {st.battery_pct}% below reserve")
            raise FlightInterrupted(f"{self.label} is flying ({st.mode}) with {st.battery_pct}% battery, below the "
                                    f"{reserve:.0f}% reserve; let it land, swap the battery and run "
                                    f"`uavops fly --resume {self.resume_dir}` again.")
        if not self.opt.yes and not self.prompt(f"[{self.label}] The vehicle is airborne in {st.mode}. Upload the rest "
                                                "of the survey and switch it to AUTO?"):
            raise FlightInterrupted(f"{self.label}: the operator kept the vehicle in {st.mode}.")
        self.display.note(f"[{self.label}] Vehicle airborne in {st.mode}: uploading the rest of the survey in flight")
        res = self.link.mission.upload_verified(mission.wire_items())
        self.record.update(verification=[res.to_json()], mission_verified=res.ok,
                           active_mission={"hash": mission.content_hash(), "items": len(mission.items)})
        _write_plan(mission, self.out_dir / "active.plan")
        wire = mission.wire_items()
        first = next((i + 1 for i, it in enumerate(wire) if i >= 1 and it.command == MAV_CMD.NAV_TAKEOFF), 1)
        first = min(first, len(wire) - 1)
        try:  # outside AUTO some autopilots accept but do not report the new current item
            self.link.action.set_current_item(first, timeout_s=1.0)
        except LinkError:
            pass
        self.link.action.set_mode("AUTO")
        self.link.action.set_current_item(first)
        self.record.update(state="flying")

    def refly_gaps(self) -> str:
        ledger = build_ledger(self.runner.plan.photos, self.captures.captures, vehicle=self.runner.plan.vehicle)
        if not ledger.missing:
            self.display.note(f"[{self.label}] The ledger lists no missing photos; nothing to refly.")
            return "completed"
        self.connect()
        mission = build_gap_mission(self.parts[0], ledger.missing)
        mission.vehicle = self.runner.plan.vehicle
        self.display.note(f"[{self.label}] Reflying {len(ledger.missing)} missed photo points")
        self.record.update(refly_gaps={"photos": [p.photo_id for p in ledger.missing]})
        self._fly_one(mission, sortie_index=len(self.parts))
        new_ledger = self.runner.write_ledger(list(self.record.get("completed_legs", [])))
        self.record.update(state="completed" if new_ledger["missing_count"] == 0 else "gaps_remaining")
        return "completed"


# --- orchestration -------------------------------------------------------------------------
def _parts_hash(parts: list[Mission]) -> str:
    """One hash for a plan flown as several parts (sorties/vehicles)."""
    return hashlib.sha256("".join(m.content_hash() for m in parts).encode()).hexdigest()


def _new_record(out_dir: Path, parts: list[Mission], plan_path: str, url: str, label: str) -> FlightRecord:
    ledger_plan = _ledger_plan(parts)
    record = FlightRecord(out_dir, {
        "version": 1, "flight_id": uuid.uuid4().hex, "label": label, "plan_path": plan_path,
        "plan_hash": parts[0].content_hash() if len(parts) == 1 else
        _parts_hash(parts),
        "part_hashes": [m.content_hash() for m in parts], "connect": url, "state": "created",
        "planned_photos": len(ledger_plan.photos), "legs_total": len(ledger_plan.legs), "completed_legs": [],
        "last_completed_leg": None, "sortie_count": 0, "sorties": [],
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    _write_plan(parts[0] if len(parts) == 1 else ledger_plan, out_dir / PLAN_COPY)
    if len(parts) > 1 or parts[0].legs:
        for i, m in enumerate(parts):
            _write_plan(m, out_dir / "parts" / f"part_{i + 1}.plan")
        record.data["parts"] = [f"parts/part_{i + 1}.plan" for i in range(len(parts))]
    record.save()
    return record


def _load_parts_from_record(out_dir: Path, record: FlightRecord) -> list[Mission]:
    rels = record.get("parts") or [PLAN_COPY]
    parts = []
    for rel in rels:
        path = out_dir / rel
        if not path.exists():
            raise InputError(f"{path} is missing; the flight folder is incomplete and cannot be resumed.")
        parts.append(_read(path))
    return parts


def _run_sessions(sessions: list[VehicleSession], action: str, display: FlightDisplay) -> list[VehicleOutcome]:
    outcomes: list[VehicleOutcome] = [VehicleOutcome(s.label, s.out_dir, "pending") for s in sessions]

    def work(i: int, s: VehicleSession) -> None:
        try:
            outcomes[i].state = getattr(s, action)()
        except UavopsError as exc:
            outcomes[i].state, outcomes[i].error = "failed", exc
        finally:
            s.close()

    with display:
        if len(sessions) == 1:
            work(0, sessions[0])
        else:
            threads = [threading.Thread(target=work, args=(i, s), name=f"fly-{s.label}") for i, s in enumerate(sessions)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    return outcomes


def _finish(out_dir: Path, outcomes: list[VehicleOutcome], sessions: list[VehicleSession]) -> list[VehicleOutcome]:
    if len(sessions) > 1:
        caps = [c for s in sessions for c in read_captures(s.out_dir / CAPTURES_CSV)]
        write_captures(out_dir, caps)
        missing = []
        planned = 0
        for s in sessions:
            data = read_json(s.out_dir / LEDGER_JSON, "ledger") if (s.out_dir / LEDGER_JSON).exists() else {}
            missing += data.get("missing", [])
            planned += int(data.get("planned_photos", len(s.runner.plan.photos)))
        write_json(out_dir / LEDGER_JSON, {"planned_photos": planned, "missing_count": len(missing), "missing": missing,
                                          "vehicles": [s.out_dir.name for s in sessions]})
        top = read_json(out_dir / FLIGHT_JSON, "flight record") if (out_dir / FLIGHT_JSON).exists() else {}
        top.update({"vehicles": [{"dir": o.out_dir.name, "label": o.label, "state": o.state,
                                  "error": str(o.error) if o.error else None} for o in outcomes],
                    "state": "completed" if all(o.state == "completed" for o in outcomes) else "incomplete",
                    "updated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        write_json(out_dir / FLIGHT_JSON, top)
    errors = [o.error for o in outcomes if o.error is not None]
    if errors:
        if len(errors) == 1 and len(outcomes) == 1:
            raise errors[0]
        first = errors[0]
        raise type(first)("; ".join(f"{o.label}: {o.error}" for o in outcomes if o.error)) if not isinstance(
            first, FlightInterrupted) else FlightInterrupted("; ".join(str(o.error) for o in outcomes if o.error))
    return outcomes


def fly_new(plan_path: str | Path, connects: list[str], out_dir: str | Path, options: FlyOptions,
            display: FlightDisplay, prompt: Prompt, policy: TransferPolicy | None = None) -> list[VehicleOutcome]:
    """Fly PLAN: one vehicle (sorties in turn) or several vehicles at once (one --connect each)."""
    with output_folder(out_dir) as out:  # a flight that never started leaves no empty folder behind
        return _fly_new(plan_path, connects, out, options, display, prompt, policy)


def _fly_new(plan_path: str | Path, connects: list[str], out: Path, options: FlyOptions,
             display: FlightDisplay, prompt: Prompt, policy: TransferPolicy | None) -> list[VehicleOutcome]:
    if (out / FLIGHT_JSON).exists():
        prev = read_json(out / FLIGHT_JSON, "flight record")
        if prev.get("state") not in ("completed", None) and "plan_hash" in prev:
            raise InputError(f"{out} already holds an unfinished flight; continue it with `uavops fly --resume {out}` "
                             "or choose another --out.")
    parts = load_plan_parts(plan_path, len(connects))
    groups = _by_vehicle(parts)
    if len(connects) != len(groups):
        if len(groups) == 1 and len(connects) > 1:
            raise InputError(f"The plan is for one vehicle but {len(connects)} --connect were given; plan with "
                             "`uavops plan --vehicles N` or give one --connect.")
        raise InputError(f"The plan has parts for {len(groups)} vehicles but {len(connects)} --connect were given; "
                         "give one --connect per vehicle.")
    sessions = []
    multi = len(groups) > 1
    if multi:
        write_json(out / FLIGHT_JSON, {"version": 1, "multi_vehicle": True, "plan_path": str(plan_path),
                                       "plan_hash": _parts_hash(parts),
                                       "vehicles": [f"vehicle_{v + 1}" for v in groups], "state": "flying"})
    for (vehicle, vparts), url in zip(sorted(groups.items()), connects):
        vdir = ensure_out_dir(out / f"vehicle_{vehicle + 1}") if multi else out
        label = f"vehicle_{vehicle + 1}" if multi else "vehicle"
        record = _new_record(vdir, vparts, str(plan_path), url, label)
        sessions.append(VehicleSession(url, vdir, vparts, options, display, prompt, label=label, record=record,
                                       policy=policy))
    return _finish(out, _run_sessions(sessions, "new_flight", display), sessions)


def _sessions_from_dir(flight_dir: str | Path, connects: list[str], options: FlyOptions, display: FlightDisplay,
                       prompt: Prompt, policy: TransferPolicy | None) -> tuple[Path, list[VehicleSession]]:
    out = Path(flight_dir)
    top = read_json(out / FLIGHT_JSON, "flight record") if (out / FLIGHT_JSON).exists() else None
    if top is None:
        raise InputError(f"{out} holds no {FLIGHT_JSON}; give the --out folder of an earlier `uavops fly`.")
    dirs = [out / d for d in top["vehicles"]] if top.get("multi_vehicle") else [out]
    if connects and len(connects) != len(dirs):
        raise InputError(f"This flight has {len(dirs)} vehicles but {len(connects)} --connect were given.")
    sessions = []
    for i, vdir in enumerate(dirs):
        record = FlightRecord.load(vdir)
        url = connects[i] if connects else record.get("connect")
        if connects:
            record.update(connect=url)
        parts = _load_parts_from_record(vdir, record)
        sessions.append(VehicleSession(url, vdir, parts, options, display, prompt, label=record.get("label", "vehicle"),
                                       record=record, policy=policy))
    return out, sessions


def fly_resume(flight_dir: str | Path, connects: list[str], options: FlyOptions, display: FlightDisplay,
               prompt: Prompt, policy: TransferPolicy | None = None) -> list[VehicleOutcome]:
    """Continue a flight folder: re-attach to a vehicle still flying, or fly what is left."""
    out, sessions = _sessions_from_dir(flight_dir, connects, options, display, prompt, policy)
    return _finish(out, _run_sessions(sessions, "resume", display), sessions)


def fly_gaps(flight_dir: str | Path, connects: list[str], options: FlyOptions, display: FlightDisplay,
             prompt: Prompt, policy: TransferPolicy | None = None) -> list[VehicleOutcome]:
    """Fly only the planned photo points the ledger lists as not taken."""
    out, sessions = _sessions_from_dir(flight_dir, connects, options, display, prompt, policy)
    return _finish(out, _run_sessions(sessions, "refly_gaps", display), sessions)

"""Coverage ledger, resume and refly-gaps missions, and flight-folder records (no vehicle needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uavops.fly.records import Capture, CaptureLog, FlightRecord, build_ledger, photo_match_radius_m, read_captures
from uavops.fly.resume import build_gap_mission, build_resume_mission
from uavops.mission import MAV_CMD, MAV_FRAME, HomePosition, Mission, MissionItem, PlannedPhoto, SurveyLeg

HOME = HomePosition(43.238, 76.8829, 800.0)
STEP = 0.000135  # ~15 m of latitude


def survey_plan(n_legs: int = 3, photos_per_leg: int = 6) -> Mission:
    items = [MissionItem(MAV_CMD.NAV_TAKEOFF, param5=HOME.lat_deg, param6=HOME.lon_deg, param7=60),
             MissionItem(MAV_CMD.DO_CHANGE_SPEED, MAV_FRAME.MISSION, param1=1, param2=7.5, param3=-1)]
    legs, photos = [], []
    pid = 0
    for k in range(n_legs):
        lon = 76.8830 + k * 0.0003
        lat0, lat1 = (43.2383, 43.2383 + STEP * (photos_per_leg - 1))
        if k % 2:
            lat0, lat1 = lat1, lat0
        start = len(items) + 1
        items += [MissionItem(MAV_CMD.NAV_WAYPOINT, param5=lat0, param6=lon, param7=60),
                  MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=15, param3=1),
                  MissionItem(MAV_CMD.NAV_WAYPOINT, param5=lat1, param6=lon, param7=60),
                  MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION)]
        legs.append(SurveyLeg(k, start, start + 3, lat0, lon, lat1, lon))
        for i in range(photos_per_leg):
            lat = lat0 + (STEP if lat1 > lat0 else -STEP) * i
            photos.append(PlannedPhoto(pid, lat, lon, 60.0, k))
            pid += 1
    items.append(MissionItem(MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_FRAME.MISSION))
    return Mission(home=HOME, items=items, photos=photos, legs=legs, name="t")


def cap(p: PlannedPhoto, idx: int, dlat: float = 0.0) -> Capture:
    return Capture("2025-01-01T00:00:00+00:00", 1_000_000 + idx, p.lat_deg + dlat, p.lon_deg, 860.0, 60.0, 0, 0, 0, idx)


def test_ledger_matches_by_position_within_half_spacing() -> None:
    plan = survey_plan()
    radius = photo_match_radius_m(plan.photos)
    assert 7.5 < radius < 9.5
    caps = [cap(p, i, dlat=0.00003) for i, p in enumerate(plan.photos) if p.photo_id != 4]  # 3.3 m off, one missing
    ledger = build_ledger(plan.photos, caps)
    assert [p.photo_id for p in ledger.missing] == [4]
    far = [cap(p, i, dlat=0.0001) for i, p in enumerate(plan.photos)]  # 11 m off: not the planned photo
    assert len(build_ledger(plan.photos, far).missing) > 0


def test_resume_starts_at_last_photo_of_the_interrupted_leg() -> None:
    plan = survey_plan()
    leg1 = [p for p in plan.photos if p.leg == 1]
    caps = [cap(p, i) for i, p in enumerate(plan.photos) if p.leg == 0 or p in leg1[:3]]
    mission, point = build_resume_mission(plan, {0}, caps)
    assert point.leg == 1 and point.from_photo_id == leg1[2].photo_id and point.skipped_legs == 1
    wire = mission.wire_items()
    assert wire[1].command == MAV_CMD.NAV_TAKEOFF and wire[2].command == MAV_CMD.DO_CHANGE_SPEED
    first_wp = wire[mission.legs[0].start_seq]
    assert (first_wp.param5, first_wp.param6) == (leg1[2].lat_deg, leg1[2].lon_deg)  # one photo of overlap
    assert wire[mission.legs[0].start_seq + 1].command == MAV_CMD.DO_SET_CAM_TRIGG_DIST
    assert [lg.leg for lg in mission.legs] == [1, 2]
    assert wire[-1].command == MAV_CMD.NAV_RETURN_TO_LAUNCH
    # legs point at the right wire items after renumbering
    for lg in mission.legs:
        assert wire[lg.end_seq].command == MAV_CMD.DO_SET_CAM_TRIGG_DIST
    assert leg1[0] not in mission.photos and leg1[2] in mission.photos
    # run-out: the resumed leg ends half a photo spacing beyond its planned end
    from uavops.fly.records import _dist_m

    orig_end = plan.wire_items()[plan.legs[1].start_seq + 2]
    new_end = wire[mission.legs[0].start_seq + 2]
    assert 6.0 < _dist_m(orig_end.param5, orig_end.param6, new_end.param5, new_end.param6) < 9.0
    assert new_end.param5 < orig_end.param5  # leg 1 flies south: extended further south


def test_resume_between_legs_starts_at_the_next_leg_start() -> None:
    plan = survey_plan()
    mission, point = build_resume_mission(plan, {0, 1}, [])
    assert point.leg == 2 and point.from_photo_id is None
    assert mission.wire_items()[mission.legs[0].start_seq] == plan.wire_items()[plan.legs[2].start_seq]


def test_resume_with_everything_done_says_use_refly() -> None:
    from uavops.errors import InputError

    with pytest.raises(InputError, match="refly-gaps"):
        build_resume_mission(survey_plan(), {0, 1, 2}, [])


def test_gap_mission_visits_only_missing_points() -> None:
    plan = survey_plan()
    missing = [plan.photos[3], plan.photos[10]]
    m = build_gap_mission(plan, missing)
    wps = [it for it in m.items if it.command == MAV_CMD.NAV_WAYPOINT]
    assert {(w.param5, w.param6) for w in wps} == {(p.lat_deg, p.lon_deg) for p in missing}
    assert sum(it.command == MAV_CMD.DO_DIGICAM_CONTROL and it.param5 == 1 for it in m.items) == 2
    assert m.items[0].command == MAV_CMD.NAV_TAKEOFF and m.items[-1].command == MAV_CMD.NAV_RETURN_TO_LAUNCH
    assert all(lg.leg < 0 for lg in m.legs)


def test_capture_log_round_trips_and_dedups(tmp_path: Path) -> None:
    plan = survey_plan()
    log = CaptureLog(tmp_path)
    for i, p in enumerate(plan.photos[:5]):
        log.add(cap(p, i))
    log.add(cap(plan.photos[0], 0))  # duplicate feedback
    log.flush()
    again = CaptureLog(tmp_path)
    assert len(again) == 5 and read_captures(tmp_path / "captures.csv")[2].image_index == 2
    gj = json.loads((tmp_path / "captures.geojson").read_text())
    assert len(gj["features"]) == 5 and gj["features"][0]["geometry"]["type"] == "Point"


def test_flight_record_is_atomic_json(tmp_path: Path) -> None:
    rec = FlightRecord(tmp_path, {"plan_hash": "abc", "state": "flying"})
    rec.update(completed_legs=[0, 1])
    assert FlightRecord.load(tmp_path).get("completed_legs") == [0, 1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_fly_cli_bad_inputs_exit_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("fly")
    assert r.exit_code == 2 and "exactly one of PLAN" in r.stderr
    r = run_cli("fly", "--resume", str(tmp_path))
    assert r.exit_code == 2 and "flight.json" in r.stderr
    r = run_cli("fly", str(tmp_path / "nope.plan"), "--connect", "tcp:127.0.0.1:1", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "does not exist" in r.stderr
    assert not (tmp_path / "o").exists()  # a flight that never started leaves no empty folder
    plan = tmp_path / "p.plan"
    from uavops.plan.formats import write_plan

    write_plan(survey_plan(), plan)
    r = run_cli("fly", str(plan), "--connect", "tcp:localhost", "--out", str(tmp_path / "o2"))
    assert r.exit_code == 2 and "HOST:PORT" in r.stderr
    r = run_cli("fly", str(plan), "--connect", "tcp:127.0.0.1:1", "--connect", "tcp:127.0.0.1:2",
                "--out", str(tmp_path / "o3"))
    assert r.exit_code == 2 and "one vehicle" in r.stderr

"""QGC .plan and Mission Planner .waypoints: writing, reading back, and files written by those tools."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from shapely.geometry import Point, box

from fixtures.plan import area_from_m
from uavops.errors import InputError
from uavops.mission import MAV_CMD, MAV_FRAME, MAV_MISSION_TYPE, items_match
from uavops.plan.camera import get_camera
from uavops.plan.formats import plan_to_dict, read_mission, waypoints_text, write_plan, write_waypoints
from uavops.plan.model import SurveyParams
from uavops.plan.survey import plan_survey

DATA = Path(__file__).parent / "data"
P4P = get_camera("DJI Phantom 4 Pro")


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    zone = Point(150, 150).buffer(40, 6)
    return plan_survey(area_from_m(box(0, 0, 400, 300), [zone]), P4P,
                       SurveyParams(alt_m=70, turnaround_m=8, battery_min=6))


def _same_items(a, b) -> bool:  # type: ignore[no-untyped-def]
    return len(a) == len(b) and all(items_match(x, y) for x, y in zip(a, b))


def test_plan_file_matches_qgc_schema(plan, tmp_path):
    path = write_plan(plan, tmp_path / "mission.plan")
    data = json.loads(path.read_text())
    assert data["fileType"] == "Plan" and data["version"] == 1
    mis = data["mission"]
    assert (mis["version"], mis["firmwareType"], mis["vehicleType"]) == (2, 3, 2)
    assert len(mis["plannedHomePosition"]) == 3
    for n, item in enumerate(mis["items"], start=1):
        assert item["type"] == "SimpleItem" and item["doJumpId"] == n and len(item["params"]) == 7
        assert isinstance(item["autoContinue"], bool)
        if item["command"] == MAV_CMD.NAV_WAYPOINT:
            assert item["AltitudeMode"] == 1 and item["Altitude"] == item["params"][6]
    assert data["geoFence"]["version"] == 2 and data["rallyPoints"]["version"] == 2
    polys = data["geoFence"]["polygons"]
    assert polys[0]["inclusion"] is True and any(p["inclusion"] is False for p in polys)
    assert data["rallyPoints"]["points"][0][:2] == [plan.mission.home.lat_deg, plan.mission.home.lon_deg]
    meta = data["uavops"]
    assert meta["photos"] and meta["legs"] and meta["summary"]["photo_count"] == len(meta["photos"])


def test_plan_round_trip_keeps_items_fence_rally_photos_legs(plan, tmp_path):
    for mission in [plan.mission, *plan.parts]:
        back = read_mission(write_plan(mission, tmp_path / f"{mission.name}.plan"))
        assert _same_items(back.items, mission.items)
        assert _same_items(back.fence, mission.fence)
        assert _same_items(back.rally, mission.rally)
        assert back.home == mission.home
        assert back.photos == mission.photos and back.legs == mission.legs
        assert (back.sortie, back.vehicle) == (mission.sortie, mission.vehicle)
        assert back.content_hash() == mission.content_hash()


def test_edited_plan_drops_stale_legs(plan, tmp_path):
    data = plan_to_dict(plan.mission)
    data["mission"]["items"][3]["params"][4] += 0.001  # moved a waypoint in QGC
    path = tmp_path / "edited.plan"
    path.write_text(json.dumps(data))
    back = read_mission(path)
    assert back.legs == [] and back.photos == []


def test_waypoints_round_trip_and_format(plan, tmp_path):
    path = write_waypoints(plan.mission, tmp_path / "mission.waypoints")
    lines = path.read_text().splitlines()
    assert lines[0] == "QGC WPL 110"
    row0 = lines[1].split("\t")
    assert len(row0) == 12 and row0[0] == "0" and row0[1] == "1"
    assert len(row0[8].split(".")[1]) == 8 and len(row0[9].split(".")[1]) == 8
    assert all(len(line.split("\t")) == 12 for line in lines[1:])
    back = read_mission(path)
    assert _same_items(back.items, plan.mission.items)
    assert back.home.lat_deg == pytest.approx(plan.mission.home.lat_deg, abs=1e-8)


def test_waypoints_load_in_pymavlink(plan, tmp_path):
    from pymavlink import mavwp

    path = write_waypoints(plan.mission, tmp_path / "mission.waypoints")
    loader = mavwp.MAVWPLoader()
    assert loader.load(str(path)) == len(plan.mission.wire_items())
    for seq, expected in enumerate(plan.mission.wire_items()):
        wp = loader.wp(seq)
        assert (wp.seq, wp.command, wp.frame) == (seq, expected.command, expected.frame)
        for got, want in zip((wp.param1, wp.param2, wp.param3, wp.param4, wp.x, wp.y, wp.z), expected.params):
            assert got == pytest.approx(want, abs=1e-6)


def test_reads_qgc_survey_complex_item(tmp_path):
    m = read_mission(DATA / "qgc_survey.plan")
    assert m.home.alt_amsl_m == 850.2
    cmds = [it.command for it in m.items]
    assert cmds == [22, 16, 206, 16, 16, 16, 206, 20]
    assert math.isnan(m.items[1].param4)  # QGC's null yaw
    assert m.items[2].param1 == 25 and m.items[2].param3 == 1
    assert m.items[1].frame == MAV_FRAME.GLOBAL_RELATIVE_ALT and m.items[1].alt_m == 85
    kinds = [f.command for f in m.fence]
    assert kinds.count(MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION) == 4
    assert MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION in kinds
    assert all(f.mission_type == MAV_MISSION_TYPE.FENCE for f in m.fence)
    assert m.rally[0].param5 == 43.2388 and m.rally[0].mission_type == MAV_MISSION_TYPE.RALLY
    assert m.cruise_speed_mps == 15 and m.legs == []
    # and it writes back out as SimpleItems that read the same
    assert _same_items(read_mission(write_plan(m, tmp_path / "rt.plan")).items, m.items)


def test_reads_mission_planner_waypoints(tmp_path):
    m = read_mission(DATA / "mp_survey.waypoints")
    assert (m.home.lat_deg, m.home.lon_deg, m.home.alt_amsl_m) == (43.238949, 76.889709, 850.0)
    assert [it.command for it in m.items] == [22, 178, 16, 206, 16, 206, 16, 206, 16, 206, 20]
    assert m.items[3].param1 == 18.5
    again = read_mission(write_waypoints(m, tmp_path / "again.waypoints"))
    assert _same_items(again.items, m.items)
    assert waypoints_text(again) == waypoints_text(m)


@pytest.mark.parametrize("content,match", [
    ("not a mission", "neither"),
    ('{"fileType": "Plan", "mission": {"items": [{"type": "ComplexItem", "complexItemType": "survey"}]}}',
     "without its expanded items"),
    ("QGC WPL 110\n0\t1\t0\t16\t0\t0\n", "12"),
    ('{"fileType": "Geo"}', "not a QGroundControl plan"),
])
def test_bad_mission_files(tmp_path, content, match):
    path = tmp_path / "bad.plan"
    path.write_text(content)
    with pytest.raises(InputError, match=match):
        read_mission(path)
    with pytest.raises(InputError, match="does not exist"):
        read_mission(tmp_path / "missing.plan")


def test_qgc_terrain_calculated_altitudes(tmp_path):
    item = {"AMSLAltAboveTerrain": 734.5, "Altitude": 80, "AltitudeMode": 3, "autoContinue": True, "command": 16,
            "doJumpId": 1, "frame": 0, "params": [0, 0, 0, None, -35.39, 149.19, None], "type": "SimpleItem"}
    plan = {"fileType": "Plan", "version": 1, "mission": {"items": [item], "plannedHomePosition": [-35.36, 149.16, 584],
                                                          "version": 2, "firmwareType": 3, "vehicleType": 2}}
    path = tmp_path / "terrain.plan"
    path.write_text(json.dumps(plan))
    m = read_mission(path)
    assert m.items[0].alt_m == 734.5 and m.items[0].frame == MAV_FRAME.GLOBAL
    item["AMSLAltAboveTerrain"] = None
    path.write_text(json.dumps(plan))
    with pytest.raises(InputError, match="not calculated"):
        read_mission(path)

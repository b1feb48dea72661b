"""Mission content the flight stage and the simulator rely on (ArduCopter semantics)."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point, box

from fixtures.plan import area_from_m, coverage_fraction
from uavops.errors import PlanError
from uavops.geo import LocalProjection, haversine_m
from uavops.mission import MAV_CMD, MAV_FRAME, MAV_MISSION_TYPE
from uavops.plan.camera import get_camera
from uavops.plan.model import SurveyParams
from uavops.plan.survey import plan_survey

P4P = get_camera("DJI Phantom 4 Pro")
SQUARE = box(0, 0, 400, 300)


def test_qgc_worked_example_in_the_plan():
    plan = plan_survey(area_from_m(SQUARE), get_camera("Sony a6000 16mm"),
                       SurveyParams(alt_m=100, front_overlap_pct=70, side_overlap_pct=70))
    s = plan.summary
    assert s["gsd_cm"] == pytest.approx(2.448, abs=1e-3)
    assert s["line_spacing_m"] == pytest.approx(44.06, abs=0.01)
    assert s["trigger_distance_m"] == pytest.approx(29.37, abs=0.01)
    trig = [it for it in plan.mission.items if it.command == MAV_CMD.DO_SET_CAM_TRIGG_DIST and it.param1 > 0]
    assert trig and all(it.param1 == pytest.approx(29.375, abs=1e-3) and it.param3 == 1 for it in trig)


def test_gsd_solves_altitude():
    plan = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(gsd_cm=2.5))
    assert plan.alt_m == pytest.approx(P4P.alt_for_gsd(2.5))
    assert plan.summary["gsd_cm"] == pytest.approx(2.5, abs=1e-3)


def test_distance_triggered_mission_layout_and_legs():
    plan = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=80, turnaround_m=10))
    m = plan.mission
    wire = m.wire_items()
    assert wire[0].command == MAV_CMD.NAV_WAYPOINT and wire[0].frame == MAV_FRAME.GLOBAL
    assert wire[1].command == MAV_CMD.NAV_TAKEOFF and wire[1].frame == MAV_FRAME.GLOBAL_RELATIVE_ALT
    assert wire[1].param7 == 80
    assert wire[2].command == MAV_CMD.DO_CHANGE_SPEED and wire[2].param2 == pytest.approx(plan.speed_mps, abs=0.01)
    assert wire[-1].command == MAV_CMD.NAV_RETURN_TO_LAUNCH
    assert m.legs and len({leg.leg for leg in m.legs}) == len(m.legs)
    for leg in m.legs:
        start, on = wire[leg.start_seq], wire[leg.start_seq + 1]
        assert start.command == MAV_CMD.NAV_WAYPOINT
        assert (start.lat_deg, start.lon_deg) == (leg.start_lat_deg, leg.start_lon_deg)
        assert on.command == MAV_CMD.DO_SET_CAM_TRIGG_DIST and on.param1 > 0 and on.param3 == 1
        off, end = wire[leg.end_seq], wire[leg.end_seq - 1]
        assert off.command == MAV_CMD.DO_SET_CAM_TRIGG_DIST and off.param1 == 0
        assert end.command == MAV_CMD.NAV_WAYPOINT and (end.lat_deg, end.lon_deg) == (leg.end_lat_deg, leg.end_lon_deg)
        # turnaround waypoints on both sides, on the leg's line
        before, after = wire[leg.start_seq - 1], wire[leg.end_seq + 1]
        assert before.command == after.command == MAV_CMD.NAV_WAYPOINT
        assert haversine_m(before.lat_deg, before.lon_deg, start.lat_deg, start.lon_deg) == pytest.approx(10, abs=0.5)
        # photos of the leg: first at the leg start, spaced by the trigger distance, all before the end
        photos = [p for p in m.photos if p.leg == leg.leg]
        assert (photos[0].lat_deg, photos[0].lon_deg) == pytest.approx((start.lat_deg, start.lon_deg), abs=1e-7)
        for a, b in zip(photos, photos[1:]):
            assert haversine_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg) == pytest.approx(
                plan.trigger_distance_m, rel=0.01)
        proj = LocalProjection.for_point(m.home.lon_deg, m.home.lat_deg)  # the planner's metres (UTM)
        (ax, bx), (ay, by) = proj.to_xy([start.lon_deg, end.lon_deg], [start.lat_deg, end.lat_deg])
        leg_len = math.hypot(bx - ax, by - ay)
        assert len(photos) == math.floor((leg_len - 0.5) / plan.trigger_distance_m + 1e-4) + 1  # mm rounding
    assert len({p.photo_id for p in m.photos}) == len(m.photos) == plan.summary["photo_count"]
    # fence: inclusion polygon around the area, rally at home
    assert m.fence and all(f.mission_type == MAV_MISSION_TYPE.FENCE for f in m.fence)
    assert m.fence[0].command == MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION
    assert m.rally[0].command == MAV_CMD.NAV_RALLY_POINT
    assert (m.rally[0].lat_deg, m.rally[0].lon_deg) == pytest.approx((m.home.lat_deg, m.home.lon_deg))
    assert plan.fence.contains(Point(m.home.lon_deg, m.home.lat_deg))
    assert plan.fence.contains(plan.area)


def test_hover_and_capture():
    plan = plan_survey(area_from_m(box(0, 0, 200, 150)), P4P, SurveyParams(alt_m=60, trigger_mode="hover",
                                                                           hover_hold_s=2.0))
    m = plan.mission
    wire = m.wire_items()
    shots = [i for i, it in enumerate(wire) if it.command == MAV_CMD.DO_DIGICAM_CONTROL]
    assert len(shots) == len(m.photos)
    for i in shots:
        assert wire[i - 1].command == MAV_CMD.NAV_WAYPOINT
        assert wire[i + 1].command == MAV_CMD.NAV_LOITER_TIME and wire[i + 1].param1 == 2.0
        assert (wire[i + 1].lat_deg, wire[i + 1].lon_deg) == (wire[i - 1].lat_deg, wire[i - 1].lon_deg)
    assert not any(it.command == MAV_CMD.DO_SET_CAM_TRIGG_DIST for it in wire)
    for leg in m.legs:
        assert wire[leg.start_seq].command == MAV_CMD.NAV_WAYPOINT
        assert wire[leg.end_seq].command == MAV_CMD.NAV_LOITER_TIME
    assert coverage_fraction(plan) >= 0.995


def test_crosshatch_adds_perpendicular_pass():
    single = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=80, angle_deg=0))
    cross = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=80, angle_deg=0, crosshatch=True))
    assert len(cross.mission.legs) > len(single.mission.legs)
    assert cross.summary["photo_count"] > single.summary["photo_count"]


def test_speed_is_capped_with_a_warning():
    plan = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=40, speed_mps=15, front_overlap_pct=85))
    # trigger 40 m * 0.6667 * 0.15 = 4 m at 2 s interval -> 2 m/s
    assert plan.speed_mps == pytest.approx(plan.trigger_distance_m / P4P.min_trigger_interval_s)
    assert any("minimum interval" in w for w in plan.warnings)
    blur = plan_survey(area_from_m(SQUARE), get_camera("Sony a6000 16mm"),
                       SurveyParams(alt_m=100, speed_mps=15, shutter_s=1 / 250))
    assert blur.speed_mps == pytest.approx(0.5 * blur.gsd_cm / 100 * 250)
    assert any("motion blur" in w for w in blur.warnings)


def test_altitude_ceiling():
    with pytest.raises(PlanError, match="120 m ceiling"):
        plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=130))
    with pytest.raises(PlanError, match="ceiling"):
        plan_survey(area_from_m(SQUARE), P4P, SurveyParams(gsd_cm=5.0))  # needs ~146 m
    plan = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=130, max_alt_m=150))
    assert plan.alt_m == 130


def test_home_and_entry():
    far_home = area_from_m(SQUARE).polygon.bounds  # lon/lat bbox
    home = (far_home[2] + 0.001, far_home[3] + 0.001)  # north-east of the area
    plan = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=80, home_lonlat=home))
    first = plan.mission.legs[0]
    assert (plan.mission.home.lon_deg, plan.mission.home.lat_deg) == pytest.approx(home)
    # first leg starts at the corner nearest home (north-east)
    assert first.start_lat_deg > (far_home[1] + far_home[3]) / 2 and first.start_lon_deg > (far_home[0] + far_home[2]) / 2
    sw = plan_survey(area_from_m(SQUARE), P4P, SurveyParams(alt_m=80, entry="sw"))
    leg = sw.mission.legs[0]
    assert leg.start_lat_deg < (far_home[1] + far_home[3]) / 2 and leg.start_lon_deg < (far_home[0] + far_home[2]) / 2
    # default home: an area vertex
    verts = list(area_from_m(SQUARE).polygon.exterior.coords)
    assert any(math.isclose(sw.mission.home.lon_deg, x, abs_tol=1e-7) and math.isclose(sw.mission.home.lat_deg, y,
                                                                                         abs_tol=1e-7) for x, y in verts)

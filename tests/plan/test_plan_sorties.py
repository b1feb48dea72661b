"""Battery sorties, fleets, and the time model they rely on."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from fixtures.plan import area_from_m, coverage_fraction
from uavops.errors import PlanError
from uavops.mission import MAV_CMD
from uavops.plan.camera import get_camera
from uavops.plan.model import SurveyParams
from uavops.plan.survey import plan_survey
from uavops.plan.timing import Kinematics, PathPoint, mission_time_s, run_time_s

P4P = get_camera("DJI Phantom 4 Pro")
AREA = box(0, 0, 1200, 800)


def test_time_model_charges_acceleration_turns_and_climbs():
    assert run_time_s(1000, 10, 2.5) == pytest.approx(100 + 4)
    assert run_time_s(10, 10, 2.5) == pytest.approx(2 * (10 / 2.5) ** 0.5)
    kin = Kinematics(speed_mps=10)
    straight = [PathPoint(0, 0, 50), PathPoint(500, 0, 50), PathPoint(1000, 0, 50)]
    zigzag = [PathPoint(0, 0, 50), PathPoint(500, 0, 50), PathPoint(500, 30, 50), PathPoint(0, 30, 50)]
    t_straight = mission_time_s(straight, kin, takeoff_alt_m=50, home_z=0, rtl=False)
    t_zig = mission_time_s(zigzag, kin, takeoff_alt_m=50, home_z=0, rtl=False)
    assert t_straight > 1000 / 10  # more than distance/speed
    assert t_zig > 1030 / 10 + 3 * 4  # three stops with acceleration and yaw
    steep = [PathPoint(0, 0, 50), PathPoint(100, 0, 150)]
    assert mission_time_s(steep, kin, takeoff_alt_m=50, home_z=0, rtl=False) >= 100 / 2.5


def test_sorties_fit_the_battery_and_overlap_by_one_photo():
    params = SurveyParams(alt_m=70, battery_min=12, reserve_frac=0.25)
    plan = plan_survey(area_from_m(AREA), P4P, params)
    budget = 12 * 60 * 0.75
    assert len(plan.parts) >= 3
    assert plan.summary["sorties"] == len(plan.parts)
    for part, t in zip(plan.parts, plan.part_times_s):
        assert t <= budget + 1e-6
        wire = part.wire_items()
        assert wire[1].command == MAV_CMD.NAV_TAKEOFF and wire[-1].command == MAV_CMD.NAV_RETURN_TO_LAUNCH
        # legs and seq ranges are consistent inside each part
        for leg in part.legs:
            assert wire[leg.start_seq].command == MAV_CMD.NAV_WAYPOINT
            assert wire[leg.end_seq].command == MAV_CMD.DO_SET_CAM_TRIGG_DIST and wire[leg.end_seq].param1 == 0
    for a, b in zip(plan.parts, plan.parts[1:]):
        shared = {p.photo_id for p in a.photos} & {p.photo_id for p in b.photos}
        assert len(shared) == 1, "consecutive sorties share exactly one photo"
        assert a.photos[-1].photo_id == b.photos[0].photo_id
    # together the sorties take every photo of the whole-survey mission
    assert set().union(*({p.photo_id for p in part.photos} for part in plan.parts)) == {
        p.photo_id for p in plan.mission.photos}
    for part in plan.parts:
        assert {p.sortie for p in part.photos} == {part.sortie}


def test_battery_too_small_is_refused():
    with pytest.raises(PlanError, match="battery"):
        plan_survey(area_from_m(AREA), P4P, SurveyParams(alt_m=70, battery_min=0.5))


@pytest.mark.parametrize("n", [2, 3])
def test_vehicles_share_the_area_evenly(n):
    plan = plan_survey(area_from_m(AREA), P4P, SurveyParams(alt_m=70, vehicles=n))
    times = plan.summary["vehicle_times_s"]
    assert len(times) == n == plan.vehicles
    mean = sum(times) / n
    assert all(abs(t - mean) <= 0.10 * mean for t in times), times
    photo_sets = [{p.photo_id for p in part.photos} for part in plan.parts]
    assert sum(len(s) for s in photo_sets) == len(set().union(*photo_sets)) == plan.summary["photo_count"]
    for part in plan.parts:  # each part covers a contiguous block of legs
        legs = sorted({leg.leg for leg in part.legs})
        assert legs == list(range(legs[0], legs[-1] + 1))
        assert coverage_fraction(plan, part) > 0  # photos are where the legs are


def test_vehicles_and_sorties_together():
    plan = plan_survey(area_from_m(AREA), P4P, SurveyParams(alt_m=70, vehicles=2, battery_min=15))
    assert plan.vehicles == 2
    assert all(t <= 15 * 60 * 0.75 + 1e-6 for t in plan.part_times_s)
    for v in range(2):
        parts = plan.parts_of_vehicle(v)
        assert [p.sortie for p in parts] == list(range(len(parts)))

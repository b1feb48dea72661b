"""Coverage and safety properties of the sweep on random convex and concave areas with holes."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import unary_union

from fixtures.plan import area_from_m, coverage_fraction, flight_path_m, in_m, leg_lines_m, star_polygon
from uavops.geo import LocalProjection
from uavops.plan.camera import get_camera
from uavops.plan.geometry import auto_angle, count_segments, longest_edge_angle, sweep_segments
from uavops.plan.model import SurveyParams
from uavops.plan.survey import plan_survey

CAM = get_camera("DJI Phantom 4 Pro")
PROPS = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _proj(plan):  # type: ignore[no-untyped-def]
    c = plan.area.centroid
    return LocalProjection.for_point(c.x, c.y)


convex = st.lists(st.tuples(st.floats(-400, 400), st.floats(-400, 400)), min_size=5, max_size=12).map(
    lambda pts: Polygon(pts).convex_hull)

concave = st.builds(
    lambda radii, rot: star_polygon(radii, rot),
    st.lists(st.floats(220.0, 500.0), min_size=6, max_size=11),
    st.floats(0, math.pi),
)


@st.composite
def with_holes(draw):  # type: ignore[no-untyped-def]
    outer = draw(st.one_of(convex, concave))
    assume(outer.area > 60_000)
    holes = []
    for _ in range(draw(st.integers(0, 2))):
        cx, cy = draw(st.floats(-250, 250)), draw(st.floats(-250, 250))
        r = draw(st.floats(25, 70))
        hole = Point(cx, cy).buffer(r, 8)
        if outer.buffer(-10).contains(hole) and all(hole.distance(h) > 10 for h in holes):
            holes.append(hole)
    poly = Polygon(outer.exterior, [h.exterior.coords for h in holes])
    assume(poly.is_valid)
    return poly


@given(area=with_holes(), angle=st.one_of(st.none(), st.floats(0, 179)), front=st.floats(60, 85),
       side=st.floats(55, 85))
@PROPS
def test_footprints_cover_area_and_legs_stay_inside(area, angle, front, side):  # type: ignore[no-untyped-def]
    plan = plan_survey(area_from_m(area), CAM,
                       SurveyParams(alt_m=60, front_overlap_pct=front, side_overlap_pct=side, angle_deg=angle))
    assert coverage_fraction(plan) >= 0.995
    proj = _proj(plan)
    area_m = in_m(plan.area, proj).buffer(0.05)
    for line in leg_lines_m(plan.mission, proj):
        assert area_m.contains(line)


@given(area=st.one_of(convex, concave), turnaround=st.sampled_from([0.0, 15.0]),
       ex=st.tuples(st.floats(-200, 200), st.floats(-200, 200), st.floats(30, 90)))
@PROPS
def test_no_fly_zones_are_never_entered(area, turnaround, ex):  # type: ignore[no-untyped-def]
    assume(area.area > 60_000)
    zone = Point(ex[0], ex[1]).buffer(ex[2], 6)
    assume(area.intersects(zone) and not zone.contains(area))
    assume(area.difference(zone).area > 0.5 * area.area)
    plan = plan_survey(area_from_m(area, [zone]), CAM,
                       SurveyParams(alt_m=60, front_overlap_pct=75, side_overlap_pct=70, turnaround_m=turnaround))
    proj = _proj(plan)
    zone_m = unary_union([in_m(e, proj) for e in plan.exclusions])
    home = Point(proj.to_xy(plan.mission.home.lon_deg, plan.mission.home.lat_deg))
    for line in leg_lines_m(plan.mission, proj):
        assert not line.intersects(zone_m)
        assert in_m(plan.area, proj).buffer(turnaround + 0.05).contains(line)
    if not zone_m.buffer(5).contains(home):
        path = flight_path_m(plan.mission, proj)
        for a, b in zip(path, path[1:]):
            assert not LineString([a, b]).intersects(zone_m), "a transit or turnaround crosses the no-fly zone"
    assert coverage_fraction(plan) >= 0.995


def test_concave_notch_splits_lines_instead_of_crossing():
    # a U: lines running north-south must not cross the notch (QGC would fly straight across)
    u_shape = box(0, 0, 600, 600).difference(box(200, 250, 400, 700))
    area = area_from_m(u_shape)
    plan = plan_survey(area, CAM, SurveyParams(alt_m=60, angle_deg=0, front_overlap_pct=75, side_overlap_pct=70))
    proj = _proj(plan)
    notch = in_m(area.polygon, proj).envelope.difference(in_m(area.polygon, proj)).buffer(-1.0)
    legs = leg_lines_m(plan.mission, proj)
    assert not any(line.intersects(notch) for line in legs)
    assert len(legs) > len({leg.leg for leg in plan.mission.legs}) - 1  # sanity: legs are numbered
    assert coverage_fraction(plan) >= 0.995


def test_first_line_half_a_spacing_inside_edge():
    square = box(0, 0, 500, 500)
    spacing = 30.0
    segs = sweep_segments(square, 90.0, spacing)  # lines east-west
    ys = sorted({round(s.ay, 6) for s in segs})
    assert math.isclose(ys[0], spacing / 2, abs_tol=1e-6)
    assert math.isclose(ys[-1], 500 - spacing / 2, abs_tol=1e-6)
    assert max(b - a for a, b in zip(ys, ys[1:])) <= spacing + 1e-9


SHAPES = {
    "long_thin_rotated": star_polygon([600, 80, 600, 80], 0.4),
    "L": box(0, 0, 800, 200).union(box(0, 0, 200, 700)),
    "U": box(0, 0, 600, 600).difference(box(200, 250, 400, 700)),
    "triangle": Polygon([(0, 0), (900, 100), (300, 500)]),
    "star": star_polygon([400, 250, 420, 230, 380, 260, 410, 240], 0.2),
    "kargaly_like": Polygon([(0, 0), (870, -130), (1190, -750), (690, -1380), (280, -990), (-225, -1235), (-445, -535)]),
    "parallelogram": Polygon([(0, 0), (700, 250), (800, 550), (100, 300)]),
}


def test_auto_angle_never_worse_than_longest_edge_or_zero():
    for name, shape in SHAPES.items():
        spacing = 30.0
        best = count_segments(shape, auto_angle(shape, spacing), spacing)
        assert best <= count_segments(shape, longest_edge_angle(shape), spacing), name
        assert best <= count_segments(shape, 0.0, spacing), name


def test_auto_angle_follows_a_long_thin_strip():
    strip = box(0, 0, 1000, 60)  # east-west strip: lines should run east-west (heading 90°)
    assert abs(auto_angle(strip, 30.0) - 90.0) < 1.0


def test_thin_arm_between_lines_gets_its_own_segment():
    # a 300 m arm, 4-10 m wide, running parallel to east-west lines and between two of them
    arm = Polygon([(390, 208), (700, 211), (700, 215), (390, 218)])
    area = area_from_m(box(0, 0, 400, 400).union(arm))
    plan = plan_survey(area, CAM, SurveyParams(alt_m=60, angle_deg=90))
    assert coverage_fraction(plan) >= 0.999
    proj = _proj(plan)
    inside = in_m(plan.area, proj).buffer(0.05)
    assert all(inside.contains(line) for line in leg_lines_m(plan.mission, proj))


def test_auto_angle_plans_no_more_legs_than_references():
    for name, shape in SHAPES.items():
        area = area_from_m(shape)
        params = {"alt_m": 60.0, "front_overlap_pct": 75.0, "side_overlap_pct": 70.0}
        auto = plan_survey(area, CAM, SurveyParams(**params))
        proj = _proj(auto)
        ref = longest_edge_angle(in_m(auto.area, proj))
        for angle in (ref, 0.0):
            other = plan_survey(area, CAM, SurveyParams(angle_deg=angle, **params))
            assert auto.summary["turns"] <= other.summary["turns"], (name, angle)

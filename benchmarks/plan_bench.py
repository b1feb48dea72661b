"""Planner benchmark: a 25 km² concave area with three holes at 2 cm GSD (target < 1 s).

Run: python benchmarks/plan_bench.py [--repeat N] [--outputs]
Prints the planning time and item counts; with --outputs also the time to write all files.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import shapely
from shapely.geometry import Point, Polygon

from uavops.geo import LocalProjection
from uavops.plan.area import SurveyArea
from uavops.plan.camera import get_camera
from uavops.plan.model import SurveyParams
from uavops.plan.survey import plan_survey

SITE = LocalProjection.for_point(76.9, 43.25)
X0, Y0 = SITE.to_xy(76.9, 43.25)


def bench_area() -> SurveyArea:
    # a 5.6 km x 5.2 km outline with a deep notch (concave), three holes; ~25 km² net
    outer = [(0, 0), (5600, 0), (5600, 5200), (3400, 5200), (3100, 2600), (2500, 2600), (2200, 5200), (0, 5200)]
    holes = [Point(1200, 1500).buffer(300, 16), Point(4400, 1400).buffer(250, 16), Point(4600, 4000).buffer(350, 16)]
    poly = Polygon(outer, [h.exterior.coords for h in holes])
    ll = shapely.transform(poly, lambda x, y: SITE.to_lonlat(x + X0, y + Y0), interleaved=False)
    return SurveyArea(polygon=ll, name="bench")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--outputs", action="store_true", help="also time writing .plan/.waypoints/previews")
    args = ap.parse_args()
    area = bench_area()
    cam = get_camera("DJI Phantom 4 Pro")
    params = SurveyParams(gsd_cm=2.0, front_overlap_pct=75, side_overlap_pct=70)
    times = []
    plan = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        plan = plan_survey(area, cam, params)
        times.append(time.perf_counter() - t0)
    assert plan is not None
    s = plan.summary
    print(f"area: {s['area_m2'] / 1e6:.2f} km² (concave, 3 holes), GSD {s['gsd_cm']} cm/px at {s['alt_m']} m")
    print(f"plan_survey: best {min(times):.3f} s, median {statistics.median(times):.3f} s over {len(times)} runs "
          f"(target < 1 s)")
    print(f"legs: {s['legs']}, mission items: {s['mission_items']}, photos: {s['photo_count']}, "
          f"fence items: {s['fence_items']}, distance: {s['distance_m'] / 1000:.1f} km, time: {s['time_s'] / 3600:.2f} h")
    for extra in ({"battery_min": 40.0}, {"vehicles": 3}, {"vehicles": 3, "battery_min": 40.0}):
        t0 = time.perf_counter()
        split = plan_survey(area, cam, SurveyParams(gsd_cm=2.0, front_overlap_pct=75, side_overlap_pct=70, **extra))
        vt = ", ".join(f"{t / 3600:.2f}" for t in split.summary["vehicle_times_s"])
        print(f"  with {extra}: {time.perf_counter() - t0:.3f} s, {split.summary['sorties']} sortie(s), "
              f"vehicle times [{vt}] h")
    if args.outputs:
        from uavops.plan.outputs import write_outputs

        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            write_outputs(plan, tmp)
            print(f"write_outputs (plan, waypoints, geojson, png, summary): {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()

"""Terrain following over a synthetic 200 m ridge."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import box

from fixtures.plan import SITE, area_from_m, write_ridge_dem
from uavops.errors import PlanError
from uavops.mission import MAV_CMD, MAV_FRAME
from uavops.plan.camera import get_camera
from uavops.plan.model import SurveyParams
from uavops.plan.survey import plan_survey

P4P = get_camera("DJI Phantom 4 Pro")
X0, Y0 = (float(v) for v in SITE.to_xy(76.85, 43.20))


def ground(x_m: np.ndarray) -> np.ndarray:
    """The ridge as an analytic function of easting (what write_ridge_dem rasterises)."""
    return 800.0 + 200.0 * np.exp(-((x_m - X0) / 400.0) ** 2 * 2.0)


@pytest.mark.parametrize("angle", [0.0, 90.0, 30.0])
def test_height_above_ground_within_tolerance(tmp_path, angle):
    dem = write_ridge_dem(tmp_path / "ridge.tif")
    area = area_from_m(box(-700, -300, 700, 300))
    plan = plan_survey(area, P4P, SurveyParams(alt_m=80, angle_deg=angle, terrain_tolerance_m=5.0),
                       dem_path=str(dem))
    m = plan.mission
    assert plan.terrain and m.home.alt_amsl_m == pytest.approx(float(ground(np.array([SITE.to_xy(
        m.home.lon_deg, m.home.lat_deg)[0]]))[0]), abs=0.5)
    nav = [it for it in m.items if it.command == MAV_CMD.NAV_WAYPOINT]
    assert nav and all(it.frame == MAV_FRAME.GLOBAL for it in nav)
    wire = m.wire_items()
    worst = 0.0
    for leg in m.legs:
        wps = [wire[s] for s in range(leg.start_seq, leg.end_seq + 1) if wire[s].command == MAV_CMD.NAV_WAYPOINT]
        assert len(wps) >= 2
        for a, b in zip(wps, wps[1:]):
            (ax, bx), (ay, by) = SITE.to_xy([a.lon_deg, b.lon_deg], [a.lat_deg, b.lat_deg])
            length = math.hypot(bx - ax, by - ay)
            t = np.linspace(0, 1, max(2, int(length / 5.0) + 2))
            xs = ax + t * (bx - ax)
            alt = a.alt_m + t * (b.alt_m - a.alt_m)
            agl = alt - ground(np.asarray(xs))
            worst = max(worst, float(np.max(np.abs(agl - 80.0))))
    assert worst <= 5.0, worst
    # the ridge needs extra waypoints on legs that cross it
    if angle != 0.0:
        assert any(leg.end_seq - leg.start_seq > 3 for leg in m.legs)
    # photos carry the AMSL altitude flown there
    for ph in m.photos[:50]:
        x, _ = SITE.to_xy(ph.lon_deg, ph.lat_deg)
        assert abs(ph.alt_m - float(ground(np.array([x]))[0]) - 80.0) <= 5.0


def test_without_dem_altitudes_are_relative():
    plan = plan_survey(area_from_m(box(0, 0, 300, 200)), P4P, SurveyParams(alt_m=80))
    assert all(it.frame == MAV_FRAME.GLOBAL_RELATIVE_ALT for it in plan.mission.items
               if it.command == MAV_CMD.NAV_WAYPOINT)


def test_dem_must_cover_the_area(tmp_path):
    dem = write_ridge_dem(tmp_path / "small.tif", size_m=400.0)
    with pytest.raises(PlanError, match="does not cover"):
        plan_survey(area_from_m(box(-700, -300, 700, 300)), P4P, SurveyParams(alt_m=80), dem_path=str(dem))


def test_cli_dem_writes_amsl_plan(run_cli, ridge_dem, tmp_path):
    import json

    from uavops.plan.formats import read_mission

    r = run_cli("plan", "--bbox", "76.845,43.198,76.855,43.202", "--alt", "70", "--dem", str(ridge_dem),
                "--out", str(tmp_path / "t"), "--json", "--no-png")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["terrain_following"] is True and s["home"]["alt_amsl_m"] > 790
    m = read_mission(tmp_path / "t" / "mission.plan")
    wps = [it for it in m.items if it.command == MAV_CMD.NAV_WAYPOINT]
    assert all(it.frame == MAV_FRAME.GLOBAL and it.alt_m > 850 for it in wps)
    plan_json = json.loads((tmp_path / "t" / "mission.plan").read_text())
    assert {i.get("AltitudeMode") for i in plan_json["mission"]["items"] if i["command"] == 16} == {2}


def test_geographic_dem_any_crs(tmp_path):
    """A DEM in EPSG:4326 (as SRTM/Copernicus tiles come) gives the same terrain following."""
    import rasterio
    from rasterio.transform import from_origin

    res = 0.0001  # ~8-11 m
    lon0, lat0, n = 76.82, 43.225, 600
    lons = lon0 + (np.arange(n) + 0.5) * res
    lats = lat0 - (np.arange(n) + 0.5) * res
    glon, glat = np.meshgrid(lons, lats)
    x, _ = SITE.to_xy(glon, glat)
    data = ground(np.asarray(x)).astype("float32")
    path = tmp_path / "geo.tif"
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(lon0, lat0, res, res)) as ds:
        ds.write(data, 1)
    plan = plan_survey(area_from_m(box(-500, -200, 500, 200)), P4P, SurveyParams(alt_m=80, angle_deg=30),
                       dem_path=str(path))
    for it in plan.mission.items:
        if it.command == MAV_CMD.NAV_WAYPOINT:
            gx, _ = SITE.to_xy(it.lon_deg, it.lat_deg)
            assert abs(it.alt_m - float(ground(np.array([gx]))[0]) - 80.0) <= 5.0

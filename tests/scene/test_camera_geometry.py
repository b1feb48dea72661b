"""Where the virtual camera puts a known ground point, against exact geodesy (ECEF/ENU)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin

from uavops.errors import ImageryError
from uavops.geo import LocalProjection
from uavops.plan.camera import get_camera
from uavops.scene import load_scene
from uavops.scene.camera import (
    DEFAULT_DISTORTION,
    CameraPose,
    LensDistortion,
    photo_footprint_lonlat,
    pixel_to_lonlat,
    project_lonlat,
    render_photo,
)

GROUND_M = 790.0
SITE = (42.8746, 74.5698)  # Bishkek, 1.6° from the UTM 43 central meridian: grid convergence ≈ 1.1°
MARKER_HALF_PX = 5  # 0.5 m white squares on a 5 cm grid


@pytest.fixture(scope="module")
def marker_scene(tmp_path_factory):
    """A grey 240 m scene with white 0.5 m squares every 12 m, their centres known exactly."""
    root = tmp_path_factory.mktemp("markers")
    proj = LocalProjection.for_point(SITE[1], SITE[0])
    e, n = proj.to_xy(SITE[1], SITE[0])
    gsd, size = 0.05, 4800
    left, top = round(e - 120.0, 1), round(n + 120.0, 1)
    img = np.full((size, size), 60, np.uint8)
    centres = []
    for r in range(60, size - 60, 240):
        for c in range(60, size - 60, 240):
            img[r - MARKER_HALF_PX:r + MARKER_HALF_PX, c - MARKER_HALF_PX:c + MARKER_HALF_PX] = 255
            centres.append((left + c * gsd, top - r * gsd))  # the square's centre is the pixel corner (c, r)
    with rasterio.open(root / "post.tif", "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       crs=f"EPSG:{proj.epsg}", transform=from_origin(left, top, gsd, gsd), tiled=True,
                       compress="deflate") as ds:
        for b in (1, 2, 3):
            ds.write(img, b)
        ds.build_overviews([2, 4, 8], Resampling.average)
    (root / "scene.json").write_text(json.dumps({"ground_amsl_m": GROUND_M}))
    xy = np.array(centres)
    lon, lat = proj.to_lonlat(xy[:, 0], xy[:, 1])
    return load_scene(root), np.asarray(lon), np.asarray(lat)


def _blobs(img: np.ndarray) -> np.ndarray:
    gray = img[..., 0].astype(np.float64)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((gray > 110).astype(np.uint8), connectivity=8)
    weight = np.clip(gray - 60.0, 0, None)
    h, w = gray.shape
    ys, xs = np.mgrid[0:h, 0:w]
    out = []
    for i in range(1, n):
        x, y, bw, bh, _ = stats[i]
        if x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1:
            continue
        sl = (slice(max(0, y - 2), y + bh + 2), slice(max(0, x - 2), x + bw + 2))
        wgt = weight[sl] * (labels[sl] == i) + weight[sl] * (labels[sl] == 0) * (weight[sl] > 10)
        out.append(((wgt * xs[sl]).sum() / wgt.sum(), (wgt * ys[sl]).sum() / wgt.sum()))
    return np.array(out).reshape(-1, 2)


def _max_error(scene_lonlat, pose, cam, lens) -> tuple[float, int]:
    scene, lon, lat = scene_lonlat
    img = render_photo(scene, pose, cam, distortion=lens if lens is not None else False, radiometry=False)
    u, v = project_lonlat(pose, cam, lon, lat, np.full(lon.shape, GROUND_M), lens)
    inside = (u > 8) & (v > 8) & (u < cam.image_width_px - 9) & (v < cam.image_height_px - 9)
    pred = np.stack([u[inside], v[inside]], 1)
    found = _blobs(img)
    assert len(found) >= 0.8 * len(pred) > 10
    d = np.linalg.norm(pred[:, None, :] - found[None, :, :], axis=2)
    return float(d.min(axis=1).max()), len(pred)


CAM = get_camera("DJI Phantom 4 Pro").for_image_size(1368, 912)


@pytest.mark.parametrize("roll, pitch, yaw", [(0, 0, 0), (0, 0, 37), (0, 10, 0), (10, 0, 120), (-6, 8, 250)])
def test_marker_lands_where_predicted_without_distortion(marker_scene, roll, pitch, yaw):
    pose = CameraPose(SITE[0], SITE[1], GROUND_M + 60.0, roll, pitch, yaw)
    err, n = _max_error(marker_scene, pose, CAM, None)
    assert err < 0.5, f"{n} markers, worst {err:.3f} px"


@pytest.mark.parametrize("roll, pitch, yaw", [(0, 0, 0), (0, 10, 45), (10, 0, 200)])
def test_marker_lands_where_predicted_with_distortion(marker_scene, roll, pitch, yaw):
    lens = LensDistortion(k1=-0.08, k2=0.03, k3=0.0, p1=0.001, p2=-0.0008)  # stronger than the default
    pose = CameraPose(SITE[0], SITE[1], GROUND_M + 60.0, roll, pitch, yaw)
    err, n = _max_error(marker_scene, pose, CAM, lens)
    assert err < 1.0, f"{n} markers, worst {err:.3f} px"
    err, _ = _max_error(marker_scene, pose, CAM, DEFAULT_DISTORTION)
    assert err < 1.0


def test_decimated_read_keeps_geometry(marker_scene):
    pose = CameraPose(SITE[0], SITE[1], GROUND_M + 110.0, 0, 0, 15)  # 12 cm/px photo from a 5 cm scene
    err, n = _max_error(marker_scene, pose, CAM, None)
    assert err < 0.5, f"{n} markers, worst {err:.3f} px"


def test_distortion_round_trip_and_pixel_to_ground():
    x = np.linspace(-0.8, 0.8, 41)
    xx, yy = np.meshgrid(x, x * 0.66)
    xd, yd = DEFAULT_DISTORTION.distort(xx, yy)
    xu, yu = DEFAULT_DISTORTION.undistort(xd, yd)
    assert np.abs(xu - xx).max() < 1e-9 and np.abs(yu - yy).max() < 1e-9
    pose = CameraPose(SITE[0], SITE[1], GROUND_M + 80.0, 3, -4, 300)
    u = np.array([0.0, 683.5, 1367.0, 100.0])
    v = np.array([0.0, 455.5, 911.0, 800.0])
    lon, lat = pixel_to_lonlat(pose, CAM, u, v, GROUND_M, DEFAULT_DISTORTION)
    u2, v2 = project_lonlat(pose, CAM, lon, lat, np.full(4, GROUND_M), DEFAULT_DISTORTION)
    assert np.abs(u2 - u).max() < 0.05 and np.abs(v2 - v).max() < 0.05


def test_footprint_matches_planner_formula():
    cam = get_camera("DJI Phantom 4 Pro")
    ring = photo_footprint_lonlat(CameraPose(SITE[0], SITE[1], GROUND_M + 100.0), cam, GROUND_M)
    proj = LocalProjection.for_point(SITE[1], SITE[0])
    xy = np.array([proj.to_xy(lo, la) for lo, la in ring])
    across = np.linalg.norm(xy[8] - xy[0])   # top edge: corner to corner
    along = np.linalg.norm(xy[16] - xy[8])   # right edge
    fa, fb = cam.footprint_m(100.0)
    assert across == pytest.approx(fa, rel=2e-3) and along == pytest.approx(fb, rel=2e-3)


def test_nadir_image_top_points_along_heading(marker_scene):
    """With yaw 90 (flying east) ground to the east appears at the top of the image."""
    pose = CameraPose(SITE[0], SITE[1], GROUND_M + 60.0, 0, 0, 90)
    proj = LocalProjection.for_point(SITE[1], SITE[0])
    e, n = proj.to_xy(SITE[1], SITE[0])
    lon, lat = proj.to_lonlat(e + 10.0, n)
    u, v = project_lonlat(pose, CAM, lon, lat, GROUND_M)
    assert v < CAM.image_height_px / 2 - 50 and abs(u - (CAM.image_width_px - 1) / 2) < 15


def test_camera_below_ground_is_a_clear_error(marker_scene):
    with pytest.raises(ImageryError, match="not above the ground"):
        render_photo(marker_scene[0], CameraPose(SITE[0], SITE[1], GROUND_M - 5), CAM)


def test_dem_relief_moves_points_where_geometry_says(marker_scene):
    """A sloping terrain model: each marker is seen where its 3-D position (on the slope) projects."""
    scene, lon, lat = marker_scene
    proj = scene.projection
    x0, y0 = proj.to_xy(SITE[1], SITE[0])

    def dem(x, y):  # a 15 % slope rising to the north-east, 790 m at the site
        return GROUND_M + 0.1 * (np.asarray(x) - x0) + 0.1 * (np.asarray(y) - y0)

    pose = CameraPose(SITE[0], SITE[1], GROUND_M + 70.0, 0, 5, 30)
    img = render_photo(scene, pose, CAM, distortion=False, radiometry=False, dem=dem)
    mx, my = proj.to_xy(lon, lat)
    u, v = project_lonlat(pose, CAM, lon, lat, dem(mx, my))
    inside = (u > 8) & (v > 8) & (u < CAM.image_width_px - 9) & (v < CAM.image_height_px - 9)
    pred = np.stack([u[inside], v[inside]], 1)
    found = _blobs(img)
    d = np.linalg.norm(pred[:, None, :] - found[None, :, :], axis=2).min(axis=1)
    assert len(pred) > 10 and d.max() < 0.5, d.max()
    # and it differs from the flat-ground picture by metres on the ground, i.e. many pixels
    flat_u, flat_v = project_lonlat(pose, CAM, lon, lat, np.full(lon.shape, GROUND_M))
    assert np.nanmax(np.hypot(flat_u - u, flat_v - v)[inside]) > 20


def test_dem_geotiff_matches_the_function(marker_scene, tmp_path):
    from uavops.scene.camera import load_dem

    scene = marker_scene[0]
    left, bottom, right, top = scene.bounds
    xs = left + (np.arange(48) + 0.5) * 5.0
    ys = top - (np.arange(48) + 0.5) * 5.0
    gx, gy = np.meshgrid(xs, ys)
    plane = GROUND_M + 0.05 * (gx - left) - 0.02 * (gy - bottom)
    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", width=48, height=48, count=1, dtype="float32",
                       crs=f"EPSG:{scene.crs_epsg}", transform=from_origin(left, top, 5.0, 5.0)) as ds:
        ds.write(plane.astype(np.float32), 1)
    dem = load_dem(path, scene.crs_epsg)
    qx = np.array([left + 30.0, left + 100.0, right - 40.0])
    qy = np.array([bottom + 20.0, top - 70.0, bottom + 130.0])
    expect = GROUND_M + 0.05 * (qx - left) - 0.02 * (qy - bottom)
    assert np.allclose(dem(qx, qy), expect, atol=1e-3)

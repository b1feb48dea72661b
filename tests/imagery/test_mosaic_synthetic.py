"""Mosaics of synthetic flights (virtual camera over a scene with known truth, GPS noise σ = 2 m)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from fixtures.imagery import truth_offsets_m


@pytest.fixture(scope="module")
def mosaic_out(synthetic_flight, tmp_path_factory):  # type: ignore[no-untyped-def]
    from uavops.cli.main import main

    out = tmp_path_factory.mktemp("mosaic_out")
    with pytest.raises(SystemExit) as exc:
        main(["mosaic", str(synthetic_flight.photos_dir), "--out", str(out), "--json"])
        raise SystemExit(0)
    assert exc.value.code in (0, None)
    return out


def test_every_photo_registered_with_subpixel_ties(mosaic_out: Path, synthetic_flight) -> None:  # type: ignore[no-untyped-def]
    q = json.loads((mosaic_out / "quality.json").read_text())
    assert q["photos_used"] == len(synthetic_flight.poses) == 15
    assert q["photos_skipped"] == 0
    assert q["tie_rmse_px"] is not None and q["tie_rmse_px"] <= 1.5
    pm = q["pair_matching"]  # 15 photos: a 14-edge spanning tree searched pose-free, the rest guided
    assert pm["pose_free_tried"] >= 14 and pm["guided_tried"] > 0
    assert pm["pose_free_matched"] + pm["guided_matched"] >= q["pairs_matched"]
    assert q["tie_rmse_cm"] == pytest.approx(q["tie_rmse_px"] * q["gsd_native_cm"], rel=0.05)
    # GPS residuals reflect the σ = 2 m noise, not a distorted block
    assert 0.5 < q["gps_residual_rmse_m"] < 4.0
    assert all(p["status"] == "used" and p["tie_points"] > 50 for p in q["photos"])


def test_mosaic_matches_scene_truth_within_1m(mosaic_out: Path, synthetic_flight) -> None:  # type: ignore[no-untyped-def]
    offsets = truth_offsets_m(mosaic_out / "mosaic.tif", synthetic_flight.scene.post_path)
    assert len(offsets) >= 8
    err = np.hypot(offsets[:, 0], offsets[:, 1])
    assert float(np.median(err)) <= 1.0
    assert float(np.percentile(err, 90)) <= 1.0


def test_output_is_a_georeferenced_cog_with_mask(mosaic_out: Path, synthetic_flight) -> None:  # type: ignore[no-untyped-def]
    with rasterio.open(mosaic_out / "mosaic.tif") as ds:
        assert ds.crs.to_epsg() == synthetic_flight.scene.crs_epsg
        assert ds.count == 3 and ds.dtypes[0] == "uint8"
        assert ds.profile["tiled"] and ds.profile["blockxsize"] == 512
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.compression is not None
        assert len(ds.overviews(1)) >= 2
        mask = ds.dataset_mask()
        assert 0.3 < (mask > 0).mean() < 0.99  # an alpha/nodata mask marks the uncovered corners
        left, bottom, right, top = ds.bounds
    # all (true) camera positions lie inside the mosaic
    from uavops.geo import LocalProjection

    proj = LocalProjection(synthetic_flight.scene.crs_epsg)
    for pose in synthetic_flight.poses:
        x, y = proj.to_xy(pose.lon_deg, pose.lat_deg)
        assert left < x < right and bottom < y < top
    # no leftovers beside the outputs
    assert sorted(p.name for p in mosaic_out.iterdir()) == ["footprints.geojson", "mosaic.tif", "quality.json"]


def test_footprints_geojson_in_wgs84_covers_cameras(mosaic_out: Path, synthetic_flight) -> None:  # type: ignore[no-untyped-def]
    from shapely.geometry import Point, shape

    doc = json.loads((mosaic_out / "footprints.geojson").read_text())
    feats = [f for f in doc["features"] if f["properties"]["status"] == "used"]
    assert len(feats) == 15
    for f, pose in zip(sorted(feats, key=lambda f: f["properties"]["name"]), synthetic_flight.poses):
        poly = shape(f["geometry"])
        assert -180 <= poly.bounds[0] <= 180 and -90 <= poly.bounds[1] <= 90
        assert poly.contains(Point(pose.lon_deg, pose.lat_deg))


def _seam_jump(mosaic: Path, flight, tmp_ratio_blur_px: float = 4.0) -> float:  # type: ignore[no-untyped-def]
    """Mean gradient of (mosaic / scene) brightness on seams, divided by its mean elsewhere."""
    import cv2
    from rasterio.warp import Resampling, reproject
    from shapely.geometry import shape

    with rasterio.open(mosaic) as m:
        a = m.read().astype(np.float32)
        mask = m.dataset_mask() > 0
        ref = np.zeros_like(a)
        offs = truth_offsets_m(mosaic, flight.scene.post_path, win_px=128)
        dx, dy = np.median(offs, axis=0) if len(offs) else (0.0, 0.0)
        tr = m.transform @ m.transform.translation(-dx / m.transform.a, dy / m.transform.a)
        with rasterio.open(flight.scene.post_path) as s:
            for b in range(3):
                reproject(s.read(b + 1), ref[b], src_transform=s.transform, src_crs=s.crs, dst_transform=tr,
                          dst_crs=m.crs, resampling=Resampling.average)
        transform = m.transform
        crs = m.crs
    lum_m = cv2.GaussianBlur(a.mean(axis=0), (0, 0), tmp_ratio_blur_px)
    lum_r = cv2.GaussianBlur(ref.mean(axis=0), (0, 0), tmp_ratio_blur_px)
    ratio = np.log(np.maximum(lum_m, 1.0) / np.maximum(lum_r, 1.0))
    gx = cv2.Sobel(ratio, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(ratio, cv2.CV_32F, 0, 1, ksize=3)
    grad = np.hypot(gx, gy)
    # seams: where the nearest photo centre (the Voronoi rule the mosaic uses) changes
    from uavops.geo import LocalProjection

    proj = LocalProjection(crs.to_epsg())
    doc = json.loads((mosaic.parent / "footprints.geojson").read_text())
    centres = []
    for f in doc["features"]:
        if f["properties"]["status"] == "used":
            c = shape(f["geometry"]).centroid
            centres.append(proj.to_xy(c.x, c.y))
    cen = np.array(centres)
    rows, cols = np.mgrid[0:a.shape[1], 0:a.shape[2]]
    xs = transform.c + (cols + 0.5) * transform.a
    ys = transform.f + (rows + 0.5) * transform.e
    d = (xs[..., None] - cen[:, 0]) ** 2 + (ys[..., None] - cen[:, 1]) ** 2
    label = np.argmin(d, axis=2).astype(np.int32)
    seam = np.zeros_like(mask)
    seam[:, 1:] |= label[:, 1:] != label[:, :-1]
    seam[1:, :] |= label[1:, :] != label[:-1, :]
    seam = cv2.dilate(seam.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    inner = cv2.erode(mask.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0
    on = grad[seam & inner]
    off = grad[~seam & inner]
    return float(on.mean() / off.mean())


def test_no_visible_seams(mosaic_out: Path, synthetic_flight, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Brightness steps at seams are measured against the scene; hard seams without exposure
    compensation (the same photos, same registration) must show up, ours must not."""
    from uavops.imagery import MosaicOptions, build_mosaic

    ours = tmp_path / "ours"
    hard = tmp_path / "hard"
    build_mosaic(synthetic_flight.photos_dir, ours, MosaicOptions(gsd_cm=20.0))
    build_mosaic(synthetic_flight.photos_dir, hard, MosaicOptions(gsd_cm=20.0, blend_m=0.0, exposure_compensation=False))
    jump_ours = _seam_jump(ours / "mosaic.tif", synthetic_flight)
    jump_hard = _seam_jump(hard / "mosaic.tif", synthetic_flight)
    assert jump_hard > 1.5, "the seam measure must be able to see hard seams"
    assert jump_ours < 1.25, f"seam gradient ratio {jump_ours:.2f} (hard seams: {jump_hard:.2f})"
    assert jump_ours < jump_hard / 1.3

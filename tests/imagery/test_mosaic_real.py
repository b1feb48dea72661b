"""Real DJI Phantom 3 photos (OpenDroneMap's brighton_beach set, 18 images)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio




def test_brighton_mosaic(shared_data: Path, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import cv2

    from uavops.geo import LocalProjection
    from uavops.imagery import read_photo_meta

    src = shared_data / "odm_brighton_beach"
    out = tmp_path / "mosaic"
    r = run_cli("mosaic", str(src / "images"), "--out", str(out), "--gsd", "5", "--json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["photos_used"] == 18 and summary["photos_skipped"] == 0  # every image registered
    q = json.loads((out / "quality.json").read_text())
    assert q["tie_points"] > 1000
    assert 0 < q["tie_rmse_px"] < 10 and q["tie_rmse_cm"] > 0  # trees lean: a few px, reported
    # how pairs were matched: one pose-free search per spanning-tree edge at least, the rest mostly guided
    pm = q["pair_matching"]
    assert pm["pose_free_tried"] >= 17 and pm["guided_matched"] > 0
    assert pm["pose_free_tried"] + pm["guided_tried"] >= q["pairs_tried"]
    assert pm["pose_free_matched"] + pm["guided_matched"] >= q["pairs_matched"]
    # photos whose recorded heading is 180° off (the middle line) were detected and corrected
    corrected = [p["name"] for p in q["photos"] if p.get("heading_source") == "photos"]
    assert set(corrected) == {f"DJI_00{n}.JPG" for n in range(24, 30)}
    # placed within consumer-GPS error: every adjusted nadir point within 6 m of its fix, block mean < 2 m
    res = np.array([p["gps_residual_en_m"] for p in q["photos"]])
    assert np.hypot(res[:, 0], res[:, 1]).max() < 6.0
    assert np.hypot(*res.mean(axis=0)) < 2.0
    assert q["crs"] == "EPSG:32615"
    metas = [read_photo_meta(p) for p in sorted((src / "images").glob("*.JPG"))]
    proj = LocalProjection(32615)
    with rasterio.open(out / "mosaic.tif") as ds:
        assert ds.crs.to_epsg() == 32615
        left, bottom, right, top = ds.bounds
        for m in metas:
            x, y = proj.to_xy(m.lon_deg, m.lat_deg)
            assert left < x < right and bottom < y < top
        small = ds.read(out_shape=(3, ds.height // 4, ds.width // 4))
        mask = ds.dataset_mask(out_shape=(ds.height // 4, ds.width // 4))
    # the content agrees with the dataset author's own preview: one similarity maps one onto the other
    mos = cv2.cvtColor(np.ascontiguousarray(np.moveaxis(small, 0, 2)), cv2.COLOR_RGB2GRAY)
    mos[mask == 0] = 0
    prev = cv2.imread(str(src / "brighton_beach.jpg"), cv2.IMREAD_GRAYSCALE)
    sift = cv2.SIFT_create(4000)
    k1, d1 = sift.detectAndCompute(mos, (mask > 0).astype(np.uint8))
    k2, d2 = sift.detectAndCompute(prev, None)
    good = [m[0] for m in cv2.BFMatcher().knnMatch(d1, d2, k=2) if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    a, inl = cv2.estimateAffinePartial2D(np.float32([k1[m.queryIdx].pt for m in good]),
                                         np.float32([k2[m.trainIdx].pt for m in good]), ransacReprojThreshold=4.0)
    assert a is not None and int(inl.sum()) >= 40, f"{int(inl.sum()) if inl is not None else 0} consistent matches"
    # both are north-up maps: the similarity between them has (almost) no rotation
    assert abs(np.degrees(np.arctan2(a[1, 0], a[0, 0]))) < 3.0

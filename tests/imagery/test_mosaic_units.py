"""Unit tests: photo metadata, capture log, pose geometry (against the virtual camera), headings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures.imagery import write_small_photo


def test_brighton_exif_and_xmp(shared_data: Path) -> None:
    from uavops.imagery import read_photo_meta

    m = read_photo_meta(shared_data / "odm_brighton_beach" / "images" / "DJI_0018.JPG")
    assert (m.width_px, m.height_px) == (4000, 2250)
    assert (m.make, m.model) == ("DJI", "FC300S")
    assert m.focal_length_mm == pytest.approx(3.61)
    assert m.lat_deg == pytest.approx(46.8426, abs=1e-3) and m.lon_deg == pytest.approx(-91.9946, abs=1e-3)
    assert m.rel_alt_m == pytest.approx(39.8)
    assert m.pitch_deg == pytest.approx(-89.9) and m.yaw_deg == pytest.approx(45.0)


def test_brighton_intrinsics_use_full_sensor_width(shared_data: Path) -> None:
    from uavops.imagery import read_photo_meta
    from uavops.imagery.geometry import resolve_intrinsics

    m = read_photo_meta(shared_data / "odm_brighton_beach" / "images" / "DJI_0018.JPG")
    intr = resolve_intrinsics(m)
    assert intr.focal_px == pytest.approx(3.61 * 4000 / 6.17, rel=1e-3)  # 16:9 crop keeps the 6.17 mm width
    assert 40 / intr.focal_px * 100 == pytest.approx(1.71, abs=0.02)  # ≈ 1.7 cm/px at 40 m
    assert resolve_intrinsics(m, "DJI Phantom 4 Pro").camera_name == "DJI Phantom 4 Pro"


def test_written_photo_roundtrip(tmp_path: Path) -> None:
    from uavops.imagery import read_photo_meta

    p = write_small_photo(tmp_path / "a.jpg", 43.25, 76.95, rel_alt_m=55.0)
    m = read_photo_meta(p)
    assert m.lat_deg == pytest.approx(43.25, abs=1e-6) and m.lon_deg == pytest.approx(76.95, abs=1e-6)
    assert m.rel_alt_m == pytest.approx(55.0) and m.pitch_deg == pytest.approx(-90.0)
    assert not read_photo_meta(write_small_photo(tmp_path / "b.jpg", None, None)).has_position


@pytest.mark.parametrize("roll,pitch,yaw", [(0, 0, 0), (0, 0, 45), (5, 0, 30), (0, 8, -120), (3, -4, 200)])
def test_pose_homography_agrees_with_virtual_camera(roll: float, pitch: float, yaw: float) -> None:
    """Our ground footprint of a pixel = the virtual camera's ray/ground intersection (to 5 cm)."""
    from uavops.geo import LocalProjection
    from uavops.imagery.geometry import Intrinsics, apply_h, grid_convergence_deg, pose_homography
    from uavops.plan.camera import get_camera
    from uavops.scene.camera import CameraPose, gimbal_angles, pixel_to_lonlat

    cam = get_camera("DJI Phantom 4 Pro")
    intr = Intrinsics(cam.image_width_px, cam.image_height_px, cam.focal_px, cam.name, cam.sensor_width_mm)
    pose = CameraPose(43.2, 76.9, 980.0, roll, pitch, yaw)
    groll, gpitch, gyaw = gimbal_angles(pose)
    u = np.array([0, cam.image_width_px - 1, 1000, 3000.0])
    v = np.array([0, cam.image_height_px - 1, 2500, 500.0])
    lon, lat = pixel_to_lonlat(pose, cam, u, v, 900.0)
    proj = LocalProjection.for_point(76.9, 43.2)
    x, y = proj.to_xy(lon, lat)
    cx, cy = proj.to_xy(76.9, 43.2)
    conv = grid_convergence_deg(proj.epsg, 76.9, 43.2)
    h = pose_homography(intr, cx, cy, 80.0, gyaw - conv, gpitch, groll)
    assert np.abs(apply_h(h, np.c_[u, v]) - np.c_[x, y]).max() < 0.05


def test_captures_reader_is_tolerant(tmp_path: Path) -> None:
    from uavops.errors import InputError
    from uavops.imagery import read_captures

    p = tmp_path / "captures.csv"
    p.write_text("# uavops fly\nIndex;Time_UTC;Lat_deg;Lon_deg;Alt_m;Roll_deg;Pitch_deg;Heading_deg\n"
                 "1;2026-05-01T06:00:00Z;43.2;76.9;50.0;1.0;-2.0;90\n"
                 "2;2026-05-01T06:00:03Z;43.2001;76.9;;;;\n"
                 "3;x;bad;76.9;50;0;0;0\n", encoding="utf-8")
    rows = read_captures(p)
    assert len(rows) == 2
    assert rows[0].index == 1 and rows[0].rel_alt_m == 50.0 and rows[0].yaw_deg == 90.0
    assert rows[1].rel_alt_m is None and rows[1].roll_deg is None
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="lat/lon"):
        read_captures(tmp_path / "bad.csv")


def test_mosaic_from_capture_log_when_photos_lack_gps(synthetic_flight, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """Photos stripped of GPS + the flight's captures.csv (body attitude, nadir gimbal) still mosaic."""
    import csv
    import json

    from PIL import Image

    from uavops.geo import LocalProjection

    d = tmp_path / "photos"
    d.mkdir()
    names = sorted(p.name for p in synthetic_flight.photos_dir.iterdir())
    for n in names:
        with Image.open(synthetic_flight.photos_dir / n) as im:
            exif = im.getexif()
            exif.pop(0x8825, None)  # GPS IFD
            im.save(d / n, "JPEG", exif=exif, quality=92)  # XMP dropped too: no attitude, no height
    proj = LocalProjection(synthetic_flight.scene.crs_epsg)
    rng = np.random.default_rng(1)
    cap = tmp_path / "captures.csv"
    with cap.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "time", "lat", "lon", "rel_alt_m", "roll", "pitch", "yaw"])
        for k, pose in enumerate(synthetic_flight.poses):
            x, y = proj.to_xy(pose.lon_deg, pose.lat_deg)
            lon, lat = proj.to_lonlat(x + rng.normal(0, 2), y + rng.normal(0, 2))
            w.writerow([k + 1, f"t{k}", f"{lat:.8f}", f"{lon:.8f}", f"{synthetic_flight.agl_m:.2f}",
                        f"{pose.roll_deg:.2f}", f"{pose.pitch_deg:.2f}", f"{pose.yaw_deg:.2f}"])
    out = tmp_path / "out"
    r = run_cli("mosaic", str(d), "--out", str(out), "--captures", str(cap), "--gsd", "15")
    assert r.exit_code == 0, r.stderr
    q = json.loads((out / "quality.json").read_text())
    assert q["photos_used"] == 15
    assert q["gps_residual_rmse_m"] < 5.0


def test_capture_log_fills_only_what_photos_lack(tmp_path: Path) -> None:
    from uavops.imagery.captures import CapturePose
    from uavops.imagery.photos import PhotoMeta
    from uavops.imagery.pipeline import _apply_captures

    with_gps = PhotoMeta(path=tmp_path / "a.jpg", width_px=10, height_px=10, lat_deg=1.0, lon_deg=2.0, rel_alt_m=None,
                         yaw_deg=30.0)
    no_gps = PhotoMeta(path=tmp_path / "b.jpg", width_px=10, height_px=10)
    rows = [CapturePose(None, 1, 5.0, 6.0, 40.0, None, 2.0, 3.0, 90.0, None),
            CapturePose(None, 2, 7.0, 8.0, 41.0, None, 1.0, -1.0, 270.0, None)]
    a, b = _apply_captures([with_gps, no_gps], rows)
    assert (a.lat_deg, a.lon_deg, a.yaw_deg, a.rel_alt_m) == (1.0, 2.0, 30.0, 40.0)
    assert (b.lat_deg, b.lon_deg, b.rel_alt_m, b.yaw_deg) == (7.0, 8.0, 41.0, 270.0)
    assert (b.pitch_deg, b.roll_deg) == (-91.0, 1.0)  # body attitude → gimbal angles of a body-fixed camera

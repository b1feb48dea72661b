"""Photos written like a DJI drone writes them, and the renderer's radiometry."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import exifread
import numpy as np
import pytest
from PIL import Image

from uavops.errors import ImageryError
from uavops.plan.camera import get_camera
from uavops.scene.camera import CameraPose, Radiometry, read_photo_meta, render_photo, write_photo

CAM = get_camera("DJI Phantom 4 Pro")
SMALL = CAM.for_image_size(912, 608)


def _centre_pose(scene, alt_agl_m: float = 50.0, **att: float) -> CameraPose:
    l, b, r, t = scene.bounds
    lon, lat = scene.projection.to_lonlat((l + r) / 2, (b + t) / 2)
    return CameraPose(float(lat), float(lon), scene.ground_amsl_m + alt_agl_m, att.get("roll", 0.0),
                      att.get("pitch", 0.0), att.get("yaw", 0.0))


def test_exif_and_xmp_read_back_equal_to_the_pose(tmp_path: Path, small_quake_scene):
    pose = CameraPose(42.87461234, -74.56981234, 851.25, 2.5, -3.25, 271.5)  # W longitude, yaw > 180
    img = render_photo(small_quake_scene, _centre_pose(small_quake_scene), SMALL, rng=1)
    when = datetime(2026, 5, 1, 8, 30, 5, 250000, tzinfo=timezone.utc)
    path = write_photo(tmp_path / "IMG_0007.JPG", img, pose, SMALL, when, rel_alt_m=61.25, image_no=7)
    with open(path, "rb") as fh:
        tags = exifread.process_file(fh, details=False)
    assert str(tags["Image Make"]) == "DJI" and str(tags["Image Model"]) == "FC6310"
    assert str(tags["EXIF DateTimeOriginal"]) == "2026:05:01 08:30:05"
    assert str(tags["GPS GPSLongitudeRef"]) == "W" and str(tags["GPS GPSLatitudeRef"]) == "N"
    assert int(str(tags["EXIF FocalLengthIn35mmFilm"])) == 24
    meta = read_photo_meta(path)
    assert meta["lat_deg"] == pytest.approx(pose.lat_deg, abs=1e-8)
    assert meta["lon_deg"] == pytest.approx(pose.lon_deg, abs=1e-8)
    assert meta["alt_amsl_m"] == pytest.approx(851.25, abs=1e-3)
    assert meta["focal_length_mm"] == pytest.approx(8.8)
    assert (meta["width_px"], meta["height_px"]) == (912, 608)
    assert meta["RelativeAltitude"] == pytest.approx(61.25)
    assert meta["AbsoluteAltitude"] == pytest.approx(851.25)
    assert meta["FlightRollDegree"] == pytest.approx(2.5)
    assert meta["FlightPitchDegree"] == pytest.approx(-3.25)
    assert meta["FlightYawDegree"] == pytest.approx(-88.5)  # DJI range -180..180
    assert meta["GimbalPitchDegree"] == pytest.approx(-93.25)
    assert meta["GimbalRollDegree"] == pytest.approx(2.5)
    assert meta["GimbalYawDegree"] == pytest.approx(-88.5)
    with Image.open(path) as im:  # Pillow sees the same
        assert im.getexif()[0x0110] == "FC6310"
        gps = im.getexif().get_ifd(0x8825)
        assert gps[1] == "N" and float(gps[6]) == pytest.approx(851.25)
        assert "drone-dji:GimbalPitchDegree" in (im.info.get("xmp") or b"").decode()


def test_layout_matches_a_real_dji_photo(tmp_path: Path, shared_data: Path):
    real = sorted((shared_data / "odm_brighton_beach" / "images").glob("*.JPG"))[0]
    cam = get_camera("DJI Phantom 3 FC300S").for_image_size(400, 300)
    path = write_photo(tmp_path / "IMG_0001.JPG", np.zeros((300, 400, 3), np.uint8),
                       CameraPose(46.8, -91.99, 198.3, 0, 0, 45), cam, datetime(2026, 1, 1, tzinfo=timezone.utc), 39.8)
    with open(real, "rb") as fh:
        real_tags = set(exifread.process_file(fh, details=False))
    with open(path, "rb") as fh:
        ours = set(exifread.process_file(fh, details=False))
    needed = {"Image Make", "Image Model", "GPS GPSLatitude", "GPS GPSLatitudeRef", "GPS GPSLongitude",
              "GPS GPSLongitudeRef", "GPS GPSAltitude", "GPS GPSAltitudeRef", "EXIF DateTimeOriginal",
              "EXIF FocalLength", "EXIF FocalLengthIn35mmFilm", "EXIF ExifImageWidth", "EXIF ExifImageLength"}
    assert needed <= real_tags and needed <= ours
    real_meta, our_meta = read_photo_meta(real), read_photo_meta(path)
    dji_keys = {k for k in real_meta if k[0].isupper()}
    assert dji_keys - {"CamReverse", "GimbalReverse"} <= set(our_meta)


def test_radiometry_varies_but_geometry_does_not(small_quake_scene):
    pose = _centre_pose(small_quake_scene, yaw=20.0)
    clean = render_photo(small_quake_scene, pose, SMALL, distortion=False, radiometry=False)
    a = render_photo(small_quake_scene, pose, SMALL, distortion=False, rng=1)
    b = render_photo(small_quake_scene, pose, SMALL, distortion=False, rng=2)
    assert np.array_equal(a, render_photo(small_quake_scene, pose, SMALL, distortion=False, rng=1))
    assert not np.array_equal(a, b)
    # vignetting: corners darker than the centre relative to the clean image
    h, w = clean.shape[:2]
    def ratio(img, sl):
        return img[sl].astype(float).mean() / max(1.0, clean[sl].astype(float).mean())
    centre = (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3))
    corner = (slice(0, h // 6), slice(0, w // 6))
    assert ratio(a, corner) < ratio(a, centre) - 0.08
    # sensor noise present but small
    noise = (a.astype(float) - clean.astype(float) * ratio(a, centre))[centre]
    assert 0.5 < noise.std() < 12


def test_motion_blur_smears_along_track(small_quake_scene):
    pose = _centre_pose(small_quake_scene, yaw=0.0)
    radio = Radiometry(vignetting=0, exposure_sigma=0, white_balance_sigma=0, noise_dn=0, shutter_s=1 / 50)
    still = render_photo(small_quake_scene, pose, SMALL, distortion=False, radiometry=radio, rng=0)
    moving = render_photo(small_quake_scene, pose, SMALL, distortion=False, radiometry=radio, rng=0,
                          velocity_enu_mps=(0.0, 12.0, 0.0))
    g0, g1 = still.astype(float).mean(2), moving.astype(float).mean(2)
    # flying north with yaw 0: smear is vertical in the image; horizontal detail survives
    dv0, dv1 = np.abs(np.diff(g0, axis=0)).mean(), np.abs(np.diff(g1, axis=0)).mean()
    dh0, dh1 = np.abs(np.diff(g0, axis=1)).mean(), np.abs(np.diff(g1, axis=1)).mean()
    assert dv1 < 0.75 * dv0 and dh1 > 0.8 * dh0


def test_full_size_photo_and_bad_image(small_quake_scene, tmp_path: Path):
    img = render_photo(small_quake_scene, _centre_pose(small_quake_scene, 60.0), CAM, rng=3)
    assert img.shape == (3648, 5472, 3) and img.dtype == np.uint8
    with pytest.raises(ImageryError, match="RGB uint8"):
        write_photo(tmp_path / "x.jpg", img[..., 0], _centre_pose(small_quake_scene), CAM,
                    datetime(2026, 1, 1, tzinfo=timezone.utc), 60.0)

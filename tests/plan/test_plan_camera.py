"""Camera presets: true optics, QGC's worked example, lookup by name and by EXIF."""

from __future__ import annotations

import math

import pytest

from uavops.errors import InputError
from uavops.plan.camera import Camera, find_camera_by_exif, get_camera, list_cameras

REQUIRED = [
    "DJI Phantom 4 Pro", "DJI Phantom 3 FC300S", "DJI Mavic 2 Pro", "DJI Mavic 3 Enterprise Wide",
    "Sony a6000 16mm", "Sony RX100 II 28mm", "Sony a7r IV 35mm", "GoPro Hero 4", "Parrot Sequioa RGB",
    "RedEdge", "FLIR Vue Pro R 640 13mm", "DJI Zenmuse XT2 640 13mm",
]


def test_required_presets_present():
    names = {c.name for c in list_cameras()}
    assert len(names) == len(list_cameras()), "duplicate preset names"
    for name in REQUIRED:
        assert name in names


@pytest.mark.parametrize("cam", list_cameras(), ids=lambda c: c.name)
def test_every_preset_is_physically_plausible(cam: Camera):
    # Survey cameras see 20°..100° across; thermal 640 cores with 13 mm ~45°.
    assert 10.0 < cam.hfov_deg < 110.0
    assert 5.0 < cam.vfov_deg < cam.hfov_deg + 1e-9
    # GSD at 100 m between 0.5 cm (full-frame tele) and 20 cm (thermal).
    assert 0.5 < cam.gsd_cm(100.0) < 20.0
    # pixel pitch between 1 µm (phone-class) and 20 µm (microbolometer)
    assert 0.9 < cam.pixel_pitch_um < 20.0
    # pixels are square within 3 %
    pitch_y = cam.sensor_height_mm / cam.image_height_px * 1000
    assert abs(pitch_y - cam.pixel_pitch_um) / cam.pixel_pitch_um < 0.03
    assert 12.0 < cam.focal_35mm_equiv < 80.0
    assert cam.min_trigger_interval_s > 0
    assert math.isclose(cam.alt_for_gsd(cam.gsd_cm(100.0)), 100.0)


def test_known_35mm_equivalents():
    assert get_camera("DJI Phantom 4 Pro").focal_35mm_equiv == pytest.approx(24, abs=1.0)
    assert get_camera("DJI Phantom 3 FC300S").focal_35mm_equiv == pytest.approx(20, abs=1.0)
    assert get_camera("DJI Mavic 2 Pro").focal_35mm_equiv == pytest.approx(28, abs=1.0)
    assert get_camera("DJI Mavic 3 Enterprise").focal_35mm_equiv == pytest.approx(24, abs=1.0)
    assert get_camera("FLIR Vue Pro R 640 13mm").hfov_deg == pytest.approx(45, abs=1.0)


def test_qgc_worked_example_sony_a6000():
    cam = get_camera("sony A6000 16MM")
    assert cam.gsd_cm(100) == pytest.approx(2.448, abs=5e-4)
    side, front = cam.footprint_m(100)
    assert side * (1 - 0.70) == pytest.approx(44.06, abs=0.01)
    assert front * (1 - 0.70) == pytest.approx(29.37, abs=0.01)


def test_portrait_swaps_footprint():
    cam = get_camera("Sony a6000 16mm")
    side, front = cam.footprint_m(100)
    pside, pfront = cam.portrait().footprint_m(100)
    assert pside == pytest.approx(front, rel=0.01) and pfront == pytest.approx(side, rel=0.01)


def test_unknown_camera_names_close_matches():
    with pytest.raises(InputError) as err:
        get_camera("DJI Phantom 4 Prо")  # Cyrillic o
    assert "DJI Phantom 4 Pro" in str(err.value)


def test_lookup_by_alias_and_exif_model():
    assert get_camera("dji fc6310").name == "DJI Phantom 4 Pro"
    assert get_camera("Parrot Sequoia RGB").name == "Parrot Sequioa RGB"
    assert get_camera("MicaSense RedEdge").name == "RedEdge"


def test_find_by_exif_picks_lens_and_adapts_to_16_9():
    cam = find_camera_by_exif("DJI", "FC300S", 3.61, image_width_px=4000, image_height_px=2250)
    assert cam is not None and cam.model == "FC300S"
    assert cam.image_height_px == 2250
    assert cam.sensor_height_mm == pytest.approx(6.17 * 2250 / 4000)
    assert cam.gsd_cm(50) == pytest.approx(get_camera("DJI Phantom 3 FC300S").gsd_cm(50))
    # square pixels are kept
    assert cam.sensor_height_mm / cam.image_height_px == pytest.approx(cam.sensor_width_mm / cam.image_width_px)
    assert find_camera_by_exif("SONY", "ILCE-6000", 35.0).name == "Sony a6000 35mm"
    odd = find_camera_by_exif("SONY", "ILCE-6000", 20.0)
    assert odd is not None and odd.focal_length_mm == 20.0
    assert find_camera_by_exif("Acme", "X1", 4.0) is None
    assert find_camera_by_exif("DJI", None) is None
    half = find_camera_by_exif("DJI", "FC6310", 8.8, image_width_px=2736, image_height_px=1824)
    assert half.sensor_width_mm == 13.2 and half.gsd_cm(100) == pytest.approx(2 * get_camera("DJI Phantom 4 Pro").gsd_cm(100))


def test_brighton_photos_resolve(shared_data):
    import exifread

    path = sorted((shared_data / "odm_brighton_beach" / "images").glob("*.JPG"))[0]
    with open(path, "rb") as fh:
        tags = exifread.process_file(fh, details=False)
    focal = tags["EXIF FocalLength"].values[0]
    cam = find_camera_by_exif(str(tags["Image Make"]), str(tags["Image Model"]), float(focal),
                              image_width_px=int(str(tags["EXIF ExifImageWidth"])),
                              image_height_px=int(str(tags["EXIF ExifImageLength"])))
    assert cam is not None and cam.model == "FC300S" and cam.image_height_px == 2250


def test_custom_camera_validates():
    cam = Camera.custom(sensor_width_mm=13.2, sensor_height_mm=8.8, image_width_px=5472, image_height_px=3648,
                        focal_length_mm=8.8)
    assert cam.gsd_cm(100) == pytest.approx(get_camera("DJI Phantom 4 Pro").gsd_cm(100))
    with pytest.raises(InputError):
        Camera.custom(sensor_width_mm=0, sensor_height_mm=8.8, image_width_px=5472, image_height_px=3648,
                      focal_length_mm=8.8)
    assert Camera.from_dict(cam.to_dict()) == cam

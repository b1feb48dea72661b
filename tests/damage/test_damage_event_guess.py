"""`--event auto`: the event type read from what the changed ground looks like."""

from __future__ import annotations

import numpy as np

from uavops.damage.detector import ChangeMap
from uavops.damage.model import EXTENT_CLASS
from uavops.damage.pipeline import guess_event

H = W = 100


def _change(region_indices: tuple[float, float, float, float], extent_rows: int = 60, building_rows: int = 0,
            ground: tuple[float, float, float, float] = (0.1, 0.2, 0.0, 0.15)) -> ChangeMap:
    """Rows 0..extent_rows are event extent with ``region_indices`` (water, mud, burn, rubble in 0..1),
    the next ``building_rows`` rows are damaged buildings (rubble), the rest unchanged ``ground``."""
    classes = np.zeros((H, W), np.uint8)
    idx = np.empty((4, H, W), np.float32)
    idx[:] = np.asarray(ground, np.float32)[:, None, None]
    classes[:extent_rows] = EXTENT_CLASS
    idx[:, :extent_rows] = np.asarray(region_indices, np.float32)[:, None, None]
    b0, b1 = extent_rows, extent_rows + building_rows
    classes[b0:b1] = 3
    idx[:, b0:b1] = np.asarray((0.0, 0.1, 0.0, 0.7), np.float32)[:, None, None]
    ones = np.ones((H, W), bool)
    return ChangeMap(classes=classes, probs=np.zeros((5, H, W), np.uint8), valid=ones, compared=ones,
                     registration=None, colour=None, model_version="test",
                     single_image_indices=(idx * 255).astype(np.uint8))


def _post(extent_rgb: tuple[int, int, int], extent_rows: int = 60) -> np.ndarray:
    post = np.full((H, W, 3), (110, 120, 70), np.uint8)
    post[:extent_rows] = extent_rgb
    return post


def test_smooth_turbid_water_is_a_flood_and_textured_mud_a_mudflow():
    # the same brown: the water index rises a little over the ground, the mud index more
    flood = _change((0.35, 0.75, 0.0, 0.10))       # smooth: less texture than the ground
    mud = _change((0.20, 0.60, 0.0, 0.30))         # boulders and debris in it
    assert guess_event(flood, _post((124, 102, 76))) == "flood"
    assert guess_event(mud, _post((113, 96, 74))) == "mudflow"


def test_a_large_grey_sheet_is_a_tailings_flow_and_scattered_grey_debris_an_earthquake():
    tailings = _change((0.0, 0.0, 0.0, 0.35), extent_rows=80)
    assert guess_event(tailings, _post((170, 160, 150), 80)) == "tailings_dam_failure"
    quake = _change((0.0, 0.0, 0.0, 0.35), extent_rows=10, building_rows=30)
    assert guess_event(quake, _post((170, 160, 150), 10)) == "earthquake"
    # a large but brown, saturated sheet with rubble texture is not tailings sludge
    assert guess_event(tailings, _post((150, 110, 70), 80)) == "earthquake"
    # without the post image the colour cannot be read: the texture alone says debris
    assert guess_event(tailings) == "earthquake"


def test_dark_grey_char_is_a_fire_and_too_little_change_is_other():
    assert guess_event(_change((0.0, 0.0, 0.8, 0.4)), _post((50, 48, 44))) == "fire"
    assert guess_event(_change((0.0, 0.0, 0.8, 0.4), extent_rows=0)) == "other"

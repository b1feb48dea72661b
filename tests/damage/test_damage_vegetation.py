"""Standing tree canopy is unflagged for earthquakes and industrial accidents, and only there."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from uavops.damage.vegetation import CANOPY_EVENTS, canopy_mask, standing_canopy, unflag_standing_canopy


def _leafy(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Tree crowns seen from above: green, with leaf-sized light and shade."""
    rng = np.random.default_rng(seed)
    shade = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.2)
    shade = np.exp(0.5 * shade / shade.std())
    base = np.array([70, 110, 50], np.float32)
    return np.clip(base * shade[:, :, None], 0, 255).astype(np.uint8)


def _flat(h: int, w: int, rgb: tuple[int, int, int], noise: float = 2.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.array(rgb, np.float32) + rng.normal(0, noise, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _rubble(h: int, w: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shade = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.5)
    grey = np.clip(140 + 45 * shade / shade.std(), 0, 255)
    return np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)


def test_canopy_is_green_and_leafy_not_lawn_roof_water_or_rubble():
    h, w = 80, 80
    assert canopy_mask(_leafy(h, w))[10:-10, 10:-10].mean() > 0.9
    for name, img in {"lawn": _flat(h, w, (95, 140, 60)), "green metal roof": _flat(h, w, (60, 120, 80)),
                      "green water": _flat(h, w, (60, 95, 80), noise=4.0), "rubble": _rubble(h, w)}.items():
        assert canopy_mask(img).mean() < 0.02, name


def test_only_flags_on_standing_canopy_are_removed_and_only_for_building_events():
    h, w = 120, 160
    post = _leafy(h, w)
    post[:, 100:] = _rubble(h, w - 100)            # right: a collapsed building, grey debris
    pre = _leafy(h, w, seed=5)                     # the same trees, seen another way (lean, other side lit)
    compared = np.ones((h, w), bool)
    flagged = np.full((h, w), 2, np.uint8)         # the network called everything "Damaged"
    for event in ("flood", "mudflow", "tailings_dam_failure", "fire"):
        classes = flagged.copy()
        assert unflag_standing_canopy(classes, post, pre, compared, 0.2, event) == 0, event
        assert (classes == 2).all()
    assert CANOPY_EVENTS == {"earthquake", "industrial"}
    for event in sorted(CANOPY_EVENTS):
        classes = flagged.copy()
        n = unflag_standing_canopy(classes, post, pre, compared, 0.2, event)
        assert n > 0.9 * 90 * h, event
        assert (classes[:, 105:] == 2).mean() > 0.98, "debris must stay flagged"
        assert (classes[5:-5, 5:90] == 0).mean() > 0.95


def test_canopy_where_the_pre_image_had_no_vegetation_stays_flagged():
    """A crown over a place that was a grey roof before is not explained by lean of a tree that was there."""
    h, w = 100, 100
    post = _leafy(h, w)
    pre = _flat(h, w, (150, 150, 150))
    pre[:, :50] = _leafy(h, 50, seed=3)
    classes = np.full((h, w), 1, np.uint8)
    unflag_standing_canopy(classes, post, pre, np.ones((h, w), bool), 0.2, "earthquake")
    assert (classes[10:-10, 10:40] == 0).mean() > 0.9
    assert (classes[10:-10, 60:90] == 1).all()     # > 1 m from any pre vegetation
    # without a pre image (or outside it) the post image alone decides
    classes = np.full((h, w), 1, np.uint8)
    unflag_standing_canopy(classes, post, None, None, 0.2, "earthquake")
    assert (classes[10:-10, 10:-10] == 0).mean() > 0.9


@pytest.mark.parametrize("tile_px", [37, 64, 1000])
def test_tiles_give_the_same_mask_as_one_piece(tile_px: int):
    h, w = 150, 130
    post = _leafy(h, w)
    post[40:90, 30:100] = _rubble(50, 70)
    pre = _leafy(h, w, seed=9)
    pre[:, 90:] = _flat(h, w - 90, (150, 150, 150))
    compared = np.ones((h, w), bool)
    compared[:, :10] = False
    whole = standing_canopy(post, pre, compared, 0.2, tile_px=4096)
    assert whole.any() and not whole.all()
    assert np.array_equal(standing_canopy(post, pre, compared, 0.2, tile_px=tile_px), whole)


def test_tiles_without_flags_are_skipped():
    h, w = 200, 200
    post, pre = _leafy(h, w), _leafy(h, w, seed=4)
    where = np.zeros((h, w), bool)
    where[150:160, 150:160] = True
    got = standing_canopy(post, pre, np.ones((h, w), bool), 0.2, where=where, tile_px=100)
    assert not got[:100].any() and not got[:, :100].any()
    assert got[150:160, 150:160].all()

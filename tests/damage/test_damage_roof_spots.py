"""New dark spots in a roof (holes, fallen tiles): the cue behind grade-1 earthquake damage."""

from __future__ import annotations

import numpy as np
import pytest

from uavops.damage.cues import new_dark_spots
from uavops.damage.perturb import Nuisance, apply_nuisance


def _roof(seed: int = 3) -> np.ndarray:
    """A 200 x 200 working-px scene: textured ground, a bright roof (rows/cols 50-150) with two vents."""
    rng = np.random.default_rng(seed)
    img = np.clip(rng.normal(110, 12, (200, 200, 3)), 0, 255).astype(np.uint8)
    img[50:150, 50:150] = (196, 170, 150)
    img[60:150, 50:150] += np.clip(rng.normal(0, 3, (90, 100, 3)), -6, 6).astype(np.uint8)
    for y, x in ((70, 70), (120, 130)):
        img[y:y + 2, x:x + 2] = (60, 58, 55)           # vents: in both images
    return img


def test_new_holes_are_found_and_old_vents_are_not():
    pre = _roof()
    post = pre.copy()
    holes = [(90, 90), (100, 120), (130, 75)]
    for y, x in holes:
        post[y:y + 2, x:x + 3] = (45, 42, 40)         # 0.4 x 0.6 m holes at 20 cm
    spots = new_dark_spots(post, pre)
    for y, x in holes:
        assert spots[y:y + 2, x:x + 3].max() > 0.5, f"hole at {(y, x)} not seen"
    for y, x in ((70, 70), (120, 130)):
        assert spots[y - 1:y + 3, x - 1:x + 3].max() < 0.1, f"pre-existing vent at {(y, x)} flagged"
    roof = np.zeros(spots.shape, bool)
    roof[52:148, 52:148] = True
    for y, x in holes:
        roof[y - 3:y + 5, x - 3:x + 6] = False
    assert spots[roof].mean() < 0.01


def test_another_flight_without_damage_shows_no_new_spots():
    """Exposure, white balance, gamma, a 1-px shift and JPEG on the pre: no spot is new."""
    pre = _roof()
    post = apply_nuisance(pre, Nuisance(exposure=1.3, white_balance=(1.1, 1.0, 0.88), gamma=0.9, shift_px=(1.0, -1.0),
                                        jpeg_quality=75))
    spots = new_dark_spots(post, pre)
    assert spots[40:160, 40:160].mean() < 0.01
    assert (spots[40:160, 40:160] > 0.25).mean() < 0.002


def test_building_features_carry_the_spots_of_each_roof():
    from shapely.geometry import box

    from uavops.damage.buildings import FEATURE_NAMES, Footprint, building_features
    from uavops.damage.detector import ChangeMap
    from uavops.damage.inputs import WorkGrid

    h = w = 200
    spots = np.zeros((h, w), np.uint8)
    spots[20:22, 20:23] = spots[30:32, 35:38] = 230       # the same two holes in the first roof ...
    spots[70:72, 70:73] = spots[80:82, 85:88] = 230       # ... and in a roof twice as large
    change = ChangeMap(classes=np.zeros((h, w), np.uint8), probs=np.zeros((5, h, w), np.uint8),
                       valid=np.ones((h, w), bool), compared=np.ones((h, w), bool), registration=None, colour=None,
                       model_version="test", new_spots=spots)
    change.probs[0] = 255
    grid = WorkGrid(width=w, height=h, scale=1.0, full_width=w, full_height=h, gsd_m=0.2)
    fps = [Footprint("a", None, box(10, 10, 50, 50), {}), Footprint("b", None, box(110, 110, 150, 150), {}),
           Footprint("c", None, box(60, 60, 100, 140), {})]
    feats, _, _ = building_features(fps, change, grid)
    mean, frac = FEATURE_NAMES.index("in_new_spots"), FEATURE_NAMES.index("in_new_spot_frac")
    count = FEATURE_NAMES.index("in_new_spot_log_px")
    assert feats[0, mean] > 0.005 and feats[0, frac] > 0.005
    assert feats[1, mean] == 0 and feats[1, frac] == 0 and feats[1, count] == 0
    # holes are counted as well as averaged: a large roof with the same holes is as cracked
    assert feats[2, frac] < feats[0, frac] / 1.5
    assert feats[2, count] == pytest.approx(feats[0, count]) and feats[0, count] == pytest.approx(np.log1p(12))


def test_on_a_generated_earthquake_cracked_roofs_show_more_new_spots_than_intact_ones(quake_scene):
    from uavops.damage import detect_changes, load_pair
    from uavops.damage.buildings import FEATURE_NAMES, building_features, read_footprints

    pair = load_pair(quake_scene / "post.tif", quake_scene / "pre.tif")
    change = detect_changes(pair, progress=False)
    assert change.new_spots is not None and change.new_spots.shape == change.classes.shape
    fps = read_footprints(quake_scene / "buildings.geojson", pair.grid)
    feats, counts, _ = building_features(fps, change, pair.grid)
    col = FEATURE_NAMES.index("in_new_spots")
    by_grade: dict[str, list[float]] = {}
    for fp, f, c in zip(fps, feats, counts):
        if c > 0:
            by_grade.setdefault(fp.properties["damage_gra"], []).append(float(f[col]))
    assert by_grade.get("Possibly damaged") and by_grade.get("No visible damage"), by_grade.keys()
    assert np.mean(by_grade["Possibly damaged"]) > 5 * np.mean(by_grade["No visible damage"]) + 1e-4, by_grade

"""The building grader's context features and its two kinds of model (linear, averaged MLPs)."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from uavops.damage.buildings import (
    FEATURE_NAMES,
    Footprint,
    building_features,
    grade_buildings,
    grader_probabilities,
)
from uavops.damage.detector import ChangeMap
from uavops.damage.inputs import WorkGrid
from uavops.errors import DetectionError
from uavops.package import DAMAGE_GRADES

PX_M = 0.2  # working pixel, as the detector uses


def _change(classes: np.ndarray) -> ChangeMap:
    h, w = classes.shape
    probs = np.zeros((5, h, w), np.uint8)
    for k in range(5):
        probs[k][classes == k] = 255
    ones = np.ones((h, w), bool)
    return ChangeMap(classes=classes, probs=probs, valid=ones, compared=ones, registration=None, colour=None,
                     model_version="test")


def _grid(h: int, w: int) -> WorkGrid:
    return WorkGrid(width=w, height=h, scale=1.0, full_width=w, full_height=h, gsd_m=PX_M)


def _fp(i: int, x0: float, y0: float, size_px: float) -> Footprint:
    return Footprint(str(i), None, box(x0, y0, x0 + size_px, y0 + size_px), {})


def _col(feats: np.ndarray, name: str) -> np.ndarray:
    return feats[:, FEATURE_NAMES.index(name)]


def test_distance_to_the_event_extent_is_measured_in_metres():
    # flood water (class 4) fills x < 100 px; 10 m (50 px) buildings at 0, 4, 8 and 30 m from its edge
    classes = np.zeros((400, 600), np.uint8)
    classes[:, :100] = 4
    fps = [_fp(i, 100 + gap_m / PX_M, 150, 50) for i, gap_m in enumerate((0.0, 4.0, 8.0, 30.0))]
    feats, counts, valid = building_features(fps, _change(classes), _grid(*classes.shape))
    assert (counts > 0).all() and (valid == 1).all()
    dist = _col(feats, "extent_dist_m")
    # inside = footprint shrunk by 0.5 m, so each distance reads about 0.5 m more than the gap
    np.testing.assert_allclose(dist, [0.6, 4.6, 8.6, 24.0], atol=0.35)  # 24 m: capped at 2 x the widest band
    assert _col(feats, "extent_within_3m").tolist() == [1, 0, 0, 0]
    assert _col(feats, "extent_within_6m").tolist() == [1, 1, 0, 0]
    assert _col(feats, "extent_within_12m").tolist() == [1, 1, 1, 0]


def test_no_extent_anywhere_reads_as_far():
    classes = np.zeros((300, 300), np.uint8)
    feats, _, _ = building_features([_fp(0, 100, 100, 40)], _change(classes), _grid(300, 300))
    assert _col(feats, "extent_dist_m")[0] == 24.0
    assert _col(feats, "extent_within_12m")[0] == 0


def test_neighbourhood_damage_separates_a_damaged_street_from_an_intact_one():
    # left half: every other block destroyed (class 3); right half intact
    classes = np.zeros((400, 1200), np.uint8)
    for x in range(0, 500, 100):
        classes[180:230, x:x + 50] = 3
    fps = [_fp(0, 260, 250, 40), _fp(1, 1000, 250, 40)]
    feats, _, _ = building_features(fps, _change(classes), _grid(*classes.shape))
    hood = _col(feats, "neighbourhood_changed")
    assert hood[0] > 0.05 and hood[1] == 0.0
    assert (_col(feats, "neighbourhood_extent") == 0).all()


def _one_hot_grader(names: list[str], kind: str) -> dict:
    """A grader whose answer is known: grade = which of the first four listed features is largest."""
    d = len(names)
    w = np.zeros((4, d))
    w[np.arange(4), np.arange(4)] = 10.0
    base = {"features": names, "mean": [0.0] * d, "std": [1.0] * d}
    if kind == "linear":
        return {**base, "W": w.tolist(), "b": [0.0] * 4}
    # an MLP member that passes its inputs through the ReLU unchanged (they are >= 0 here), then reads them
    # the same way; two identical members average to the same answer
    member = {"W1": np.eye(d).tolist(), "b1": [0.0] * d, "W2": w.tolist(), "b2": [0.0] * 4}
    return {**base, "kind": "mlp", "members": [member, member]}


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_grader_uses_only_the_features_its_card_lists(kind: str):
    names = ["in_p_none", "in_p_possibly_damaged", "in_p_damaged", "in_p_destroyed"]
    grader = _one_hot_grader(names, kind)
    feats = np.zeros((4, len(FEATURE_NAMES)), np.float32)
    for i, n in enumerate(names):
        feats[i, FEATURE_NAMES.index(n)] = 1.0
    feats[:, FEATURE_NAMES.index("extent_dist_m")] = 99.0  # not listed: must not matter
    p = grader_probabilities(feats, grader)
    assert p.shape == (4, len(DAMAGE_GRADES))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert p.argmax(axis=1).tolist() == [0, 1, 2, 3]


def test_mlp_members_are_averaged():
    names = ["in_p_none", "in_p_possibly_damaged", "in_p_damaged", "in_p_destroyed"]
    g = _one_hot_grader(names, "mlp")
    sure, unsure = g["members"][0], dict(g["members"][0])
    unsure["W2"] = np.zeros((4, 4)).tolist()  # uniform output
    feats = np.zeros((1, len(FEATURE_NAMES)), np.float32)
    feats[0, FEATURE_NAMES.index("in_p_damaged")] = 1.0
    p_sure = grader_probabilities(feats, {**g, "members": [sure]})[0]
    p_mix = grader_probabilities(feats, {**g, "members": [sure, unsure]})[0]
    np.testing.assert_allclose(p_mix, (p_sure + 0.25) / 2, rtol=1e-5)


def test_a_grader_needing_an_unknown_feature_is_refused_with_a_sentence():
    g = _one_hot_grader(["in_p_none", "in_p_possibly_damaged", "in_p_damaged", "roof_material"], "linear")
    with pytest.raises(DetectionError, match="reinstall uavops"):
        grader_probabilities(np.zeros((1, len(FEATURE_NAMES)), np.float32), g)


def test_grade_buildings_with_an_mlp_grader_reports_its_confidence():
    classes = np.zeros((300, 300), np.uint8)
    classes[100:160, 100:160] = 3
    names = ["in_p_none", "in_p_possibly_damaged", "in_p_damaged", "in_p_destroyed"]
    graded = grade_buildings([_fp(0, 100, 100, 60), _fp(1, 200, 200, 60)], _change(classes), _grid(300, 300),
                             _one_hot_grader(names, "mlp"))
    assert [b.damage_gra for b in graded] == ["Destroyed", "No visible damage"]
    assert all(0.9 < b.confidence <= 1.0 for b in graded)


def test_the_shipped_grader_runs_on_the_features_this_package_computes():
    from uavops.damage.model import load_model

    grader = load_model().card["grader"]
    assert set(grader["features"]) <= set(FEATURE_NAMES)
    p = grader_probabilities(np.zeros((3, len(FEATURE_NAMES)), np.float32), grader)
    assert p.shape == (3, 4) and np.allclose(p.sum(axis=1), 1.0)

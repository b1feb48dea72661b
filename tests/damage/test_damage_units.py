"""Small pieces: GeoJSON winding/rounding, metrics, cues invariances, the shipped model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from uavops.damage.cues import CUE_NAMES, colour_match, compute_cues
from uavops.damage.metrics import grade_f1s, harmonic_mean, xview2_score
from uavops.damage.model import MODEL_DIR, load_model
from uavops.damage.outputs import orient_and_round
from uavops.damage.perturb import Nuisance, apply_nuisance, mild_nuisance, random_nuisance
from uavops.package import DAMAGE_GRADES


def test_orient_and_round_makes_exterior_ccw_and_rounds():
    cw = {"type": "Polygon", "coordinates": [[[0, 0], [0, 1.123456789], [1, 1], [1, 0], [0, 0]]]}
    g = orient_and_round(cw)
    ring = g["coordinates"][0]
    area2 = sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1))
    assert area2 > 0 and ring[0] == ring[-1]
    assert [0, 1.1234568] in ring


def test_xview2_score_matches_the_formula():
    truth = ["No visible damage", "Damaged", "Destroyed", "Possibly damaged"]
    per = grade_f1s(truth, truth)
    assert all(v == 1.0 for v in per.values())
    assert xview2_score(0.5, per) == 0.3 * 0.5 + 0.7
    wrong = grade_f1s(["Destroyed"] * 4, truth)
    assert harmonic_mean(list(wrong.values())) == 0.0


def test_change_cues_ignore_exposure_and_white_balance():
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(120, 35, (96, 96, 3)), 20, 235).astype(np.uint8)
    other = apply_nuisance(img, Nuisance(exposure=0.75, white_balance=(1.1, 1.0, 0.9)))
    m = colour_match(img, other, np.ones((96, 96), bool))
    c = compute_cues(img, other, m)
    for name in ("d_intensity", "d_chroma"):
        assert float(np.median(c[CUE_NAMES.index(name)])) < 0.05, name


def test_shipped_model_is_small_and_runs_in_cv2_dnn():
    onnx = MODEL_DIR / "damage_net.onnx"
    assert onnx.stat().st_size < 2_000_000
    model = load_model()
    assert model.card["version"] != "untrained" and model.card["train_scenes"]
    probs = model.predict(np.zeros((len(CUE_NAMES), 32, 48), np.float32))
    assert probs.shape == (5, 32, 48)
    assert np.allclose(probs.sum(axis=0), 1.0, atol=1e-4)


def test_shipped_model_never_saw_a_benchmark_scene():
    """The benchmark's figures are only honest if neither the network nor the grader learnt from its scenes."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "damage_eval.py"
    spec = importlib.util.spec_from_file_location("damage_eval_for_test", path)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    scored = {(e, s) for e, s, _ in bench.EVAL_SCENES + bench.VALIDATION_SCENES}
    card = load_model().card
    assert card["train_scenes"] and card["grader_scenes"]
    learnt = {(e, int(s)) for e, s in card["train_scenes"] + card["grader_scenes"] + card.get("base_train_scenes", [])}
    assert not learnt & scored
    # --seed-offset N shifts the benchmark seeds upwards; every scene the model learnt from is below them all
    assert max(s for _, s in learnt) < min(s for _, s in scored)


def test_grades_are_the_ems_vocabulary():
    assert DAMAGE_GRADES == ("No visible damage", "Possibly damaged", "Damaged", "Destroyed")


def test_mild_nuisance_is_often_nothing_and_otherwise_a_few_differences():
    """The quiet training pairs must include identical images and single differences, which the
    all-at-once ``random_nuisance`` never gives (its no-damage pairs always differ in everything)."""
    rng = np.random.default_rng(0)
    draws = [mild_nuisance(rng, max_shift_px=2.0) for _ in range(400)]
    plain = Nuisance()
    fields = ("exposure", "white_balance", "gamma", "shift_px", "blur_sigma_px", "jpeg_quality", "haze")
    active = [[f for f in fields if getattr(d, f) != getattr(plain, f)] for d in draws]
    assert 0.15 <= sum(not a for a in active) / len(draws) <= 0.35   # identical images
    assert sum(len(a) == 1 for a in active) / len(draws) >= 0.15      # one difference alone
    assert all(any(f in a for a in active) for f in fields)             # every kind of difference occurs
    assert max(abs(v) for d in draws for v in d.shift_px) <= 2.0
    loud = [random_nuisance(rng) for _ in range(50)]
    assert all(n.exposure != 1.0 and n.gamma != 1.0 and n.shift_px != (0.0, 0.0) for n in loud)

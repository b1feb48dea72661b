"""Scores against known truth: pixel change F1 and the xView2 damage score.

xView2 (Gupta et al. 2019) scores 0.3 x localisation F1 + 0.7 x the harmonic mean of the per-class
damage F1. Here localisation is pixel F1 of "damaged" (any grade >= Possibly damaged, truth mask
classes 1-3) and the damage term is per-building F1 of each of the four EMS grades (what an
operator acts on), harmonically averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..package import DAMAGE_GRADES

__all__ = ["f1", "pixel_f1", "grade_f1s", "xview2_score", "harmonic_mean"]


def f1(tp: float, fp: float, fn: float) -> float:
    if tp == 0:
        return 1.0 if fp == 0 and fn == 0 else 0.0
    return 2 * tp / (2 * tp + fp + fn)


def pixel_f1(pred: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None) -> float:
    if valid is not None:
        pred, truth = pred[valid], truth[valid]
    tp = float(np.count_nonzero(pred & truth))
    return f1(tp, float(np.count_nonzero(pred & ~truth)), float(np.count_nonzero(~pred & truth)))


def harmonic_mean(values: Sequence[float]) -> float:
    if not values or min(values) <= 0:
        return 0.0
    return len(values) / sum(1.0 / v for v in values)


def grade_f1s(pred: Sequence[str], truth: Sequence[str]) -> dict[str, float]:
    """F1 per EMS grade over buildings; a grade absent from both truth and prediction scores 1."""
    out = {}
    for g in DAMAGE_GRADES:
        tp = sum(1 for p, t in zip(pred, truth) if p == g and t == g)
        fp = sum(1 for p, t in zip(pred, truth) if p == g and t != g)
        fn = sum(1 for p, t in zip(pred, truth) if p != g and t == g)
        out[g] = f1(tp, fp, fn)
    return out


def xview2_score(localisation_f1: float, per_grade_f1: dict[str, float]) -> float:
    return 0.3 * localisation_f1 + 0.7 * harmonic_mean(list(per_grade_f1.values()))

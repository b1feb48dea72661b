"""Classic change-detection baselines the detector is measured against.

They run on the same co-registered working grid as the detector, so a comparison measures the
change rule, not the registration: absolute grey difference + Otsu, change vector analysis (CVA:
magnitude of the RGB difference vector + Otsu) and 1 - SSIM (7x7 windows) + Otsu.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["absdiff_otsu", "cva_otsu", "ssim_otsu", "BASELINES", "otsu_threshold"]


def otsu_threshold(values: np.ndarray) -> float:
    v = values.astype(np.float32)
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < 1e-9:
        return hi + 1.0
    u8 = np.clip((v - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8).reshape(-1, 1)
    t, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return lo + float(t) / 255.0 * (hi - lo)


def _binary(score: np.ndarray, valid: np.ndarray) -> np.ndarray:
    if not valid.any():
        return np.zeros_like(valid)
    t = otsu_threshold(score[valid])
    return (score > t) & valid


def absdiff_otsu(post: np.ndarray, pre: np.ndarray, valid: np.ndarray) -> np.ndarray:
    a = cv2.cvtColor(post, cv2.COLOR_RGB2GRAY).astype(np.float32)
    b = cv2.cvtColor(pre, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return _binary(np.abs(a - b), valid)


def cva_otsu(post: np.ndarray, pre: np.ndarray, valid: np.ndarray) -> np.ndarray:
    d = post.astype(np.float32) - pre.astype(np.float32)
    return _binary(np.sqrt((d * d).sum(axis=2)), valid)


def ssim_otsu(post: np.ndarray, pre: np.ndarray, valid: np.ndarray) -> np.ndarray:
    a = cv2.cvtColor(post, cv2.COLOR_RGB2GRAY).astype(np.float32)
    b = cv2.cvtColor(pre, cv2.COLOR_RGB2GRAY).astype(np.float32)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    k = (7, 7)
    ma, mb = cv2.blur(a, k), cv2.blur(b, k)
    va = cv2.blur(a * a, k) - ma * ma
    vb = cv2.blur(b * b, k) - mb * mb
    cov = cv2.blur(a * b, k) - ma * mb
    ssim = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
    return _binary(1.0 - ssim, valid)


BASELINES = {"absdiff_otsu": absdiff_otsu, "cva_otsu": cva_otsu, "ssim_otsu": ssim_otsu}

"""Nuisance changes between two flights *without* damage, used to train and test robustness.

Why here and not in a test helper: the training script, the default tests and the real-photo
check all need exactly the same definition of "a different flight over an unchanged place":
exposure, white balance, gamma, a small shift, slight blur and JPEG noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Nuisance", "apply_nuisance", "mild_nuisance", "random_nuisance", "single_nuisances"]


@dataclass(frozen=True)
class Nuisance:
    exposure: float = 1.0                       # multiplicative gain
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    shift_px: tuple[float, float] = (0.0, 0.0)  # (dx, dy) in pixels of the given image
    blur_sigma_px: float = 0.0
    jpeg_quality: int | None = None
    haze: float = 0.0                            # 0..1 additive grey veil


def apply_nuisance(rgb: np.ndarray, n: Nuisance) -> np.ndarray:
    """Return a copy of ``rgb`` (uint8 RGB) as another flight might have seen the same place."""
    img = rgb.astype(np.float32) / 255.0
    img = np.power(np.clip(img, 0, 1), n.gamma)
    img = img * n.exposure * np.asarray(n.white_balance, np.float32)
    if n.haze:
        img = img * (1 - n.haze) + 0.75 * n.haze
    if n.blur_sigma_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), n.blur_sigma_px)
    if n.shift_px != (0.0, 0.0):
        m = np.float32([[1, 0, n.shift_px[0]], [0, 1, n.shift_px[1]]])
        img = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if n.jpeg_quality:
        ok, buf = cv2.imencode(".jpg", out[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(n.jpeg_quality)])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    return out


def random_nuisance(rng: np.random.Generator, max_shift_px: float = 3.0) -> Nuisance:
    return Nuisance(
        exposure=float(rng.uniform(0.7, 1.35)),
        white_balance=tuple(float(v) for v in rng.uniform(0.85, 1.15, 3)),  # type: ignore[arg-type]
        gamma=float(rng.uniform(0.8, 1.25)),
        shift_px=(float(rng.uniform(-max_shift_px, max_shift_px)), float(rng.uniform(-max_shift_px, max_shift_px))),
        blur_sigma_px=float(rng.choice([0.0, 0.0, 0.6, 1.0])),
        jpeg_quality=int(rng.choice([0, 60, 80, 92])) or None,
        haze=float(rng.choice([0.0, 0.0, 0.1, 0.2])),
    )


def mild_nuisance(rng: np.random.Generator, max_shift_px: float = 3.0) -> Nuisance:
    """A second flight with the same camera soon after the first: sometimes no difference at all, otherwise
    each difference of ``random_nuisance`` present on its own with probability 0.3.

    Why a second kind: a detector that only ever saw no-damage pairs differing in everything at once learns
    "a little of every difference is normal" but not "no difference means no damage"; it flagged up to 7 %
    of a scene when the two images differed by a slight blur alone, and 1.6 % when they were identical.
    """
    if rng.random() < 0.15:
        return Nuisance()
    on = rng.random(7) < 0.3
    return Nuisance(
        exposure=float(rng.uniform(0.75, 1.3)) if on[0] else 1.0,
        white_balance=tuple(float(v) for v in rng.uniform(0.9, 1.1, 3)) if on[1] else (1.0, 1.0, 1.0),  # type: ignore[arg-type]
        gamma=float(rng.uniform(0.8, 1.25)) if on[2] else 1.0,
        shift_px=(float(rng.uniform(-max_shift_px, max_shift_px)), float(rng.uniform(-max_shift_px, max_shift_px)))
        if on[3] else (0.0, 0.0),
        blur_sigma_px=float(rng.uniform(0.3, 1.0)) if on[4] else 0.0,
        jpeg_quality=int(rng.integers(60, 96)) if on[5] else None,
        haze=float(rng.uniform(0.05, 0.2)) if on[6] else 0.0,
    )


def single_nuisances(scale: float = 1.0) -> dict[str, Nuisance]:
    """One mild difference at a time, by name (``scale``: full-resolution px per px of the image it is
    applied to, so that the shift is 3 full-resolution px). The benchmark's ``--nuisance-sweep`` and the
    robustness tests use these: a second flight with the same camera differs by little more than one."""
    return {"none": Nuisance(), "exposure_0.8": Nuisance(exposure=0.8), "exposure_1.2": Nuisance(exposure=1.2),
            "white_balance": Nuisance(white_balance=(1.08, 1.0, 0.92)), "gamma_0.85": Nuisance(gamma=0.85),
            "jpeg_85": Nuisance(jpeg_quality=85), "shift_3px": Nuisance(shift_px=(3.0 / scale, 3.0 / scale)),
            "blur_0.6": Nuisance(blur_sigma_px=0.6)}

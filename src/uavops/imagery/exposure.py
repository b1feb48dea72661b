"""Exposure compensation: one gain per photo and colour channel.

The camera's auto-exposure makes neighbouring photos differ in brightness; blending alone would
smear that into visible bands. Following OpenCV's ``GainCompensator`` (Brown & Lowe), gains ``g``
minimise, over every matched pair, the difference of the two photos' mean colour at their shared
tie points, plus a weak pull of every gain towards 1 (so the mosaic keeps the overall exposure)::

    Σ_ij n_ij ((g_i Ī_ij − g_j Ī_ji)² / σ_N²) + Σ_i (1 − g_i)² / σ_g²
"""

from __future__ import annotations

import cv2
import numpy as np

from .features import PairMatch

__all__ = ["compute_gains", "sample_thumb"]


def sample_thumb(thumb: np.ndarray, pts_full: np.ndarray, thumb_scale: float) -> np.ndarray:
    """Colours (N×3 float) of a blurred thumbnail at full-resolution pixel positions."""
    xy = ((pts_full + 0.5) / thumb_scale - 0.5).astype(np.float32)
    mx = xy[:, 0].reshape(-1, 1)
    my = xy[:, 1].reshape(-1, 1)
    out = cv2.remap(thumb, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, thumb.shape[2]).astype(np.float64)


def compute_gains(n_photos: int, matches: list[PairMatch], thumbs: list[np.ndarray], thumb_scales: list[float],
                  sigma_n: float = 10.0, sigma_g: float = 0.1) -> np.ndarray:
    """Per-photo, per-channel gains (N×3), 1 where a photo has no matches."""
    channels = thumbs[0].shape[2] if thumbs else 3
    gains = np.ones((n_photos, channels))
    if not matches:
        return gains
    for c in range(channels):
        a = np.zeros((n_photos, n_photos))
        b = np.zeros(n_photos)
        for m in matches:
            ii = sample_thumb(thumbs[m.i], m.pts_i, thumb_scales[m.i])[:, c]
            jj = sample_thumb(thumbs[m.j], m.pts_j, thumb_scales[m.j])[:, c]
            n = len(ii)
            if n == 0:
                continue
            mi, mj = float(ii.mean()), float(jj.mean())
            a[m.i, m.i] += n * mi * mi / sigma_n ** 2
            a[m.j, m.j] += n * mj * mj / sigma_n ** 2
            a[m.i, m.j] -= n * mi * mj / sigma_n ** 2
            a[m.j, m.i] -= n * mi * mj / sigma_n ** 2
        # the prior is scaled to the data so it stays weak next to the pair terms
        npr = max(1.0, float(np.median([len(m.pts_i) for m in matches])))
        a += np.eye(n_photos) * npr / sigma_g ** 2
        b += npr / sigma_g ** 2
        gains[:, c] = np.linalg.solve(a, b)
    return np.clip(gains, 0.5, 2.0)

"""Standing tree canopy: changes there are not damage when buildings are what is at stake.

Why: mosaics are not true orthophotos. A tree top leans away from the photo centre by its height
times its distance from nadir over the flying height, so the same tree sits metres apart in two
mosaics of the same place (each mosaic pixel comes from another photo), shows its sunny side in one
and its shaded side in the other, and hides a different strip of the road beside it. The network,
trained on flat generated scenes, calls that change: on two real mosaics of an unchanged park
(``benchmarks/damage_real.py``) about three quarters of what it flagged was tree canopy.

For an earthquake or an industrial accident the damage is to buildings and ground, and a tree crown
that is still green and leafy in the post image, where the pre image also had vegetation within
a metre, did not become rubble, a crater or a spill. For floods, mudflows, tailings and fires it is
different: a crown standing in the water or the mud is part of the event extent an analyst maps, and
the generated fire scenes score burnt ground under green crowns, so the rule is not applied there.

"Canopy" is green (excess green of the chromaticity above :data:`CANOPY_EXCESS_GREEN`) *and* leafy
(local contrast of log luminance above :data:`CANOPY_TEXTURE` over most of a ~1 m neighbourhood).
Lawns, green-painted metal roofs and green water are smooth, so they are not canopy.
"""

from __future__ import annotations

import cv2
import numpy as np

from .detector import iter_tiles
from .inputs import DEFAULT_WORK_GSD_M

__all__ = ["CANOPY_EVENTS", "canopy_mask", "standing_canopy", "unflag_standing_canopy"]

#: Events whose damage is buildings and ground, where standing canopy is never damage.
CANOPY_EVENTS = frozenset({"earthquake", "industrial"})
#: (2G - R - B) / (R + G + B) above this is green vegetation (healthy leaves ~0.1-0.3; grey ~0).
CANOPY_EXCESS_GREEN = 0.08
#: Local standard deviation of log luminance (Gaussian window, sigma 2 working px) above this is leafy.
CANOPY_TEXTURE = 0.1
#: The pre image must show vegetation within this distance (lean and registration residue).
PRE_VEGETATION_RADIUS_M = 1.0
_MARGIN_PX = 24


def _excess_green(rgb: np.ndarray) -> np.ndarray:
    f = rgb.astype(np.float32) + 1.0
    return (2.0 * f[..., 1] - f[..., 0] - f[..., 2]) / f.sum(axis=2)


def canopy_mask(rgb: np.ndarray) -> np.ndarray:
    """Green and leafy pixels of an (H, W, 3) uint8 image."""
    lum = np.log(rgb.astype(np.float32).mean(axis=2) / 255.0 + 0.01)
    m = cv2.GaussianBlur(lum, (0, 0), 2.0)
    m2 = cv2.GaussianBlur(lum * lum, (0, 0), 2.0)
    leafy = np.sqrt(np.maximum(m2 - m * m, 0.0)) > CANOPY_TEXTURE
    leafy_share = cv2.GaussianBlur(leafy.astype(np.float32), (0, 0), 3.0)
    return (_excess_green(rgb) > CANOPY_EXCESS_GREEN) & (leafy_share > 0.5)


def standing_canopy(post: np.ndarray, pre: np.ndarray | None, compared: np.ndarray | None,
                    gsd_m: float | None, where: np.ndarray | None = None, tile_px: int = 1024) -> np.ndarray:
    """Canopy in ``post`` with vegetation near the same place in ``pre`` (where compared; the post alone
    elsewhere). Computed by tiles, and only in tiles where ``where`` (e.g. the flagged pixels) has any."""
    h, w = post.shape[:2]
    out = np.zeros((h, w), bool)
    r = max(1, round(PRE_VEGETATION_RADIUS_M / (gsd_m or DEFAULT_WORK_GSD_M)))
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    for y, x, th, tw in iter_tiles(h, w, tile_px):
        if where is not None and not where[y:y + th, x:x + tw].any():
            continue
        y0, x0 = max(0, y - _MARGIN_PX - r), max(0, x - _MARGIN_PX - r)
        y1, x1 = min(h, y + th + _MARGIN_PX + r), min(w, x + tw + _MARGIN_PX + r)
        can = canopy_mask(post[y0:y1, x0:x1])
        if pre is not None and compared is not None:
            veg_pre = cv2.dilate((_excess_green(pre[y0:y1, x0:x1]) > CANOPY_EXCESS_GREEN).astype(np.uint8), kernel) > 0
            can &= veg_pre | ~compared[y0:y1, x0:x1]
        out[y:y + th, x:x + tw] = can[y - y0:y - y0 + th, x - x0:x - x0 + tw]
    return out


def unflag_standing_canopy(classes: np.ndarray, post: np.ndarray, pre: np.ndarray | None,
                           compared: np.ndarray | None, gsd_m: float | None, event: str | None) -> int:
    """Set flagged pixels on standing canopy back to 0 (in place) for :data:`CANOPY_EVENTS`; returns how many."""
    if event not in CANOPY_EVENTS:
        return 0
    flagged = classes >= 1
    canopy = standing_canopy(post, pre, compared, gsd_m, where=flagged) & flagged
    classes[canopy] = 0
    return int(canopy.sum())

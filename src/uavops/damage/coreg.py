"""Co-registration of the pre image to the post image: features first, then local refinement.

Why two steps: a basemap's georeference is often off by metres and two drone flights differ by
a few pixels that vary across the mosaic. A global homography from SIFT matches (RANSAC) removes
the bulk; phase correlation on a grid of blocks then removes the smooth residual. What is left
(about a pixel) is absorbed by the shift-tolerant cues.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Registration", "coregister"]


@dataclass
class Registration:
    method: str                  # "features+local", "georeference+local", "identity+local"
    inliers: int
    residual_shift_px: float     # median absolute local shift found after the global step
    homography: list[list[float]]


def _gray(rgb: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
    return clahe.apply(g)


def _global_homography(post: np.ndarray, pre: np.ndarray, post_valid: np.ndarray, pre_valid: np.ndarray,
                       max_side: int = 1400) -> tuple[np.ndarray | None, int]:
    """Homography mapping post pixel coords -> pre pixel coords, or None when matching is unreliable."""
    h, w = post.shape[:2]
    s = min(1.0, max_side / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    gp = cv2.resize(_gray(post), size, interpolation=cv2.INTER_AREA)
    gq = cv2.resize(_gray(pre), size, interpolation=cv2.INTER_AREA)
    mp = cv2.resize(post_valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    mq = cv2.resize(pre_valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    sift = cv2.SIFT_create(nfeatures=3000, contrastThreshold=0.02)
    kp1, d1 = sift.detectAndCompute(gp, mp)
    kp2, d2 = sift.detectAndCompute(gq, mq)
    if d1 is None or d2 is None or len(kp1) < 12 or len(kp2) < 12:
        return None, 0
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    good = []
    for pair in matcher.knnMatch(d1, d2, k=2):
        if len(pair) == 2 and pair[0].distance < 0.75 * pair[1].distance:
            good.append(pair[0])
    if len(good) < 12:
        return None, len(good)
    src = np.float32([kp1[m.queryIdx].pt for m in good])
    dst = np.float32([kp2[m.trainIdx].pt for m in good])
    hom, inl = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 2.5, maxIters=5000, confidence=0.999)
    if hom is None or inl is None:
        return None, 0
    n_in = int(inl.sum())
    if n_in < 15 or n_in < 0.15 * len(good):
        return None, n_in
    # Sanity: no fold-over, scale within 0.5..2, little perspective.
    a = hom[:2, :2] / hom[2, 2]
    det = float(np.linalg.det(a))
    if not (0.25 < det < 4.0) or abs(hom[2, 0]) > 1e-2 or abs(hom[2, 1]) > 1e-2:
        return None, n_in
    sm = np.diag([s, s, 1.0])
    return np.linalg.inv(sm) @ hom @ sm, n_in


def _local_flow(post: np.ndarray, pre: np.ndarray, valid: np.ndarray, block: int = 96,
                max_shift: float = 6.0) -> tuple[np.ndarray, np.ndarray, float]:
    """Smooth per-pixel (dx, dy) so that pre(x + d) matches post(x); from block phase correlation."""
    h, w = post.shape[:2]

    def grad(img: np.ndarray) -> np.ndarray:
        g = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
        return cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))

    gp, gq = grad(post), grad(pre)
    ny, nx = max(1, h // block), max(1, w // block)
    dx = np.full((ny, nx), np.nan, np.float32)
    dy = np.full((ny, nx), np.nan, np.float32)
    bh, bw = h // ny, w // nx
    if bh < 32 or bw < 32:
        z = np.zeros((h, w), np.float32)
        return z, z.copy(), 0.0
    win = cv2.createHanningWindow((bw, bh), cv2.CV_32F)
    for j in range(ny):
        for i in range(nx):
            sl = (slice(j * bh, (j + 1) * bh), slice(i * bw, (i + 1) * bw))
            if valid[sl].mean() < 0.9:
                continue
            a, b = gp[sl], gq[sl]
            if a.std() < 1e-3 or b.std() < 1e-3:
                continue
            (sx, sy), resp = cv2.phaseCorrelate(a, b, win)
            if resp > 0.08 and abs(sx) <= max_shift and abs(sy) <= max_shift:
                dx[j, i], dy[j, i] = sx, sy
    ok = np.isfinite(dx)
    if ok.sum() == 0:
        z = np.zeros((h, w), np.float32)
        return z, z.copy(), 0.0
    mdx, mdy = float(np.median(dx[ok])), float(np.median(dy[ok]))
    # Outliers (damage, moving shadows) are replaced by the median before smoothing.
    bad = ~ok | (np.abs(dx - mdx) > 2.0) | (np.abs(dy - mdy) > 2.0)
    dx[bad], dy[bad] = mdx, mdy
    if ny >= 3 and nx >= 3:
        dx = cv2.medianBlur(dx, 3)
        dy = cv2.medianBlur(dy, 3)
    fx = cv2.resize(dx, (w, h), interpolation=cv2.INTER_LINEAR)
    fy = cv2.resize(dy, (w, h), interpolation=cv2.INTER_LINEAR)
    return fx, fy, float(np.median(np.hypot(dx, dy)))


#: Dense refinement: largest per-pixel shift (working px) and the smoothing (working px) of the flow field.
#: Why: an orthomosaic from oblique-enough photos is not a true orthophoto -- roofs sit displaced from their
#: footprints by relief (height x off-nadir distance / altitude, up to ~2 m) and stitching leaves 1-3 px
#: local misregistration that changes from photo to photo. Block phase correlation (19 m blocks) cannot
#: follow that; a dense flow can. The heavy smoothing makes it move whole roofs and seams rather than
#: re-draw texture, so rubble still differs from the roof it replaced.
DENSE_MAX_SHIFT_PX = 12.0
DENSE_SMOOTH_PX = 3.0
DENSE_REFINE = True


def _dense_flow(post: np.ndarray, pre: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smooth, bounded dense (dx, dy) so that pre(x + d) matches post(x) (DIS optical flow on CLAHE grey)."""
    a, b = _gray(post), _gray(pre)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(a, b, None)
    fx, fy = flow[:, :, 0], flow[:, :, 1]
    mag = np.hypot(fx, fy)
    bad = ~valid | (mag > DENSE_MAX_SHIFT_PX) | ~np.isfinite(mag)
    wgt = (~bad).astype(np.float32)
    fx, fy = np.where(bad, 0.0, fx).astype(np.float32), np.where(bad, 0.0, fy).astype(np.float32)
    sw = cv2.GaussianBlur(wgt, (0, 0), DENSE_SMOOTH_PX) + 1e-3
    fx = cv2.GaussianBlur(fx * wgt, (0, 0), DENSE_SMOOTH_PX) / sw
    fy = cv2.GaussianBlur(fy * wgt, (0, 0), DENSE_SMOOTH_PX) / sw
    return fx, fy


def coregister(post: np.ndarray, pre: np.ndarray, post_valid: np.ndarray, pre_valid: np.ndarray,
               *, georeferenced: bool) -> tuple[np.ndarray, np.ndarray, Registration]:
    """Warp ``pre`` onto ``post`` (same working grid); returns (pre_warped, pre_valid_warped, info)."""
    h, w = post.shape[:2]
    hom, n_in = _global_homography(post, pre, post_valid, pre_valid)
    if hom is None:
        hom = np.eye(3)
        method = "georeference" if georeferenced else "identity"
    else:
        method = "features"
    pre_w = cv2.warpPerspective(pre, hom, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REFLECT)
    val_w = cv2.warpPerspective(pre_valid.astype(np.uint8), hom, (w, h),
                                flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0) > 0
    both = val_w & post_valid
    fx, fy, resid = _local_flow(post, pre_w, both)
    if resid > 0.05:
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        pre_w = cv2.remap(pre_w, gx + fx, gy + fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        val_w = cv2.remap(val_w.astype(np.uint8), gx + fx, gy + fy, cv2.INTER_NEAREST, borderValue=0) > 0
    if DENSE_REFINE:
        dfx, dfy = _dense_flow(post, pre_w, val_w & post_valid)
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        pre_w = cv2.remap(pre_w, gx + dfx, gy + dfy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        val_w = cv2.remap(val_w.astype(np.uint8), gx + dfx, gy + dfy, cv2.INTER_NEAREST, borderValue=0) > 0
    # Erode the valid area a little: warped borders carry interpolation artefacts.
    val_w = cv2.erode(val_w.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    info = Registration(method=f"{method}+local", inliers=n_in, residual_shift_px=resid,
                        homography=[[float(v) for v in row] for row in hom])
    return pre_w, val_w, info


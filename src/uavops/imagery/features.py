"""Feature detection and pairwise matching between overlapping photos.

ORB keypoints (OpenCV) are found on a reduced-resolution copy of each photo (≈ 1–3 MP, decoded
straight from the JPEG at 1/2 or 1/4 size), refined to sub-pixel accuracy with ``cornerSubPix``
and matched only between photos whose initial footprints overlap (O(N) pairs). Each pair keeps
the matches that agree with one homography under RANSAC and with the GPS/attitude prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import apply_h
from .neighbours import pairs_within

__all__ = ["Features", "PairMatch", "detect_features", "match_pair", "working_reduce"]

MAX_FEATURES = 5000
MIN_INLIERS = 20
COARSE_FEATURES = 5000
COARSE_FIRST = 1200


@dataclass
class Features:
    """Keypoints in full-resolution pixel coordinates and their ORB descriptors."""

    xy: np.ndarray  # N×2 float64, full-resolution px
    desc: np.ndarray  # N×32 uint8
    scale: float  # full-resolution px per working px
    gray: np.ndarray | None = None  # working-resolution image, for sub-pixel refinement of ties


@dataclass
class PairMatch:
    """Inlier tie points between photos ``i`` and ``j`` (full-resolution px)."""

    i: int
    j: int
    pts_i: np.ndarray
    pts_j: np.ndarray
    n_matches: int
    ransac_rmse_px: float
    h_ij: np.ndarray  # pixel of i -> pixel of j (full resolution)


def working_reduce(width_px: int, height_px: int, min_long_side_px: int = 1000) -> int:
    """Largest JPEG DCT reduction (1, 2, 4, 8) that keeps the long side ≥ ``min_long_side_px``."""
    long_side = max(width_px, height_px)
    for f in (8, 4, 2):
        if long_side / f >= min_long_side_px:
            return f
    return 1


def detect_features(img_bgr: np.ndarray, scale: float, max_features: int = MAX_FEATURES) -> Features:
    """ORB features spread over the image (a grid of cells keeps textured corners from hogging them)."""
    gray = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2GRAY) if img_bgr.ndim == 3 else img_bgr
    gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
    orb = cv2.ORB_create(nfeatures=max_features * 2, scaleFactor=1.3, nlevels=6, edgeThreshold=19,
                         patchSize=19, fastThreshold=10)
    kps = orb.detect(gray, None)
    if not kps:
        return Features(np.zeros((0, 2)), np.zeros((0, 32), np.uint8), scale)
    # grid bucketing: best responses per cell (numpy: a Python loop over 10 000 keypoints cost
    # as much as detecting them)
    h, w = gray.shape[:2]
    gx, gy = 8, max(1, round(8 * h / w))
    per_cell = max(1, max_features // (gx * gy))
    pt = cv2.KeyPoint_convert(kps).astype(np.float64)  # the same float32 values, without a Python loop
    resp = np.array([k.response for k in kps], dtype=np.float64)
    cell = (np.minimum(gy - 1, (pt[:, 1] * gy / h).astype(np.int64)) * gx
            + np.minimum(gx - 1, (pt[:, 0] * gx / w).astype(np.int64)))
    order = np.lexsort((-resp, cell))  # by cell, strongest first
    sorted_cell = cell[order]
    first = np.flatnonzero(np.r_[True, sorted_cell[1:] != sorted_cell[:-1]])
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    keep = rank < per_cell
    order, rank = order[keep], rank[keep]
    # interleave the cells (each cell's best first, then each cell's second …): any prefix of the
    # list is both strong and spread over the image, which the coarse matching relies on
    final = order[np.lexsort((-resp[order], rank))]
    chosen: list[cv2.KeyPoint] = [kps[i] for i in final]
    chosen, desc = orb.compute(gray, chosen)
    if desc is None or not chosen:
        return Features(np.zeros((0, 2)), np.zeros((0, 32), np.uint8), scale)
    pts = cv2.KeyPoint_convert(chosen).astype(np.float32).reshape(-1, 1, 2)
    fine = [i for i, k in enumerate(chosen) if k.octave == 0]
    if fine:
        sub = pts[fine].copy()
        cv2.cornerSubPix(gray, sub, (3, 3), (-1, -1), (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 20, 0.01))
        moved = np.linalg.norm(sub - pts[fine], axis=2).ravel() < 1.5
        idx = np.asarray(fine)[moved]
        pts[idx] = sub[moved]
    xy = (pts.reshape(-1, 2).astype(np.float64) + 0.5) * scale - 0.5
    return Features(xy, desc, scale, gray)


def _spread(pts: np.ndarray, n: int, width: float, height: float) -> np.ndarray:
    """Indices of at most ``n`` points spread over the image (one per grid cell first)."""
    if len(pts) <= n:
        return np.arange(len(pts))
    g = int(np.ceil(np.sqrt(n)))
    cx = np.clip((pts[:, 0] / width * g).astype(int), 0, g - 1)
    cy = np.clip((pts[:, 1] / height * g).astype(int), 0, g - 1)
    cell = cy * g + cx
    order = np.argsort(cell, kind="stable")
    _, first = np.unique(cell[order], return_index=True)
    picked = list(order[first])
    if len(picked) < n:
        rest = np.setdiff1d(np.arange(len(pts)), picked)
        picked.extend(rest[np.linspace(0, len(rest) - 1, n - len(picked)).astype(int)])
    return np.asarray(picked[:n])


def _hamming_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between matching rows of two N×32 uint8 descriptor arrays."""
    if _BITWISE_COUNT is not None and a.shape[1] % 8 == 0:  # numpy ≥ 2: popcount on 64-bit words, 8x faster
        x = np.bitwise_xor(np.ascontiguousarray(a).view(np.uint64), np.ascontiguousarray(b).view(np.uint64))
        return _BITWISE_COUNT(x).sum(axis=1, dtype=np.int64)
    return np.unpackbits(np.bitwise_xor(a, b), axis=1).sum(axis=1)


_BITWISE_COUNT = getattr(np, "bitwise_count", None)


def _guided(fi: Features, fj: Features, pred_j: np.ndarray, radius_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into fi, fj) of the best descriptor match of each keypoint of i among the keypoints
    of j within ``radius_px`` of its predicted position, kept if clearly better than the runner-up."""
    src, dst = pairs_within(pred_j, fj.xy, radius_px)
    if len(src) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    dist = _hamming_rows(fi.desc[src], fj.desc[dst])
    order = np.lexsort((dist, src))
    src, dst, dist = src[order], dst[order], dist[order]
    idx_first = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    second = np.minimum(idx_first + 1, len(src) - 1)
    has2 = (idx_first + 1 < len(src)) & (src[second] == src[idx_first])
    d1 = dist[idx_first].astype(float)
    d2 = np.where(has2, dist[second], 256).astype(float)
    keep = (d1 < 80) & (d1 < 0.9 * d2)
    mi, mj, dk = src[idx_first][keep], dst[idx_first][keep], d1[keep]
    # one keypoint of j may be claimed by several of i: keep the closest descriptor
    o2 = np.lexsort((dk, mj))
    uniq = np.r_[True, mj[o2][1:] != mj[o2][:-1]] if len(o2) else np.zeros(0, bool)
    return mi[o2][uniq], mj[o2][uniq]


def _coarse(fi: Features, fj: Features, size_px: tuple[int, int]) -> np.ndarray | None:
    """Pose-free estimate of the similarity i→j (full-res px) from ratio-tested matches.

    A cascade: the ``COARSE_FIRST`` strongest keypoints of each photo (features are stored
    best-first per image cell, so any prefix is spread over the image) settle about half the pairs
    (9 of the 17 pose-free pairs on Brighton) for about a quarter of the cost; the pairs they cannot
    settle — foliage-heavy ones — are tried again with up to ``COARSE_FEATURES``.
    """
    for n_feat, min_support in ((COARSE_FIRST, 25), (COARSE_FEATURES, 10)):
        est = _coarse_with(fi, fj, size_px, n_feat, min_support)
        if est is not None or (len(fi.xy) <= n_feat and len(fj.xy) <= n_feat):
            return est
    return None


def _coarse_with(fi: Features, fj: Features, size_px: tuple[int, int], n_feat: int,
                 min_support: int) -> np.ndarray | None:
    sub_i = np.arange(min(len(fi.xy), n_feat))
    sub_j = np.arange(min(len(fj.xy), n_feat))
    knn = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(fi.desc[sub_i], fj.desc[sub_j], k=2)
    qi, qj = [], []
    for m in knn:
        if len(m) == 2 and m[0].distance < 0.85 * m[1].distance:
            qi.append(sub_i[m[0].queryIdx])
            qj.append(sub_j[m[0].trainIdx])
    if len(qi) < max(12, min_support):
        return None
    tol = 0.006 * max(size_px)
    a, mask = cv2.estimateAffinePartial2D(fi.xy[qi], fj.xy[qj], method=cv2.RANSAC, ransacReprojThreshold=tol,
                                          maxIters=5000, confidence=0.999)
    if a is None or mask is None or int(mask.sum()) < min_support:
        return None
    scale = float(np.hypot(a[0, 0], a[1, 0]))
    if not 0.7 < scale < 1.4:
        return None
    return np.vstack([a, [0.0, 0.0, 1.0]])


def match_pair(i: int, j: int, fi: Features, fj: Features, h_i: np.ndarray, h_j: np.ndarray,
               size_px: tuple[int, int], gate_m: float, ransac_px: float, max_ties: int = 200,
               hint: np.ndarray | None = None) -> PairMatch | None:
    """Match two photos; ``h_i``/``h_j`` are their initial pixel→ground homographies.

    Vegetation defeats plain ratio-test matching (thousands of similar leaves), so matching runs
    in two passes: (1) a coarse similarity i→j, from ratio-tested matches under loose RANSAC —
    independent of the recorded heading, which DJI logs wrongly at times — or, when that fails,
    from the poses shifted by the ground offset most matches vote for (``gate_m`` bounds it);
    (2) guided matching: each keypoint is compared only with keypoints of the other photo near
    where the coarse transform puts it, so a lenient ratio test suffices. RANSAC then keeps the
    matches consistent with one ground-plane homography within ``ransac_px`` full-resolution
    pixels (tree tops with large parallax drop out). Returns None if too few matches survive.

    ``hint`` (pixel of i → pixel of j, e.g. chained from pairs already matched) replaces pass (1):
    most pairs of a survey are tied through neighbours, and pass (1) is most of the cost.
    """
    if len(fi.xy) < MIN_INLIERS or len(fj.xy) < MIN_INLIERS:
        return None
    radius_px = 0.015 * max(size_px)
    coarse = hint if hint is not None else _coarse(fi, fj, size_px)
    if hint is not None:
        radius_px *= 1.5
    elif coarse is None:
        gi_all, gj_all = apply_h(h_i, fi.xy), apply_h(h_j, fj.xy)
        best = cv2.BFMatcher(cv2.NORM_HAMMING).match(fi.desc, fj.desc)
        if len(best) < MIN_INLIERS:
            return None
        qi = np.array([m.queryIdx for m in best])
        qj = np.array([m.trainIdx for m in best])
        d = gj_all[qj] - gi_all[qi]
        ok = np.all(np.abs(d) < gate_m, axis=1)
        if ok.sum() < MIN_INLIERS:
            return None
        nb = max(8, int(2 * gate_m / 0.75))
        hist, ex, ey = np.histogram2d(d[ok, 0], d[ok, 1], bins=nb, range=[[-gate_m, gate_m], [-gate_m, gate_m]])
        hist = cv2.GaussianBlur(hist.astype(np.float32), (3, 3), 0)
        py, px = np.unravel_index(int(np.argmax(hist)), hist.shape)
        centre = np.array([0.5 * (ex[py] + ex[py + 1]), 0.5 * (ey[px] + ey[px + 1])])
        near = ok & (np.linalg.norm(d - centre, axis=1) < 2.0)
        if near.sum() < 6:
            return None
        offset = np.median(d[near], axis=0)
        shift = np.array([[1.0, 0, offset[0]], [0, 1.0, offset[1]], [0, 0, 1.0]])
        coarse = np.linalg.inv(h_j) @ shift @ h_i
        radius_px *= 1.5
    mi, mj = _guided(fi, fj, apply_h(coarse, fi.xy), radius_px)
    if len(mi) < MIN_INLIERS:
        return None
    pi, pj = fi.xy[mi], fj.xy[mj]
    hmat, mask = cv2.findHomography(pi, pj, cv2.USAC_MAGSAC, ransac_px, maxIters=2000, confidence=0.999)
    if hmat is None or mask is None:
        return None
    inl = mask.ravel().astype(bool)
    if inl.sum() < MIN_INLIERS:
        return None
    pi, pj = pi[inl], pj[inl]
    if fi.gray is not None and fj.gray is not None:
        pi, pj = _refine(fi, fj, pi, pj, hmat)
        if len(pi) < MIN_INLIERS:
            return None
    res = np.linalg.norm(apply_h(hmat, pi) - pj, axis=1)
    keep_idx = _spread(pi, max_ties, size_px[0], size_px[1])
    return PairMatch(i=i, j=j, pts_i=pi[keep_idx], pts_j=pj[keep_idx], n_matches=int(inl.sum()),
                     ransac_rmse_px=float(np.sqrt(np.mean(res ** 2))), h_ij=hmat)


def _refine(fi: Features, fj: Features, pi: np.ndarray, pj: np.ndarray,
            hmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel tie positions: Lucas–Kanade from photo i into photo j, started at the ORB match.

    ORB keypoints of coarse pyramid levels sit on a grid of several pixels; LK on the working
    images brings the pair to ~0.1 px. Points LK loses (foliage, parallax) or moves by more than
    3 working pixels are dropped when enough refined ones remain, else kept at their ORB position
    (the adjustment's outlier test then judges them).
    """
    si, sj = fi.scale, fj.scale
    a = ((pi + 0.5) / si - 0.5).astype(np.float32).reshape(-1, 1, 2)
    b0 = ((pj + 0.5) / sj - 0.5).astype(np.float32).reshape(-1, 1, 2)
    b, status, _ = cv2.calcOpticalFlowPyrLK(fi.gray, fj.gray, a, b0.copy(), winSize=(15, 15), maxLevel=1,
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                                            criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    if b is None or status is None:
        return pi, pj
    ok = status.ravel().astype(bool) & (np.linalg.norm((b - b0).reshape(-1, 2), axis=1) < 3.0)
    pj_new = pj.copy()
    pj_new[ok] = (b.reshape(-1, 2)[ok].astype(np.float64) + 0.5) * sj - 0.5
    if ok.sum() >= max(2 * MIN_INLIERS, 0.3 * len(ok)):
        return pi[ok], pj_new[ok]
    return pi, pj_new

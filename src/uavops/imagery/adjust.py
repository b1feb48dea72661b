"""Global adjustment of all photo transforms in the ground plane.

Each photo ``i`` has an initial pixel→ground homography ``H0_i`` from its pose (GPS, height,
attitude). The adjustment finds a small projective correction ``C_i`` per photo (8 parameters,
acting in photo-local ground coordinates normalised by the footprint size) so that

* tie points matched between overlapping photos land on the same ground point (weight 1/σ_tie,
  σ_tie = one native pixel on the ground) — this makes the mosaic consistent;
* each photo's nadir point stays near its GPS fix (weight 1/σ_gps, a few metres) — weak, so single
  fixes cannot bend the block, but together they anchor it: their errors average out;
* the corrections stay small (weak priors) — fixes the gauge where ties are few.

The problem is solved by Gauss–Newton on the sparse normal equations (SuperLU), with Huber
reweighting of tie residuals against mismatches that survived pairwise RANSAC. With ~8 unknowns
per photo it stays small: 500 photos are 4000 unknowns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

from .features import PairMatch
from .geometry import apply_h

__all__ = ["AdjustmentResult", "adjust"]

# up to this many unknowns (8 per photo) the normal equations are solved dense (LAPACK), above it
# sparse (SuperLU): dense is faster for a few hundred unknowns, sparse for large blocks
DENSE_MAX_UNKNOWNS = 1600


@dataclass
class AdjustmentResult:
    """Adjusted homographies and the residuals that describe the fit."""

    h: list[np.ndarray]  # pixel -> local ground metres
    tie_residual_m: np.ndarray  # per tie, ground distance between the two projections
    tie_residual_px: np.ndarray  # the same in native pixels
    tie_pairs: np.ndarray  # per tie, (i, j)
    gps_residual_m: np.ndarray  # per photo, nadir ground point minus GPS (E, N)
    iterations: int
    rejected_pairs: list[tuple[int, int]] = field(default_factory=list)
    active_matches: list[PairMatch] = field(default_factory=list)
    rejected_ties: int = 0
    theta: np.ndarray | None = None  # the per-photo corrections, to warm-start a re-solve


def _s(o: np.ndarray, length: float) -> np.ndarray:
    return np.array([[length, 0.0, o[0]], [0.0, length, o[1]], [0.0, 0.0, 1.0]])


def _proj(theta: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply C(theta) to normalised points; return (X, Y) stacked N×2 and the N×2×8 Jacobian."""
    a, b, c, d, e, f, g, h = (theta[:, k] for k in range(8))
    qx, qy = q[:, 0], q[:, 1]
    nx = (1 + a) * qx + b * qy + c
    ny = d * qx + (1 + e) * qy + f
    w = g * qx + h * qy + 1.0
    x, y = nx / w, ny / w
    jac = np.zeros((len(q), 2, 8))
    jac[:, 0, 0] = qx / w
    jac[:, 0, 1] = qy / w
    jac[:, 0, 2] = 1 / w
    jac[:, 0, 6] = -x * qx / w
    jac[:, 0, 7] = -x * qy / w
    jac[:, 1, 3] = qx / w
    jac[:, 1, 4] = qy / w
    jac[:, 1, 5] = 1 / w
    jac[:, 1, 6] = -y * qx / w
    jac[:, 1, 7] = -y * qy / w
    return np.stack([x, y], axis=1), jac


def _adjust_once(h0: list[np.ndarray], sizes_px: list[tuple[int, int]], gps_xy: np.ndarray, gsd_m: np.ndarray,
           matches: list[PairMatch], gps_sigma_m: float = 3.0, scale_sigma: float = 0.05,
           rot_sigma: float = 0.1, shear_sigma: float = 0.01, persp_sigma: float = 0.01, huber_px: float = 2.0,
           max_iter: int = 12, pair_weight_ties: float = 20.0,
           theta0: np.ndarray | None = None) -> AdjustmentResult:
    """Solve for all photo transforms at once.

    Parameters
    ----------
    h0 : initial pixel→ground homographies (local metres), one per photo.
    sizes_px : (width, height) of each photo at full resolution.
    gps_xy : N×2 GPS positions of the cameras in the same local metres.
    gsd_m : N native ground sample distances (m/px), used to express tie errors in pixels.
    matches : inlier tie points of each matched pair.
    """
    n = len(h0)
    centres = np.array([[w / 2.0 - 0.5, hh / 2.0 - 0.5] for w, hh in sizes_px])
    o = np.array([apply_h(h0[k], centres[k:k + 1])[0] for k in range(n)])
    corners = [apply_h(h0[k], np.array([[0, 0], [sizes_px[k][0], sizes_px[k][1]]])) for k in range(n)]
    length = np.array([max(1.0, 0.5 * float(np.linalg.norm(c[1] - c[0]))) for c in corners])
    # normalised tie coordinates (fixed: H0 does not change)
    ti, tj, qi_l, qj_l, tw = [], [], [], [], []
    for m in matches:
        # ties of one pair are not independent (same two poses, same matching errors): a pair
        # counts as at most ``pair_weight_ties`` observations, so GPS keeps its say on the block
        tw.append(np.full(len(m.pts_i), min(1.0, pair_weight_ties / max(len(m.pts_i), 1))))
        ti.append(np.full(len(m.pts_i), m.i))
        tj.append(np.full(len(m.pts_j), m.j))
        qi_l.append((apply_h(h0[m.i], m.pts_i) - o[m.i]) / length[m.i])
        qj_l.append((apply_h(h0[m.j], m.pts_j) - o[m.j]) / length[m.j])
    ti_a = np.concatenate(ti) if ti else np.zeros(0, int)
    tj_a = np.concatenate(tj) if tj else np.zeros(0, int)
    qi = np.concatenate(qi_l) if qi_l else np.zeros((0, 2))
    qj = np.concatenate(qj_l) if qj_l else np.zeros((0, 2))
    tie_w = np.concatenate(tw) if tw else np.zeros(0)
    sigma_tie = 0.5 * (gsd_m[ti_a] + gsd_m[tj_a]) if len(ti_a) else np.zeros(0)
    h0_inv = [np.linalg.inv(h) for h in h0]
    # GPS prior acts on the photo's nadir point: the pixel H0 put under the camera
    qn = (gps_xy - o) / length[:, None]
    del h0_inv

    # Priors on the correction's shape, as a quadratic form per photo. Rotation (heading error)
    # and scale (height error) may move freely enough; shear and perspective (attitude errors)
    # stay small. Any transform applied to every photo alike leaves tie residuals unchanged, so
    # without these a block could drift into a common projective warp that fits noise.
    vecs = [(np.array([1, 0, 0, 0, 1, 0, 0, 0]) / 2, scale_sigma), (np.array([0, 1, 0, -1, 0, 0, 0, 0]) / 2, rot_sigma),
            (np.array([1, 0, 0, 0, -1, 0, 0, 0]) / 2, shear_sigma), (np.array([0, 1, 0, 1, 0, 0, 0, 0]) / 2, shear_sigma),
            (np.array([0, 0, 0, 0, 0, 0, 1, 0]), persp_sigma), (np.array([0, 0, 0, 0, 0, 0, 0, 1]), persp_sigma)]
    p8 = sum(np.outer(v, v) / sig ** 2 for v, sig in vecs)
    nt = len(ti_a)
    # ties come in runs, one run per matched pair: the normal equations are summed run by run
    runs = np.flatnonzero(np.r_[True, (ti_a[1:] != ti_a[:-1]) | (tj_a[1:] != tj_a[:-1])]) if nt else np.zeros(0, int)
    run_i, run_j = ti_a[runs], tj_a[runs]
    dense = 8 * n <= DENSE_MAX_UNKNOWNS

    def prior_cost(theta: np.ndarray) -> float:
        return float(np.einsum("ni,ij,nj->", theta, p8, theta))

    def system(theta: np.ndarray, robust_w: np.ndarray | None, cost_only: bool = False
               ) -> tuple[Any, np.ndarray | None, np.ndarray, float]:
        """(JᵀJ, Jᵀr, robust weights, cost) of the Gauss–Newton step at ``theta``.

        JᵀJ is accumulated directly from 8×8 blocks per pair and per photo instead of forming the
        Jacobian (40 000 × 144 on 18 photos): assembling and multiplying that sparse matrix cost
        more than all the rest of the adjustment.
        """
        gi, ji = _proj(theta[ti_a], qi)
        gj, jj = _proj(theta[tj_a], qj)
        # residual in metres, divided by the current ground size of a pixel: shrinking the whole
        # block must not look like a better fit (it would collapse to a point otherwise)
        det = (1 + theta[:, 0]) * (1 + theta[:, 4]) - theta[:, 1] * theta[:, 3]
        sq = np.sqrt(np.maximum(det, 1e-6))
        s_t = 0.5 * (gsd_m[ti_a] * sq[ti_a] + gsd_m[tj_a] * sq[tj_a])
        r_t = (o[ti_a] + length[ti_a, None] * gi) - (o[tj_a] + length[tj_a, None] * gj)
        r_t_w = r_t / s_t[:, None]
        norm = np.linalg.norm(r_t_w, axis=1)
        if robust_w is None:
            robust_w = np.where(norm <= huber_px, 1.0, huber_px / np.maximum(norm, 1e-12)) * tie_w
        gn, jn = _proj(theta, qn)
        r_g = (o + length[:, None] * gn - gps_xy) / gps_sigma_m
        r_tie = r_t_w * np.sqrt(robust_w)[:, None]
        cost = float(np.sum(r_tie * r_tie) + np.sum(r_g * r_g)) + prior_cost(theta)
        if cost_only:
            return None, None, robust_w, cost
        dsq = np.zeros((n, 8))
        dsq[:, 0] = (1 + theta[:, 4]) / (2 * sq)
        dsq[:, 1] = -theta[:, 3] / (2 * sq)
        dsq[:, 3] = -theta[:, 1] / (2 * sq)
        dsq[:, 4] = (1 + theta[:, 0]) / (2 * sq)
        sw = np.sqrt(robust_w)[:, None, None]
        ds_i = 0.5 * gsd_m[ti_a, None] * dsq[ti_a]
        ds_j = 0.5 * gsd_m[tj_a, None] * dsq[tj_a]
        bi = (ji * length[ti_a, None, None] / s_t[:, None, None]
              - r_t_w[:, :, None] * ds_i[:, None, :] / s_t[:, None, None]) * sw
        bj = (-jj * length[tj_a, None, None] / s_t[:, None, None]
              - r_t_w[:, :, None] * ds_j[:, None, :] / s_t[:, None, None]) * sw
        bg = jn * length[:, None, None] / gps_sigma_m
        grad = np.einsum("nki,nk->ni", bg, r_g) + theta @ p8
        diag = np.einsum("nki,nkj->nij", bg, bg) + p8
        h_ij = np.zeros((len(runs), 8, 8))
        if nt:
            # per pair, BᵀB of its (2·ties × 8) Jacobian rows: one BLAS product each
            bi2, bj2, r2 = bi.reshape(-1, 8), bj.reshape(-1, 8), r_tie.reshape(-1)
            ends = np.r_[runs[1:], nt]
            for k, (a, b) in enumerate(zip(2 * runs, 2 * ends)):
                ba, bb = bi2[a:b], bj2[a:b]
                diag[run_i[k]] += ba.T @ ba
                diag[run_j[k]] += bb.T @ bb
                h_ij[k] = ba.T @ bb
                grad[run_i[k]] += ba.T @ r2[a:b]
                grad[run_j[k]] += bb.T @ r2[a:b]
        if dense:
            blocks = np.zeros((n, n, 8, 8))
            blocks[np.arange(n), np.arange(n)] = diag
            np.add.at(blocks, (run_i, run_j), h_ij)
            np.add.at(blocks, (run_j, run_i), h_ij.transpose(0, 2, 1))
            normal: np.ndarray | sp.csc_matrix = blocks.transpose(0, 2, 1, 3).reshape(8 * n, 8 * n)
        else:
            bi_idx = np.concatenate([np.arange(n), run_i, run_j])
            bj_idx = np.concatenate([np.arange(n), run_j, run_i])
            vals = np.concatenate([diag, h_ij, h_ij.transpose(0, 2, 1)])
            rr = (8 * bi_idx[:, None, None] + np.arange(8)[None, :, None]).repeat(8, axis=2)
            cc = (8 * bj_idx[:, None, None] + np.arange(8)[None, None, :]).repeat(8, axis=1)
            import scipy.sparse as sp  # only large blocks need it (importing scipy costs 0.2 s of startup)

            normal = sp.csc_matrix((vals.ravel(), (rr.ravel(), cc.ravel())), shape=(8 * n, 8 * n))
        return normal, grad.ravel(), robust_w, cost

    # a re-solve after dropping outlier ties starts from the previous solution: a few steps, not twelve
    theta = np.zeros((n, 8)) if theta0 is None else theta0.copy()
    lam = 1e-3
    it = 0
    for it in range(1, max_iter + 1):
        base, grad, robust_w, cost = system(theta, None)
        assert base is not None and grad is not None
        grad = -grad
        base_diag = base.diagonal() + 1e-9
        for _ in range(8):
            damp = base_diag + lam * (base_diag + 1e-6)
            if dense:
                normal = np.array(base, copy=True)
                normal[np.diag_indices_from(normal)] = damp
                step = np.linalg.solve(normal, grad)
            else:
                import scipy.sparse as sp
                import scipy.sparse.linalg as spla

                normal = (base + sp.diags(damp - base.diagonal())).tocsc()
                step = spla.spsolve(normal, grad)
            trial = theta + step.reshape(n, 8)
            trial_cost = system(trial, robust_w, cost_only=True)[3]
            if trial_cost <= cost:
                theta = trial
                lam = max(lam / 3.0, 1e-7)
                break
            lam *= 10.0
        else:
            break
        # converged: the step no longer changes the cost (1e-6 relative is far below a tie's weight)
        if np.max(np.abs(step)) < 1e-7 or cost - trial_cost <= 1e-6 * cost:
            break

    h = [_s(o[k], length[k]) @ np.array([[1 + theta[k, 0], theta[k, 1], theta[k, 2]],
                                          [theta[k, 3], 1 + theta[k, 4], theta[k, 5]],
                                          [theta[k, 6], theta[k, 7], 1.0]]) @ np.linalg.inv(_s(o[k], length[k])) @ h0[k]
         for k in range(n)]
    h = [m / m[2, 2] for m in h]
    gi, _ = _proj(theta[ti_a], qi)
    gj, _ = _proj(theta[tj_a], qj)
    r_t = (o[ti_a] + length[ti_a, None] * gi) - (o[tj_a] + length[tj_a, None] * gj)
    res_m = np.linalg.norm(r_t, axis=1) if nt else np.zeros(0)
    gn, _ = _proj(theta, qn)
    gps_res = o + length[:, None] * gn - gps_xy
    return AdjustmentResult(h=h, tie_residual_m=res_m,
                            tie_residual_px=res_m / sigma_tie if nt else np.zeros(0),
                            tie_pairs=np.stack([ti_a, tj_a], axis=1) if nt else np.zeros((0, 2), int),
                            gps_residual_m=gps_res, iterations=it, theta=theta)


def adjust(h0: list[np.ndarray], sizes_px: list[tuple[int, int]], gps_xy: np.ndarray, gsd_m: np.ndarray,
           matches: list[PairMatch], gps_sigma_m: float = 3.0, rounds: int = 3, **kwargs: float) -> AdjustmentResult:
    """Solve for all photo transforms at once (see the module docstring).

    A pair whose tie points all agree with each other but not with the rest of the block (a
    repeated pattern matched to the wrong place) survives pairwise RANSAC; after each solve, pairs
    whose median residual is far above the others' are dropped and the block is solved again.

    Parameters
    ----------
    h0 : initial pixel→ground homographies (local metres), one per photo.
    sizes_px : (width, height) of each photo at full resolution.
    gps_xy : N×2 GPS positions of the cameras in the same local metres.
    gsd_m : N native ground sample distances (m/px), used to express tie errors in pixels.
    matches : inlier tie points of each matched pair.
    """
    active = list(matches)
    rejected: list[tuple[int, int]] = []
    n_total = sum(len(m.pts_i) for m in matches)
    res = _adjust_once(h0, sizes_px, gps_xy, gsd_m, active, gps_sigma_m=gps_sigma_m, **kwargs)
    for _ in range(rounds):
        if not active:
            break
        per_pair, start = [], 0
        for m in active:
            k = len(m.pts_i)
            per_pair.append(res.tie_residual_px[start:start + k])
            start += k
        med_a = np.array([float(np.median(r)) if len(r) else 0.0 for r in per_pair])
        limit = max(8.0, 5.0 * float(np.median(med_a)))
        bad = med_a > limit if len(active) >= 3 else np.zeros(len(active), bool)
        # single ties far off the block (leaning trees, mismatches RANSAC let through)
        tie_limit = max(4.0 * 1.4826 * float(np.median(res.tie_residual_px)), 3.0)
        changed = bool(bad.any())
        kept: list[PairMatch] = []
        for m, r, b in zip(active, per_pair, bad):
            if b:
                rejected.append((m.i, m.j))
                continue
            ok = r <= tie_limit
            if not ok.all():
                changed = True
                if ok.sum() < 6:
                    rejected.append((m.i, m.j))
                    continue
                m = PairMatch(i=m.i, j=m.j, pts_i=m.pts_i[ok], pts_j=m.pts_j[ok], n_matches=m.n_matches,
                              ransac_rmse_px=m.ransac_rmse_px, h_ij=m.h_ij)
            kept.append(m)
        if not changed:
            break
        active = kept
        res = _adjust_once(h0, sizes_px, gps_xy, gsd_m, active, gps_sigma_m=gps_sigma_m, theta0=res.theta,
                           **kwargs)  # type: ignore[arg-type]
    res.rejected_pairs = rejected
    res.active_matches = active
    res.rejected_ties = n_total - len(res.tie_residual_px)
    return res

"""The block adjustment on a synthetic block with known truth: dense and sparse solves agree."""

from __future__ import annotations

import numpy as np
import pytest

from uavops.imagery import adjust as adjust_mod
from uavops.imagery.adjust import adjust
from uavops.imagery.features import PairMatch
from uavops.imagery.geometry import apply_h

W_PX, H_PX, GSD_M = 400, 300, 0.05


def _h(x: float, y: float, yaw_deg: float) -> np.ndarray:
    """Pixel → ground for a nadir photo centred on (x, y), image up = heading."""
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    centre = np.array([[1, 0, -(W_PX / 2 - 0.5)], [0, 1, -(H_PX / 2 - 0.5)], [0, 0, 1.0]])
    scale = np.diag([GSD_M, -GSD_M, 1.0])
    rot = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1.0]])
    return np.array([[1, 0, x], [0, 1, y], [0, 0, 1.0]]) @ rot @ scale @ centre


def _block(seed: int = 4, rows: int = 4, cols: int = 5):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    true_xy = np.array([[c * 8.0, r * 6.0] for r in range(rows) for c in range(cols)])
    true_yaw = rng.normal(0, 2.0, len(true_xy))
    h_true = [_h(x, y, a) for (x, y), a in zip(true_xy, true_yaw)]
    gps = true_xy + rng.normal(0, 2.0, true_xy.shape)
    h0 = [_h(x, y, a + rng.normal(0, 1.0)) for (x, y), a in zip(gps, true_yaw)]
    matches = []
    for i in range(len(true_xy)):
        for j in range(i + 1, len(true_xy)):
            if np.abs(true_xy[i] - true_xy[j]).max() > 9.0:
                continue
            ground = true_xy[i] + (true_xy[j] - true_xy[i]) / 2 + rng.uniform(-4, 4, (60, 2))
            pi = apply_h(np.linalg.inv(h_true[i]), ground) + rng.normal(0, 0.3, (60, 2))
            pj = apply_h(np.linalg.inv(h_true[j]), ground) + rng.normal(0, 0.3, (60, 2))
            matches.append(PairMatch(i=i, j=j, pts_i=pi, pts_j=pj, n_matches=60, ransac_rmse_px=0.4, h_ij=np.eye(3)))
    return h0, gps, matches, h_true, true_xy


def test_block_adjustment_ties_photos_together_and_averages_gps(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h0, gps, matches, _, true_xy = _block()
    sizes = [(W_PX, H_PX)] * len(h0)
    gsd = np.full(len(h0), GSD_M)
    res = adjust(h0, sizes, gps, gsd, matches, gps_sigma_m=2.0)
    rmse_px = float(np.sqrt(np.mean(res.tie_residual_px ** 2)))
    before = np.concatenate([np.linalg.norm(apply_h(h0[m.i], m.pts_i) - apply_h(h0[m.j], m.pts_j), axis=1)
                             for m in matches]) / GSD_M
    assert float(np.sqrt(np.mean(before ** 2))) > 20 * rmse_px  # GPS alone leaves metres of misfit
    assert rmse_px < 0.8  # ties of 0.3 px noise on each side
    # relative geometry is right: photo-to-photo offsets match the truth far better than GPS does
    centre = np.array([[W_PX / 2 - 0.5, H_PX / 2 - 0.5]])
    got = np.array([apply_h(h, centre)[0] for h in res.h])
    rel_err = np.linalg.norm((got - got.mean(0)) - (true_xy - true_xy.mean(0)), axis=1)
    gps_rel_err = np.linalg.norm((gps - gps.mean(0)) - (true_xy - true_xy.mean(0)), axis=1)
    assert rel_err.max() < 0.3 and gps_rel_err.max() > 1.5  # the residue is a slight block rotation GPS allows
    # the block as a whole sits on the mean of the GPS errors: within ~2 m / sqrt(20) of the truth
    assert float(np.linalg.norm(got.mean(0) - true_xy.mean(0))) < 1.5

    # the sparse solve (used for large blocks) gives the same answer as the dense one
    monkeypatch.setattr(adjust_mod, "DENSE_MAX_UNKNOWNS", 0)
    sparse = adjust(h0, sizes, gps, gsd, matches, gps_sigma_m=2.0)
    assert sparse.iterations == res.iterations
    for a, b in zip(res.h, sparse.h):
        assert np.allclose(a, b, rtol=0, atol=1e-9)


def test_a_pair_tied_to_the_wrong_place_is_rejected() -> None:
    h0, gps, matches, _, _ = _block(seed=8)
    bad = matches[3]
    matches[3] = PairMatch(i=bad.i, j=bad.j, pts_i=bad.pts_i, pts_j=bad.pts_j + np.array([120.0, 0.0]),
                           n_matches=60, ransac_rmse_px=0.4, h_ij=np.eye(3))
    res = adjust(h0, [(W_PX, H_PX)] * len(h0), gps, np.full(len(h0), GSD_M), matches, gps_sigma_m=2.0)
    assert (bad.i, bad.j) in res.rejected_pairs
    assert float(np.sqrt(np.mean(res.tie_residual_px ** 2))) < 0.8


@pytest.mark.parametrize("n_photos", [2, 3])
def test_tiny_blocks(n_photos: int) -> None:
    h0, gps, matches, _, _ = _block(rows=1, cols=n_photos)
    res = adjust(h0, [(W_PX, H_PX)] * len(h0), gps, np.full(len(h0), GSD_M), matches, gps_sigma_m=2.0)
    assert float(np.sqrt(np.mean(res.tie_residual_px ** 2))) < 0.8

"""Chained matching: a spanning tree pose-free, the other pairs guided by composed similarities."""

from __future__ import annotations

import numpy as np

from uavops.imagery.chain import chain_hint, match_pairs_chained, pair_similarity, spanning_pairs
from uavops.imagery.features import PairMatch
from uavops.imagery.geometry import apply_h


def _sim(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = np.radians(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty],
                     [0.0, 0.0, 1.0]])


# photo k -> a common "world" pixel frame; pair (i, j) maps pixel of i to pixel of j
WORLD = [_sim(0, 1, 0, 0), _sim(3, 1.01, 900, 20), _sim(-2, 0.99, 1800, -10), _sim(178, 1, 2700, 2900),
         _sim(181, 1.0, 1800, 2950)]


# five photos in a ring of overlapping footprints, and the pairs whose footprints overlap
CENTRES = np.array([[0, 0], [10, 0], [20, 0], [20, 10], [10, 10]], float)
PAIRS = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 4), (0, 4), (2, 4)]


def _true(i: int, j: int) -> np.ndarray:
    return np.linalg.inv(WORLD[j]) @ WORLD[i]


def _match(i: int, j: int) -> PairMatch:
    rng = np.random.default_rng(i * 10 + j)
    pts_i = rng.uniform(0, 4000, (60, 2))
    return PairMatch(i=i, j=j, pts_i=pts_i, pts_j=apply_h(_true(i, j), pts_i), n_matches=60, ransac_rmse_px=0.5,
                     h_ij=_true(i, j))


def test_spanning_pairs_connect_every_photo_with_n_minus_1_pairs() -> None:
    tree = spanning_pairs(PAIRS, CENTRES)
    assert len(tree) == 4
    assert set(tree) <= set(PAIRS)
    seen = {0}
    for _ in range(4):
        for a, b in tree:
            if a in seen or b in seen:
                seen |= {a, b}
    assert seen == {0, 1, 2, 3, 4}


def test_chain_hint_composes_the_path_and_handles_reversed_edges() -> None:
    matched = {ab: pair_similarity(_match(*ab)) for ab in ((0, 1), (2, 1), (2, 3))}
    h = chain_hint(0, 3, matched)
    assert h is not None
    pts = np.array([[100.0, 200.0], [3000.0, 2500.0]])
    assert np.allclose(apply_h(h, pts), apply_h(_true(0, 3), pts), atol=1e-6)
    assert chain_hint(0, 3, matched, max_hops=2) is None  # the path has three hops
    assert chain_hint(0, 4, matched) is None  # photo 4 is tied to nothing


def test_only_the_tree_and_unreachable_pairs_pay_for_pose_free_matching() -> None:
    calls: list[tuple[tuple[int, int], bool]] = []

    def match(ab: tuple[int, int], hint: np.ndarray | None = None) -> PairMatch | None:
        calls.append((ab, hint is not None))
        if hint is not None:
            # the hint handed over must be the true relative transform (chained exactly here)
            assert np.allclose(hint, _true(*ab) / _true(*ab)[2, 2], atol=1e-6)
        return _match(*ab)

    got = match_pairs_chained(PAIRS, CENTRES, match, threads=2)
    assert sorted((m.i, m.j) for m in got) == sorted(PAIRS)
    pose_free = [ab for ab, hinted in calls if not hinted]
    assert len(pose_free) == 4  # the spanning tree only
    assert len(calls) == len(PAIRS)


def test_a_failed_guided_pair_is_retried_pose_free_only_when_a_photo_needs_it() -> None:
    calls: list[tuple[tuple[int, int], bool]] = []

    def match(ab: tuple[int, int], hint: np.ndarray | None = None) -> PairMatch | None:
        calls.append((ab, hint is not None))
        if hint is not None and ab in ((0, 4), (2, 4)):
            return None  # guided matching fails on these
        return _match(*ab)

    got = match_pairs_chained(PAIRS, CENTRES, match, threads=1)
    matched = {(m.i, m.j) for m in got}
    assert set(spanning_pairs(PAIRS, CENTRES)) == {(0, 1), (1, 2), (2, 3), (3, 4)}
    pose_free_retries = [ab for ab, hinted in calls if not hinted and ab in ((0, 4), (2, 4))]
    # photo 0 has a single tie (to 1) without (0, 4): retried pose-free; photo 2 and 4 have two: not
    assert pose_free_retries == [(0, 4)]
    assert matched == set(PAIRS) - {(2, 4)}

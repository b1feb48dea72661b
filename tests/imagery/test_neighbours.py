"""Fixed-radius neighbour search: exactly the pairs a brute-force search finds."""

from __future__ import annotations

import numpy as np
import pytest

from uavops.imagery.neighbours import pairs_within, pairs_within_self


def _brute(a: np.ndarray, b: np.ndarray, r: float) -> set[tuple[int, int]]:
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= r))}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("table", [True, False])
def test_same_pairs_as_brute_force(seed: int, table: bool, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from uavops.imagery import neighbours

    if not table:  # the binary-search path used when points are spread far apart for the radius
        monkeypatch.setattr(neighbours, "_MAX_CELLS_PER_POINT", -(10**9))
    rng = np.random.default_rng(seed)
    a = rng.uniform(-300, 4000, (700, 2))
    b = np.vstack([rng.uniform(-300, 4000, (600, 2)), a[:50] + rng.normal(0, 3, (50, 2))])
    r = float(rng.uniform(5, 90))
    i, j = pairs_within(a, b, r)
    got = set(zip(i.tolist(), j.tolist()))
    assert len(got) == len(i)  # no pair twice
    assert got == _brute(a, b, r)


def test_points_exactly_on_the_radius_and_far_from_the_origin() -> None:
    a = np.array([[500000.0, 4400000.0]])
    b = np.array([[500003.0, 4400004.0], [500003.0, 4400004.001], [500000.0, 4400000.0]])
    _, j = pairs_within(a, b, 5.0)
    assert sorted(j.tolist()) == [0, 2]


def test_edge_cases() -> None:
    empty = np.zeros((0, 2))
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    assert [len(x) for x in pairs_within(empty, pts, 3.0)] == [0, 0]
    assert [len(x) for x in pairs_within(pts, empty, 3.0)] == [0, 0]
    assert [len(x) for x in pairs_within(pts, pts, 0.0)] == [0, 0]
    assert pairs_within_self(pts, 1.5) == [(0, 1)]
    assert pairs_within_self(pts, 100.0) == [(0, 1), (0, 2), (1, 2)]
    same = np.zeros((4, 2))
    assert pairs_within_self(same, 0.1) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_lowest_point_rounding_below_its_cell() -> None:
    """Regression (the 500-photo benchmark): for this point and radius, (x - (x - r)) / r < 1 in
    floating point, so a one-cell margin put a neighbour cell at index -1 and numpy wrapped it."""
    x, r = 273923.3746429086, 54.03036408139768
    pts = np.array([[x, x], [x + 10.0, x], [x + 500.0, x + 500.0]])
    assert pairs_within_self(pts, r) == [(0, 1)]
    i, j = pairs_within(pts, pts[::-1], r)
    assert set(zip(i.tolist(), j.tolist())) == _brute(pts, pts[::-1], r)

"""Tile rendering: the block fast path (one photo owns a block → uint8 copy) equals the full float blend."""

from __future__ import annotations

import numpy as np
import pytest

from uavops.imagery.render import OWN_BLOCK_PX, PhotoCache, RenderPhoto, TileRenderer

W_PX, H_PX, GSD_M = 900, 600, 0.05


FIVE = [(0.0, 0.0), (30.0, 1.0), (1.0, -20.0), (31.0, -21.0), (15.0, -10.0)]


def _renderer(seed: int = 2, centres: list[tuple[float, float]] = FIVE) -> TileRenderer:
    rng = np.random.default_rng(seed)
    photos, images = [], []
    for k, (x, y) in enumerate(centres):
        yaw = np.radians(rng.normal(0, 4))
        c, s = np.cos(yaw), np.sin(yaw)
        h = (np.array([[1, 0, x], [0, 1, y], [0, 0, 1.0]]) @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1.0]])
             @ np.diag([GSD_M, -GSD_M, 1.0]) @ np.array([[1, 0, -W_PX / 2], [0, 1, -H_PX / 2], [0, 0, 1.0]]))
        corners = np.array([[0, 0, 1], [W_PX, 0, 1], [W_PX, H_PX, 1], [0, H_PX, 1]], float) @ h.T
        corners = corners[:, :2] / corners[:, 2:]
        photos.append(RenderPhoto(index=k, h_full=h, width_px=W_PX, height_px=H_PX, centre_xy=np.array([x, y]),
                                  bbox=(corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max()),
                                  gain=np.array([1.0 + 0.1 * k, 0.95, 1.05 - 0.05 * k])))
        images.append(rng.integers(0, 256, (H_PX, W_PX, 3), dtype=np.uint8))
    cache = PhotoCache(lambda i: images[i], 1 << 30)
    ring = np.array([[-20.0, 14.0], [52.0, 14.0], [52.0, -36.0], [-20.0, -36.0], [-20.0, 14.0]])
    return TileRenderer(photos, x0_m=-25.0, y1_m=18.0, gsd_m=GSD_M, reduce=1, cache=cache, blend_m=1.5,
                        coverage=[ring])


@pytest.mark.parametrize("window", [(0, 0, 1024, 1024), (512, 300, 1024, 1024), (1024, 0, 500, 700),
                                    (0, 900, 1024, 333), (600, 550, 130, 77)])
def test_block_path_equals_full_blend(window: tuple[int, int, int, int]) -> None:
    r = _renderer()
    fast, fast_mask, _ = r.render(*window)
    ref, ref_mask, _ = r.render(*window, with_labels=True)  # the straightforward float blend of every pixel
    assert np.array_equal(fast_mask, ref_mask)
    assert int(np.abs(fast.astype(int) - ref).max()) <= 1
    assert 0 < (fast_mask > 0).mean()


def test_most_blocks_skip_the_float_blend(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from uavops.imagery import render

    r = _renderer(centres=[(0.0, -10.0), (38.0, -11.0)])  # one seam across the window
    blended = np.zeros((1024, 1536), bool)
    original = r._coarse_to_pixels  # called once per blended rectangle, with its bounds

    def recording(wk, r0, r1, c0, c1):  # type: ignore[no-untyped-def]
        blended[r0:r1, c0:c1] = True
        return original(wk, r0, r1, c0, c1)

    monkeypatch.setattr(r, "_coarse_to_pixels", recording)
    _, mask, _ = r.render(0, 0, 1536, 1024)
    covered = mask > 0
    # seams and the covered area's edge only, not every covered pixel
    assert (blended & covered).sum() < 0.5 * covered.sum()
    assert render.OWN_BLOCK_PX % render.COARSE_STEP_PX == 0


@pytest.mark.parametrize("height", [1024, 1000, 130, 7])
def test_block_node_reduction_matches_a_plain_loop(height: int) -> None:
    from uavops.imagery.render import COARSE_STEP_PX, _block_nodes_reduce

    rng = np.random.default_rng(height)
    width = 900
    gh, gw = len(np.arange(0, height + 8, 8)), len(np.arange(0, width + 8, 8))
    arr = rng.random((3, gh, gw))
    nb = OWN_BLOCK_PX // COARSE_STEP_PX
    brows, bcols = -(-height // OWN_BLOCK_PX), -(-width // OWN_BLOCK_PX)
    for fn, ufunc in ((np.min, np.minimum), (np.max, np.maximum)):
        want = np.empty((3, brows, bcols))
        for br in range(brows):
            for bc in range(bcols):
                want[:, br, bc] = fn(arr[:, br * nb:min(br * nb + nb, gh - 1) + 1,
                                         bc * nb:min(bc * nb + nb, gw - 1) + 1], axis=(1, 2))
        assert np.array_equal(_block_nodes_reduce(arr, ufunc, nb, brows, bcols), want)

"""Co-registration follows the local shifts of a photo->orthomosaic post image (relief, stitching)."""

from __future__ import annotations

import cv2
import numpy as np

from uavops.damage import coreg


def _textured(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 1.5)
    return np.clip((base - base.mean()) * 4 + 128, 0, 255).astype(np.uint8)


def _roof_shifted(pre: np.ndarray, box: tuple[int, int, int, int], dx: int, dy: int) -> np.ndarray:
    """The pre image with one 'roof' drawn dx, dy px away from its footprint, as a mosaic shows it."""
    y0, y1, x0, x1 = box
    post = pre.copy()
    post[y0 + dy:y1 + dy, x0 + dx:x1 + dx] = pre[y0:y1, x0:x1]
    return post


def _roof_error(post: np.ndarray, pre_w: np.ndarray, box: tuple[int, int, int, int], dx: int, dy: int) -> float:
    y0, y1, x0, x1 = box
    sl = (slice(y0 + dy + 6, y1 + dy - 6), slice(x0 + dx + 6, x1 + dx - 6))
    return float(np.abs(post[sl].astype(np.float32) - pre_w[sl].astype(np.float32)).mean())


def test_dense_refinement_moves_a_displaced_roof_back_onto_the_pre(monkeypatch):
    pre = _textured(384, 384, 3)
    box, dx, dy = (150, 230, 140, 240), 7, -5          # a 16 m x 20 m roof displaced by ~1.7 m
    post = _roof_shifted(pre, box, dx, dy)
    ones = np.ones(pre.shape[:2], bool)
    pre_w, valid, _ = coreg.coregister(post, pre, ones, ones, georeferenced=True)
    err_dense = _roof_error(post, pre_w, box, dx, dy)
    monkeypatch.setattr(coreg, "DENSE_REFINE", False)
    pre_b, _, _ = coreg.coregister(post, pre, ones, ones, georeferenced=True)
    err_block = _roof_error(post, pre_b, box, dx, dy)
    assert err_block > 40.0, err_block          # block phase correlation alone leaves the roof misplaced
    assert err_dense < 0.35 * err_block, (err_dense, err_block)
    assert valid[box[0]:box[1], box[2]:box[3]].all()


def test_dense_refinement_cannot_invent_a_roof_that_is_gone():
    """Where the post shows something new (rubble for a roof) no bounded, smooth shift makes the pre match."""
    pre = _textured(384, 384, 5)
    post = pre.copy()
    y0, y1, x0, x1 = 150, 230, 140, 240
    post[y0:y1, x0:x1] = _textured(y1 - y0, x1 - x0, 99)
    ones = np.ones(pre.shape[:2], bool)
    pre_w, _, _ = coreg.coregister(post, pre, ones, ones, georeferenced=True)
    inner = (slice(y0 + 8, y1 - 8), slice(x0 + 8, x1 - 8))
    outer_err = float(np.abs(post[:100].astype(np.float32) - pre_w[:100].astype(np.float32)).mean())
    inner_err = float(np.abs(post[inner].astype(np.float32) - pre_w[inner].astype(np.float32)).mean())
    assert outer_err < 5.0 and inner_err > 40.0, (outer_err, inner_err)

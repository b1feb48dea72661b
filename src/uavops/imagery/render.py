"""Rendering output tiles: warping photos onto the ground grid, seams and feathered blending.

Seams: every ground point is taken mainly from the photo whose centre is nearest (a Voronoi
partition of the ground by photo centres — the most nadir view, so the least lean of trees and
buildings). Blending: across each seam the weights change smoothly over ``blend_m`` metres (a
soft-max of the distances), and every photo's weight fades to zero at its own border, so there is
no step in brightness or colour at a seam and no hard photo edge. Exposure gains are applied
before blending.

Memory: only photos whose weight is non-zero in a tile are warped, only over the part of the tile
they cover, and decoded photos come from a bounded cache, so the cost of a tile does not grow with
the number of photos in the survey.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["RenderPhoto", "TileRenderer", "PhotoCache"]

COARSE_STEP_PX = 8
# blocks (a multiple of COARSE_STEP_PX) that one photo may own outright, skipping the float blend
OWN_BLOCK_PX = 128


def _block_nodes_reduce(arr: np.ndarray, ufunc: np.ufunc, nb: int, brows: int, bcols: int) -> np.ndarray:
    """``ufunc`` (np.minimum / np.maximum) over the coarse nodes each block interpolates from.

    Block b spans nodes b·nb … b·nb+nb (the last node is shared with the next block); ``arr`` is
    K × nodes down × nodes across, with at most brows·nb+1 × bcols·nb+1 nodes.
    """
    out = arr
    for axis, n_blocks in ((1, brows), (2, bcols)):
        starts = np.arange(n_blocks) * nb
        red = ufunc.reduceat(out, starts, axis=axis)  # nodes start … next start-1 (last: to the end)
        if n_blocks > 1:  # add each block's far node, the next block's first
            idx = [slice(None)] * 3
            idx[axis] = slice(0, n_blocks - 1)
            first_of_next = np.take(out, starts[1:], axis=axis)
            red[tuple(idx)] = ufunc(red[tuple(idx)], first_of_next)
        out = red
    return out


def _runs(flags: np.ndarray, block_px: int, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Pixel rectangles (y0, y1, x0, x1) of the horizontal runs of set blocks, row by row."""
    out = []
    for br in range(flags.shape[0]):
        row = flags[br]
        if not row.any():
            continue
        edges = np.flatnonzero(np.diff(np.r_[0, row.view(np.int8), 0]))
        for b0, b1 in zip(edges[::2], edges[1::2]):
            out.append((br * block_px, min(height, (br + 1) * block_px), int(b0) * block_px,
                        min(width, int(b1) * block_px)))
    return out


@dataclass
class RenderPhoto:
    """What the renderer needs of one adjusted photo."""

    index: int
    h_full: np.ndarray  # full-resolution pixel -> local ground metres
    width_px: int  # full resolution
    height_px: int
    centre_xy: np.ndarray  # ground position of the image centre (local metres)
    bbox: tuple[float, float, float, float]  # ground bounding box (xmin, ymin, xmax, ymax)
    gain: np.ndarray  # per channel (BGR)


class PhotoCache:
    """Decoded photos at the render resolution, evicting the least recently used past a byte budget.

    Thread-safe: tiles are rendered by several threads; a photo wanted by two of them at once is
    decoded once (the second waits for the first) and decoding never holds the cache-wide lock.
    """

    def __init__(self, loader: Callable[[int], np.ndarray], budget_bytes: int) -> None:
        self._loader = loader
        self._budget = budget_bytes
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self.loads = 0
        self._lock = threading.Lock()
        self._loading: dict[int, threading.Lock] = {}

    def put(self, index: int, img: np.ndarray) -> None:
        with self._lock:
            self._put(index, img)

    def _put(self, index: int, img: np.ndarray) -> None:
        if index in self._items:
            return
        self._items[index] = img
        self._bytes += img.nbytes
        while self._bytes > self._budget and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes

    def get(self, index: int) -> np.ndarray:
        with self._lock:
            img = self._items.get(index)
            if img is not None:
                self._items.move_to_end(index)
                return img
            gate = self._loading.setdefault(index, threading.Lock())
        with gate:
            with self._lock:
                img = self._items.get(index)
            if img is None:
                img = self._loader(index)
                with self._lock:
                    self.loads += 1
                    self._put(index, img)
        return img

    def drop(self, index: int) -> None:
        with self._lock:
            img = self._items.pop(index, None)
            if img is not None:
                self._bytes -= img.nbytes

    def take_over(self, other: PhotoCache, renumber: dict[int, int]) -> None:
        """Adopt the decoded photos of ``other`` under new indices (photos dropped before rendering)."""
        with other._lock:
            items = list(other._items.items())
            other._items.clear()
            other._bytes = 0
        for old, img in items:
            if old in renumber:
                self.put(renumber[old], img)


class TileRenderer:
    """Renders any window of the output grid.

    Parameters
    ----------
    photos : adjusted photos.
    x0_m, y1_m : local ground coordinates of the output grid's top-left corner.
    gsd_m : output pixel size in metres.
    reduce : the render resolution of the photos (1 = full, 2 = half …).
    cache : decoded photos at that resolution.
    blend_m : width of the soft transition across seams.
    coverage : polygon rings (local metres) of the area covered; outside it the mask is 0.
    """

    def __init__(self, photos: list[RenderPhoto], x0_m: float, y1_m: float, gsd_m: float, reduce: int,
                 cache: PhotoCache, blend_m: float, coverage: list[np.ndarray]) -> None:
        self.photos = photos
        self.x0, self.y1, self.gsd, self.reduce = x0_m, y1_m, gsd_m, reduce
        self.cache = cache
        self.tau = max(blend_m, 2 * gsd_m) / 2.0 if blend_m > 0 else 1e-4
        self.coverage = coverage
        s = float(reduce)
        # reduced pixel -> full pixel: full = (red + 0.5) * s - 0.5
        self._red_to_full = np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1.0]])
        self._inv = [np.linalg.inv(p.h_full) for p in photos]
        self._bboxes = np.array([p.bbox for p in photos]) if photos else np.zeros((0, 4))

    def _tile_to_ground(self, col0: int, row0: int) -> np.ndarray:
        g = self.gsd
        return np.array([[g, 0, self.x0 + (col0 + 0.5) * g], [0, -g, self.y1 - (row0 + 0.5) * g], [0, 0, 1.0]])

    def candidates(self, col0: int, row0: int, width: int, height: int) -> list[int]:
        g = self.gsd
        xmin, xmax = self.x0 + col0 * g, self.x0 + (col0 + width) * g
        ymax, ymin = self.y1 - row0 * g, self.y1 - (row0 + height) * g
        b = self._bboxes
        if not len(b):
            return []
        hit = (b[:, 0] < xmax) & (b[:, 2] > xmin) & (b[:, 1] < ymax) & (b[:, 3] > ymin)
        return [int(k) for k in np.flatnonzero(hit)]

    def weights_coarse(self, col0: int, row0: int, width: int, height: int,
                       cands: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised weights (K×gh×gw) on a coarse grid, plus the grid's pixel coordinates."""
        step = COARSE_STEP_PX
        gx = np.arange(0, width + step, step, dtype=np.float64)
        gy = np.arange(0, height + step, step, dtype=np.float64)
        gx[-1] = min(gx[-1], width - 1)
        gy[-1] = min(gy[-1], height - 1)
        xx, yy = np.meshgrid(gx, gy)
        a = self._tile_to_ground(col0, row0)
        ex = a[0, 0] * xx + a[0, 2]
        ny = a[1, 1] * yy + a[1, 2]
        scores = np.full((len(cands),) + xx.shape, -np.inf)
        taper = np.zeros((len(cands),) + xx.shape)
        for k, idx in enumerate(cands):
            p = self.photos[idx]
            hinv = self._inv[idx]
            den = hinv[2, 0] * ex + hinv[2, 1] * ny + hinv[2, 2]
            u = (hinv[0, 0] * ex + hinv[0, 1] * ny + hinv[0, 2]) / den
            v = (hinv[1, 0] * ex + hinv[1, 1] * ny + hinv[1, 2]) / den
            margin = 0.02 * max(p.width_px, p.height_px)
            edge = np.minimum.reduce([u + 0.5, p.width_px - 0.5 - u, v + 0.5, p.height_px - 0.5 - v])
            t = np.clip(edge / margin, 0.0, 1.0)
            taper[k] = t * t * (3 - 2 * t)
            scores[k] = -np.hypot(ex - p.centre_xy[0], ny - p.centre_xy[1])
        scores = np.where(taper > 0, scores, -np.inf)
        best = scores.max(axis=0)
        best = np.where(np.isfinite(best), best, 0.0)
        w = np.exp(np.clip((scores - best) / self.tau, -60, 0)) * taper
        # beyond the blending band (weight < 1 %, about 1.15 blend_m from the seam) a photo contributes
        # nothing: it is not warped there, and the blocks there are copied from one photo
        w[w < 1e-2] = 0.0
        total = w.sum(axis=0)
        w = np.where(total > 0, w / np.maximum(total, 1e-12), 0.0)
        return w, gx, gy

    def render(self, col0: int, row0: int, width: int, height: int,
               with_labels: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(BGR uint8 image, uint8 mask 0/255, optional label map of the dominant photo) for a window.

        Safe to call from several threads at once (tiles are independent; the cache locks itself).
        Every per-pixel step is one OpenCV/numpy call over a whole array — no boolean fancy
        indexing, which costs more than the warp itself on a 1 MP tile.
        """
        if not with_labels:
            out, mask = self._render_by_blocks(col0, row0, width, height)
            return out, mask, None
        # the plain float blend of every pixel, keeping which photo weighs most where (the block path
        # above is this, minus the float work where one photo owns a block)
        acc = np.zeros((height, width, 3), np.float32)
        wsum = np.zeros((height, width), np.float32)
        labels = np.full((height, width), -1, np.int32)
        best_w = np.zeros((height, width), np.float32)
        cands = self.candidates(col0, row0, width, height)
        if cands:
            wc, gx, gy = self.weights_coarse(col0, row0, width, height, cands)
            a = self._tile_to_ground(col0, row0)
            for k, idx in enumerate(cands):
                wk = wc[k]
                part = self._warp_where_weighted(idx, wk, gx, gy, a, width, height)
                if part is None:
                    continue
                r0, r1, c0, c1, warped = part
                gain = self.photos[idx].gain.astype(np.float32)
                # full-resolution weight for the sub-window, interpolated from the coarse grid
                wfull = self._coarse_to_pixels(wk, r0, r1, c0, c1)
                gained = cv2.multiply(warped, (float(gain[0]), float(gain[1]), float(gain[2]), 0.0), dtype=cv2.CV_32F)
                cv2.accumulateProduct(gained, cv2.cvtColor(wfull, cv2.COLOR_GRAY2BGR), acc[r0:r1, c0:c1])
                wsum[r0:r1, c0:c1] += wfull
                sub_b = best_w[r0:r1, c0:c1]
                better = wfull > sub_b
                sub_b[better] = wfull[better]
                labels[r0:r1, c0:c1][better] = idx
        mask = self._coverage_mask(col0, row0, width, height)
        mask &= (wsum > 1e-6).view(np.uint8)
        inv = np.float32(1.0) / np.maximum(wsum, np.float32(1e-6))
        out = cv2.multiply(acc, cv2.cvtColor(inv, cv2.COLOR_GRAY2BGR), dtype=cv2.CV_8U)  # rounds, saturates
        out = cv2.bitwise_and(out, out, mask=mask)
        return out, mask * np.uint8(255), labels

    def _warp_where_weighted(self, idx: int, wk: np.ndarray, gx: np.ndarray, gy: np.ndarray, a: np.ndarray,
                             width: int, height: int) -> tuple[int, int, int, int, np.ndarray] | None:
        """Photo ``idx`` warped onto the part of the window where its coarse weight is non-zero
        (one coarse step of margin, so bilinear weights reach zero inside it): (r0, r1, c0, c1, pixels)."""
        if wk.max() <= 0.0:
            return None
        rows, cols = np.nonzero(wk > 0)
        r0 = max(0, int(gy[max(rows.min() - 1, 0)]))
        r1 = min(height, int(gy[min(rows.max() + 1, len(gy) - 1)]) + 1)
        c0 = max(0, int(gx[max(cols.min() - 1, 0)]))
        c1 = min(width, int(gx[min(cols.max() + 1, len(gx) - 1)]) + 1)
        if r1 <= r0 or c1 <= c0:
            return None
        img = self.cache.get(self.photos[idx].index)
        shift = np.array([[1.0, 0, c0], [0, 1.0, r0], [0, 0, 1.0]])
        m = np.linalg.inv(self._red_to_full) @ self._inv[idx] @ a @ shift
        warped = cv2.warpPerspective(img, m, (c1 - c0, r1 - r0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REPLICATE)
        return r0, r1, c0, c1, warped

    def _render_by_blocks(self, col0: int, row0: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """The window in blocks of ``OWN_BLOCK_PX``: a block that one photo owns entirely (weight 1 at
        every node of the coarse grid around it, so every other photo's weight is 0) is that photo's
        gained pixels, written straight as uint8; only blocks across a seam or the covered area's
        edge are blended in float. Most of a survey's area is away from seams, so this skips the
        float arithmetic (4 full-size passes) for most pixels; the result is the same to the last
        rounding step.
        """
        out = np.zeros((height, width, 3), np.uint8)
        covered = np.zeros((height, width), np.uint8)
        cands = self.candidates(col0, row0, width, height)
        if cands:
            wc, gx, gy = self.weights_coarse(col0, row0, width, height, cands)
            a = self._tile_to_ground(col0, row0)
            nb = OWN_BLOCK_PX // COARSE_STEP_PX  # coarse steps per block
            brows, bcols = -(-height // OWN_BLOCK_PX), -(-width // OWN_BLOCK_PX)
            owns = _block_nodes_reduce(wc, np.minimum, nb, brows, bcols) >= 1.0  # K × brows × bcols
            touches = _block_nodes_reduce(wc, np.maximum, nb, brows, bcols) > 0.0
            mixed = touches.any(axis=0) & ~owns.any(axis=0)
            # across a seam inside the covered area the weights sum to 1 at every node, so they do at
            # every pixel (bilinear interpolation keeps a partition of unity): no normalisation there;
            # only blocks at the covered area's edge, where the sum falls to 0, divide by it
            whole = _block_nodes_reduce(wc.sum(axis=0, keepdims=True), np.minimum, nb, brows, bcols)[0] >= 1.0 - 1e-6
            seam, edge = mixed & whole, mixed & ~whole
            acc = np.zeros((height, width, 3), np.float32) if mixed.any() else None
            wsum = np.zeros((height, width), np.float32) if edge.any() else None
            for k, idx in enumerate(cands):
                wk = wc[k]
                own_k, mixed_k = owns[k], mixed & touches[k]
                if not own_k.any() and not mixed_k.any():
                    continue
                part = self._warp_where_weighted(idx, wk, gx, gy, a, width, height)
                if part is None:
                    continue
                r0, r1, c0, c1, warped = part
                g = self.photos[idx].gain.astype(np.float32)
                gain = (float(g[0]), float(g[1]), float(g[2]), 0.0)
                for y0, y1, x0, x1 in _runs(own_k, OWN_BLOCK_PX, height, width):
                    y0, y1, x0, x1 = max(y0, r0), min(y1, r1), max(x0, c0), min(x1, c1)
                    if y1 > y0 and x1 > x0:
                        out[y0:y1, x0:x1] = cv2.multiply(warped[y0 - r0:y1 - r0, x0 - c0:x1 - c0], gain, dtype=cv2.CV_8U)
                        covered[y0:y1, x0:x1] = 1
                if acc is None:
                    continue
                for blocks, weights in ((seam & touches[k], None), (edge & touches[k], wsum)):
                    for y0, y1, x0, x1 in _runs(blocks, OWN_BLOCK_PX, height, width):
                        y0, y1, x0, x1 = max(y0, r0), min(y1, r1), max(x0, c0), min(x1, c1)
                        if y1 <= y0 or x1 <= x0:
                            continue
                        wfull = self._coarse_to_pixels(wk, y0, y1, x0, x1)
                        gained = cv2.multiply(warped[y0 - r0:y1 - r0, x0 - c0:x1 - c0], gain, dtype=cv2.CV_32F)
                        cv2.accumulateProduct(gained, cv2.cvtColor(wfull, cv2.COLOR_GRAY2BGR), acc[y0:y1, x0:x1])
                        if weights is not None:
                            weights[y0:y1, x0:x1] += wfull
            if acc is not None:
                for y0, y1, x0, x1 in _runs(seam, OWN_BLOCK_PX, height, width):
                    out[y0:y1, x0:x1] = cv2.convertScaleAbs(acc[y0:y1, x0:x1])  # rounds, saturates
                    covered[y0:y1, x0:x1] = 1
            if acc is not None and wsum is not None:
                for y0, y1, x0, x1 in _runs(edge, OWN_BLOCK_PX, height, width):
                    ws = wsum[y0:y1, x0:x1]
                    inv = np.float32(1.0) / np.maximum(ws, np.float32(1e-6))
                    out[y0:y1, x0:x1] = cv2.multiply(acc[y0:y1, x0:x1], cv2.cvtColor(inv, cv2.COLOR_GRAY2BGR),
                                                     dtype=cv2.CV_8U)
                    covered[y0:y1, x0:x1] = (ws > 1e-6).view(np.uint8)
        mask = self._coverage_mask(col0, row0, width, height) & covered
        if cv2.countNonZero(mask) < mask.size:  # only windows with uncovered pixels need them blacked out
            out = cv2.bitwise_and(out, out, mask=mask)
        return out, mask * np.uint8(255)

    @staticmethod
    def _coarse_to_pixels(wk: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Bilinear interpolation of the coarse weight grid (node k at pixel k·step) over rows r0:r1,
        cols c0:c1 — an affine warp of the small grid, so no per-pixel coordinate maps are built."""
        s = 1.0 / COARSE_STEP_PX
        m = np.array([[s, 0.0, c0 * s], [0.0, s, r0 * s]])
        return cv2.warpAffine(wk.astype(np.float32), m, (c1 - c0, r1 - r0),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)

    def _coverage_mask(self, col0: int, row0: int, width: int, height: int) -> np.ndarray:
        """uint8 0/1 mask of the covered area."""
        m = np.zeros((height, width), np.uint8)
        rings = []
        for ring in self.coverage:
            px = (ring[:, 0] - self.x0) / self.gsd - 0.5 - col0
            py = (self.y1 - ring[:, 1]) / self.gsd - 0.5 - row0
            rings.append(np.round(np.stack([px, py], axis=1) * 16).astype(np.int32))
        if rings:
            cv2.fillPoly(m, rings, 1, lineType=cv2.LINE_8, shift=4)
        return m

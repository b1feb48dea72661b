"""Rendering the mosaic window by window into a Cloud-Optimized GeoTIFF.

Each window (2×2 output tiles) is rendered by a small thread pool (OpenCV and numpy release the
GIL), and in the same worker its tiles are JPEG-encoded by OpenCV (libjpeg-turbo), its mask tiles
DEFLATE-compressed, and its half- and quarter-resolution versions averaged over valid pixels only
(so the edges of the covered area do not darken in the overviews). The main thread appends the
encoded tiles to a staging file beside the target; the quarter-resolution pixels go into one small
raster from which the smaller overviews are made at the end. Nothing full-resolution is ever read
back, and memory stays at a few windows plus that 1/16-size raster.

The staging file is then laid out as a COG by :mod:`.tiff_layout` (GDAL's own COG layout) into a
temporary file that replaces the target only when complete; the staging file is always removed.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import MosaicError
from ..files import atomic_path
from .tiff_layout import GeoRef, LevelTiles, write_cog_layout

__all__ = ["BLOCK_PX", "GeoRef", "iter_windows", "overview_count", "write_cog"]

BLOCK_PX = 512
WINDOW_PX = 2 * BLOCK_PX  # one window = 2×2 tiles = 1 tile of the first overview
# the quarter-resolution raster kept for the smaller overviews moves to a disk-backed array past this
_IN_MEMORY_QUARTER_BYTES = 512 << 20


def iter_windows(width: int, height: int, step: int, strip_rows: int = 1) -> Iterator[tuple[int, int, int, int]]:
    """(col0, row0, w, h) windows covering the raster.

    ``strip_rows`` > 1 goes through strips of that many window rows, column by column inside a
    strip: consecutive windows then need mostly the same photos, so a bounded photo cache decodes
    each photo about once per strip it touches instead of once per window row.
    """
    for strip0 in range(0, height, step * strip_rows):
        strip1 = min(height, strip0 + step * strip_rows)
        for col0 in range(0, width, step):
            for row0 in range(strip0, strip1, step):
                yield col0, row0, min(step, width - col0), min(step, height - row0)


def overview_count(width: int, height: int) -> int:
    """Overview levels until the smallest fits in one block (what GDAL's COG driver picks)."""
    n = 0
    while max(width, height) > BLOCK_PX * (1 << n):
        n += 1
    return n


def half_valid(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2× reduction averaging only valid pixels (mask > 0); odd sizes round up."""
    h, w = mask.shape
    if h % 2 == 0 and w % 2 == 0 and cv2.countNonZero(mask) == h * w:  # all valid (most of a mosaic): a plain 2x2 mean
        return (cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
                np.full((h // 2, w // 2), 255, np.uint8))
    valid = (mask > 0).view(np.uint8)
    src = cv2.bitwise_and(img, img, mask=valid)
    m = valid
    if w % 2 or h % 2:  # pad with invalid pixels so every output pixel averages exactly 2×2
        src = cv2.copyMakeBorder(src, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
        m = cv2.copyMakeBorder(m, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
    size = (src.shape[1] // 2, src.shape[0] // 2)
    img_sum = cv2.resize(src, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    frac = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    inv = np.float32(1.0) / np.maximum(frac, np.float32(0.25))
    half = cv2.multiply(img_sum, cv2.cvtColor(inv, cv2.COLOR_GRAY2BGR), dtype=cv2.CV_8U)
    return half, (frac > 0).view(np.uint8) * np.uint8(255)


class _TileEncoder:
    """JPEG image tiles and DEFLATE 1-bit mask tiles, always full 512×512 (TIFF tiles are)."""

    def __init__(self, jpeg_quality: int) -> None:
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality),
                       cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
        full = np.full((BLOCK_PX, BLOCK_PX // 8), 255, np.uint8)
        self._all_valid = zlib.compress(full.tobytes(), 6)
        self._none_valid = zlib.compress(np.zeros_like(full).tobytes(), 6)

    def image(self, bgr: np.ndarray) -> bytes:
        h, w = bgr.shape[:2]
        if h != BLOCK_PX or w != BLOCK_PX:
            pad = np.zeros((BLOCK_PX, BLOCK_PX, 3), np.uint8)
            pad[:h, :w] = bgr
            bgr = pad
        ok, buf = cv2.imencode(".jpg", bgr, self.params)
        if not ok:
            raise MosaicError("OpenCV could not JPEG-encode a mosaic tile.")
        return buf.tobytes()

    def mask(self, mask: np.ndarray) -> bytes:
        h, w = mask.shape
        if h == BLOCK_PX and w == BLOCK_PX:
            n_valid = cv2.countNonZero(mask)
            if n_valid == h * w:
                return self._all_valid
            if n_valid == 0:
                return self._none_valid
        bits = np.zeros((BLOCK_PX, BLOCK_PX), np.uint8)
        bits[:h, :w] = mask > 0
        return zlib.compress(np.packbits(bits, axis=1).tobytes(), 6)

    def tiles(self, img: np.ndarray, mask: np.ndarray) -> list[tuple[int, int, bytes, bytes]]:
        """(row, col) of each tile inside the array, with its encoded image and mask."""
        out = []
        for r0 in range(0, mask.shape[0], BLOCK_PX):
            for c0 in range(0, mask.shape[1], BLOCK_PX):
                out.append((r0 // BLOCK_PX, c0 // BLOCK_PX,
                            self.image(img[r0:r0 + BLOCK_PX, c0:c0 + BLOCK_PX]),
                            self.mask(mask[r0:r0 + BLOCK_PX, c0:c0 + BLOCK_PX])))
        return out


@dataclass
class _Window:
    col0: int
    row0: int
    full: list[tuple[int, int, bytes, bytes]]
    half: list[tuple[int, int, bytes, bytes]]
    quarter: tuple[np.ndarray, np.ndarray] | None


class _Level:
    """Index of one level's tiles in the staging file."""

    def __init__(self, width: int, height: int) -> None:
        shape = (-(-height // BLOCK_PX), -(-width // BLOCK_PX))
        self.width, self.height = width, height
        self.img_off = np.zeros(shape, np.int64)
        self.img_len = np.zeros(shape, np.int64)
        self.mask_off = np.zeros(shape, np.int64)
        self.mask_len = np.zeros(shape, np.int64)
        self.filled = np.zeros(shape, bool)

    def tiles(self) -> LevelTiles:
        if not self.filled.all():
            raise MosaicError("Internal error: a mosaic tile was never rendered.")
        return LevelTiles(self.width, self.height, self.img_off, self.img_len, self.mask_off, self.mask_len)


class _Staging:
    """Append-only file of encoded tiles."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pos = 0

    def put(self, level: _Level, tiles: list[tuple[int, int, bytes, bytes]], row0: int, col0: int) -> None:
        data = bytearray()
        for r, c, img, msk in tiles:
            rr, cc = row0 + r, col0 + c
            level.img_off[rr, cc], level.img_len[rr, cc] = self.pos + len(data), len(img)
            data += img
            level.mask_off[rr, cc], level.mask_len[rr, cc] = self.pos + len(data), len(msk)
            data += msk
            level.filled[rr, cc] = True
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.pos += len(data)


def write_cog(target: Path, width: int, height: int, geo: GeoRef,
              render: Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]],
              windows: list[tuple[int, int, int, int]], on_window: Callable[[], None] | None = None,
              on_stage: Callable[[str], None] | None = None, jpeg_quality: int = 90, threads: int = 2) -> None:
    """Render every window and write ``target`` as a JPEG COG with an internal mask and overviews.

    ``render(col0, row0, w, h)`` returns (BGR uint8 h×w×3, mask uint8 h×w); windows must be the
    :data:`WINDOW_PX` grid (``iter_windows(width, height, WINDOW_PX, …)``) in any order. Nothing is
    left at ``target`` (or beside it) unless the whole file was written.

    Raises
    ------
    MosaicError
        The file could not be written (disk full, permissions).
    """
    n_ovr = overview_count(width, height)
    encoder = _TileEncoder(jpeg_quality)
    levels = [_Level(width, height)]
    for k in range(1, n_ovr + 1):
        levels.append(_Level(-(-width // (1 << k)), -(-height // (1 << k))))
    try:
        with atomic_path(target) as final_tmp:
            fd, staging_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tiles", dir=target.parent)
            try:
                quarter = _quarter_raster(levels, staging_name) if n_ovr >= 2 else None
                staging = _Staging(fd)

                def job(col0: int, row0: int, w: int, h: int) -> _Window:
                    if col0 % WINDOW_PX or row0 % WINDOW_PX:
                        raise ValueError("windows must be aligned on the window grid")
                    img, mask = render(col0, row0, w, h)
                    full = encoder.tiles(img, mask)
                    half_t: list[tuple[int, int, bytes, bytes]] = []
                    quarter_px = None
                    if n_ovr >= 1:
                        half, half_mask = half_valid(img, mask)
                        half_t = encoder.tiles(half, half_mask)
                        if n_ovr >= 2:
                            quarter_px = half_valid(half, half_mask)
                    return _Window(col0, row0, full, half_t, quarter_px)

                def store(win: _Window) -> None:
                    staging.put(levels[0], win.full, win.row0 // BLOCK_PX, win.col0 // BLOCK_PX)
                    if win.half:
                        staging.put(levels[1], win.half, win.row0 // WINDOW_PX, win.col0 // WINDOW_PX)
                    if win.quarter is not None and quarter is not None:
                        q_img, q_mask = win.quarter
                        r, c = win.row0 // 4, win.col0 // 4
                        quarter[0][r:r + q_mask.shape[0], c:c + q_mask.shape[1]] = q_img
                        quarter[1][r:r + q_mask.shape[0], c:c + q_mask.shape[1]] = q_mask
                    if on_window:
                        on_window()

                with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
                    pending: deque[Future[_Window]] = deque()
                    try:
                        for spec in windows:
                            pending.append(pool.submit(job, *spec))
                            # a few windows in flight keep every core busy without holding many in memory
                            if len(pending) > 2 * max(1, threads):
                                store(pending.popleft().result())
                        while pending:
                            store(pending.popleft().result())
                    except BaseException:
                        for fut in pending:
                            fut.cancel()
                        raise
                    if on_stage:
                        on_stage("overviews")
                    if quarter is not None:
                        _smaller_levels(levels, quarter, encoder, staging, pool)
                write_cog_layout(final_tmp, fd, [lv.tiles() for lv in levels], BLOCK_PX, geo)
            finally:
                os.close(fd)
                os.unlink(staging_name)
    except OSError as exc:
        raise MosaicError(f"The mosaic could not be written to {target} ({exc.strerror or exc}); check free disk "
                          "space and that the output folder is writable.") from None


def _quarter_raster(levels: list[_Level], staging_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The 1/4-resolution image and mask, in memory or (when large) in a file removed on close."""
    w, h = levels[2].width, levels[2].height
    if w * h * 4 <= _IN_MEMORY_QUARTER_BYTES:
        return np.zeros((h, w, 3), np.uint8), np.zeros((h, w), np.uint8)
    backing = tempfile.TemporaryFile(dir=os.path.dirname(staging_name))  # noqa: SIM115 - the memmap keeps it open
    backing.truncate(w * h * 4)
    img = np.memmap(backing, np.uint8, "r+", 0, (h, w, 3))
    mask = np.memmap(backing, np.uint8, "r+", w * h * 3, (h, w))
    return img, mask


def _smaller_levels(levels: list[_Level], quarter: tuple[np.ndarray, np.ndarray], encoder: _TileEncoder,
                    staging: _Staging, pool: ThreadPoolExecutor) -> None:
    """Overview levels 2, 3 … from the quarter-resolution raster, each halved from the one before."""
    img, mask = quarter
    for k in range(2, len(levels)):
        if k > 2:
            img, mask = _half_in_strips(img, mask)
        rows = range(0, mask.shape[0], BLOCK_PX)
        strips = pool.map(lambda r0, im=img, ms=mask: (r0, encoder.tiles(im[r0:r0 + BLOCK_PX], ms[r0:r0 + BLOCK_PX])),
                          rows)
        for r0, tiles in strips:
            staging.put(levels[k], tiles, r0 // BLOCK_PX, 0)


def _half_in_strips(img: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`half_valid` strip by strip, so a disk-backed raster is never loaded whole."""
    h, w = mask.shape
    out_img = np.zeros(((h + 1) // 2, (w + 1) // 2, 3), np.uint8)
    out_mask = np.zeros(((h + 1) // 2, (w + 1) // 2), np.uint8)
    for r0 in range(0, h, 2 * BLOCK_PX):
        part_img, part_mask = half_valid(np.asarray(img[r0:r0 + 2 * BLOCK_PX]), np.asarray(mask[r0:r0 + 2 * BLOCK_PX]))
        out_img[r0 // 2:r0 // 2 + part_mask.shape[0]] = part_img
        out_mask[r0 // 2:r0 // 2 + part_mask.shape[0]] = part_mask
    return out_img, out_mask

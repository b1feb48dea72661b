"""Writing the mosaic as a Cloud-Optimized GeoTIFF with rasterio (GDAL's COG driver).

The COG driver can only copy a finished dataset, so tiles are first written one window at a time
into a temporary tiled GeoTIFF beside the target (RGB + an internal mask band), with its
half-resolution level in an external ``.ovr`` GeoTIFF (GDAL's standard external-overview file, whose
own internal overviews serve as the smaller levels), and then it is copied into the COG
(JPEG-compressed RGB in YCbCr, DEFLATE mask, 512-px tiles, those overviews), which replaces the
target only when complete.

Speed: windows are rendered by a small thread pool (OpenCV and numpy release the GIL) and written
in order as they finish. Each window's half-resolution version is averaged (over valid pixels only,
so edges do not darken) while it is still in memory, so the full-resolution level is never read
back to build overviews; letting the COG driver build them instead costs 2-3x the time of the
whole write on a 86 MP mosaic. Memory stays at a few windows, whatever the mosaic's size.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import MosaicError
from ..files import atomic_path

__all__ = ["write_cog", "iter_windows"]

BLOCK_PX = 512


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


def write_cog(target: Path, width: int, height: int, transform: object, crs: object,
              render: Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]],
              windows: list[tuple[int, int, int, int]], on_window: Callable[[], None] | None = None,
              on_stage: Callable[[str], None] | None = None, jpeg_quality: int = 90, threads: int = 2) -> None:
    """Render every window and write ``target`` as a COG.

    ``render(col0, row0, w, h)`` returns (RGB uint8 h×w×3, mask uint8 h×w). Nothing is left at
    ``target`` (or beside it) unless the whole file was written.

    Raises
    ------
    MosaicError
        GDAL could not write the file (disk full, permissions).
    """
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as rio_copy

    env = dict(GDAL_PAM_ENABLED="NO", GDAL_TIFF_INTERNAL_MASK="YES", GDAL_NUM_THREADS="ALL_CPUS",
               GDAL_CACHEMAX=256)
    try:
        with rasterio.Env(**env), atomic_path(target) as final_tmp:
            stage = final_tmp.with_name(final_tmp.name + ".stage.tif")
            try:
                # the staging file is read once, right away: compress it only when it would be big
                big = width * height * 3 > 1_500_000_000
                profile = dict(driver="GTiff", width=width, height=height, count=3, dtype="uint8", crs=crs,
                               transform=transform, tiled=True, blockxsize=BLOCK_PX, blockysize=BLOCK_PX,
                               compress="ZSTD" if big else "NONE", bigtiff="IF_SAFER", photometric="RGB",
                               interleave="band")
                if big:
                    profile["zstd_level"] = 1
                ovr = Path(str(stage) + ".ovr")
                half = dict(profile, width=(width + 1) // 2, height=(height + 1) // 2,
                            transform=transform @ Affine.scale(2))  # type: ignore[operator]
                job = _HalfRender(render)
                with rasterio.open(stage, "w", **profile) as dst, rasterio.open(ovr, "w", **half) as dst_half, \
                        ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
                    pending: deque[tuple[tuple[int, int, int, int], Future[_Window]]] = deque()
                    try:
                        for win_spec in windows:
                            pending.append((win_spec, pool.submit(job, *win_spec)))
                            # a few windows in flight keep both cores busy without holding many in memory
                            if len(pending) > 2 * max(1, threads):
                                _write_window(dst, dst_half, *pending.popleft(), on_window)
                        while pending:
                            _write_window(dst, dst_half, *pending.popleft(), on_window)
                    except BaseException:
                        for _, fut in pending:
                            fut.cancel()
                        raise
                if on_stage:
                    on_stage("overviews")
                factors = _overview_factors((width + 1) // 2, (height + 1) // 2)
                if factors:
                    with rasterio.open(ovr, "r+") as dst_half:
                        dst_half.build_overviews(factors, Resampling.average)
                rio_copy(stage, final_tmp, driver="COG", COMPRESS="JPEG", QUALITY=jpeg_quality, BLOCKSIZE=BLOCK_PX,
                         OVERVIEWS="FORCE_USE_EXISTING", NUM_THREADS="ALL_CPUS", BIGTIFF="IF_SAFER")
            finally:
                for leftover in (stage, Path(str(stage) + ".msk"), Path(str(stage) + ".ovr")):
                    if leftover.exists():
                        os.unlink(leftover)
    except rasterio.errors.RasterioError as exc:
        raise MosaicError(f"The mosaic could not be written to {target} ({exc}); check free disk space "
                          "and that the output folder is writable.") from None


_Window = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class _HalfRender:
    """Renders a window and averages it down 2x over its valid pixels (runs in a worker thread)."""

    def __init__(self, render: Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]]) -> None:
        self.render = render

    def __call__(self, col0: int, row0: int, w: int, h: int) -> _Window:
        import cv2

        rgb, mask = self.render(col0, row0, w, h)
        rgb = np.ascontiguousarray(rgb)
        valid = (mask > 0).view(np.uint8)
        src = cv2.bitwise_and(rgb, rgb, mask=valid)
        m = valid
        if w % 2 or h % 2:  # pad with invalid pixels so every output pixel averages exactly 2x2
            src = cv2.copyMakeBorder(src, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
            m = cv2.copyMakeBorder(m, 0, h % 2, 0, w % 2, cv2.BORDER_CONSTANT, value=0)
        size = (src.shape[1] // 2, src.shape[0] // 2)
        rgb_sum = cv2.resize(src, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        frac = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        inv = np.float32(1.0) / np.maximum(frac, np.float32(0.25))
        half = cv2.multiply(rgb_sum, cv2.cvtColor(inv, cv2.COLOR_GRAY2RGB), dtype=cv2.CV_8U)
        half_mask = (frac > 0).view(np.uint8) * np.uint8(255)
        # band-sequential (3, h, w) arrays: what rasterio writes without reshuffling pixel by pixel
        return np.stack(cv2.split(rgb)), mask, np.stack(cv2.split(half)), half_mask


def _write_window(dst: object, dst_half: object, spec: tuple[int, int, int, int], fut: Future[_Window],
                  on_window: Callable[[], None] | None) -> None:
    import rasterio

    col0, row0, w, h = spec
    rgb, mask, half, half_mask = fut.result()
    win = rasterio.windows.Window(col0, row0, w, h)
    dst.write(rgb, window=win)  # type: ignore[attr-defined]
    dst.write_mask(mask, window=win)  # type: ignore[attr-defined]
    hwin = rasterio.windows.Window(col0 // 2, row0 // 2, half.shape[2], half.shape[1])
    dst_half.write(half, window=hwin)  # type: ignore[attr-defined]
    dst_half.write_mask(half_mask, window=hwin)  # type: ignore[attr-defined]
    if on_window:
        on_window()


def _overview_factors(width: int, height: int) -> list[int]:
    """2, 4, 8 … until the smallest level fits in one block (what GDAL's COG driver would pick)."""
    factors = []
    f = 2
    while max(width, height) / (f // 2) > BLOCK_PX:
        factors.append(f)
        f *= 2
    return factors

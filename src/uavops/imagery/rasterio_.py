"""Writing the mosaic as a Cloud-Optimized GeoTIFF with rasterio (GDAL's COG driver).

The COG driver can only copy a finished dataset, so tiles are first written one window at a time
into a temporary tiled GeoTIFF beside the target (RGB + an internal mask band), then copied into the
COG (JPEG-compressed RGB in YCbCr, DEFLATE mask, 512-px tiles, averaged overviews), which
replaces the target only when complete. Memory stays at one window, whatever the mosaic's size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import MosaicError
from ..files import atomic_path

__all__ = ["write_cog", "iter_windows"]

BLOCK_PX = 512


def iter_windows(width: int, height: int, step: int) -> Iterator[tuple[int, int, int, int]]:
    """(col0, row0, w, h) windows covering the raster in row-major order."""
    for row0 in range(0, height, step):
        for col0 in range(0, width, step):
            yield col0, row0, min(step, width - col0), min(step, height - row0)


def write_cog(target: Path, width: int, height: int, transform: object, crs: object,
              render: Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]],
              windows: list[tuple[int, int, int, int]], on_window: Callable[[], None] | None = None,
              on_stage: Callable[[str], None] | None = None, jpeg_quality: int = 90) -> None:
    """Render every window and write ``target`` as a COG.

    ``render(col0, row0, w, h)`` returns (RGB uint8 h×w×3, mask uint8 h×w). Nothing is left at
    ``target`` (or beside it) unless the whole file was written.

    Raises
    ------
    MosaicError
        GDAL could not write the file (disk full, permissions).
    """
    import rasterio
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
                               interleave="pixel")
                if big:
                    profile["zstd_level"] = 1
                with rasterio.open(stage, "w", **profile) as dst:
                    for col0, row0, w, h in windows:
                        rgb, mask = render(col0, row0, w, h)
                        win = rasterio.windows.Window(col0, row0, w, h)
                        dst.write(np.moveaxis(rgb, 2, 0), window=win)
                        dst.write_mask(mask, window=win)
                        if on_window:
                            on_window()
                if on_stage:
                    on_stage("overviews")
                rio_copy(stage, final_tmp, driver="COG", COMPRESS="JPEG", QUALITY=jpeg_quality, BLOCKSIZE=BLOCK_PX,
                         OVERVIEW_RESAMPLING="AVERAGE", RESAMPLING="AVERAGE", NUM_THREADS="ALL_CPUS",
                         BIGTIFF="IF_SAFER")
            finally:
                for leftover in (stage, Path(str(stage) + ".msk")):
                    if leftover.exists():
                        os.unlink(leftover)
    except rasterio.errors.RasterioError as exc:
        raise MosaicError(f"The mosaic could not be written to {target} ({exc}); check free disk space "
                          "and that the output folder is writable.") from None

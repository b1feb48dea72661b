"""A small WGS84 PNG of a mosaic for the web map (Leaflet cannot read a COG without a tile server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Preview", "make_preview"]

MAX_PREVIEW_PX = 768


@dataclass(frozen=True)
class Preview:
    path: Path
    bounds_wgs84: tuple[float, float, float, float]


def _to_uint8(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Stretch to 0..255 (2nd to 98th percentile) unless the data already are bytes."""
    if data.dtype == np.uint8:
        return data
    values = data.astype(np.float64)
    mask = np.ones(values.shape[1:], bool) if nodata is None else ~(values == nodata).any(axis=0)
    lo, hi = np.percentile(values[:, mask], [2, 98]) if mask.any() else (0.0, 1.0)
    return np.clip((values - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)


def make_preview(src: Path, out: Path, max_px: int = MAX_PREVIEW_PX) -> Preview:
    """Reproject ``src`` to EPSG:4326 at most ``max_px`` on a side and write an RGBA PNG."""
    import rasterio
    from PIL import Image
    from rasterio.transform import Affine
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open(src, driver="GTiff") as ds:
        # Read at preview resolution first (GDAL uses the COG's overviews), then reproject the small array.
        shrink = max(1.0, max(ds.width, ds.height) / max_px)
        src_w, src_h = max(1, round(ds.width / shrink)), max(1, round(ds.height / shrink))
        bands = min(ds.count, 3)
        src_data = ds.read(
            list(range(1, bands + 1)), out_shape=(bands, src_h, src_w), resampling=Resampling.average
        )
        src_data = _to_uint8(src_data, ds.nodata)
        src_transform = ds.transform @ Affine.scale(ds.width / src_w, ds.height / src_h)
        transform, width, height = calculate_default_transform(ds.crs, "EPSG:4326", src_w, src_h, *ds.bounds)
        # one extra band of 255s marks where the source has data; it becomes the PNG's alpha
        src_rgba = np.concatenate([src_data, np.full((1, src_h, src_w), 255, np.uint8)])
        dst = np.zeros((bands + 1, height, width), dtype=np.uint8)
        reproject(
            src_rgba,
            dst,
            src_transform=src_transform,
            src_crs=ds.crs,
            dst_transform=transform,
            dst_crs="EPSG:4326",
            resampling=Resampling.nearest,
        )
        rgb = (
            np.repeat(dst[:1], 3, axis=0)
            if bands == 1
            else (np.concatenate([dst[:2], dst[1:2]], axis=0) if bands == 2 else dst[:3])
        )
        Image.fromarray(np.concatenate([rgb, dst[-1:]]).transpose(1, 2, 0), "RGBA").save(
            # zlib's RLE strategy: as small as level 1 on aerial imagery, about a third faster to encode
            out,
            compress_level=1,
            compress_type=3,
        )
        west, north = transform.c, transform.f
        east, south = west + transform.a * width, north + transform.e * height
    return Preview(out, (west, south, east, north))

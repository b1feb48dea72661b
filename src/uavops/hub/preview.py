"""A small WGS84 PNG of a mosaic for the web map (Leaflet cannot read a COG without a tile server)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Preview", "make_preview"]

MAX_PREVIEW_PX = 1024


@dataclass(frozen=True)
class Preview:
    path: Path
    bounds_wgs84: tuple[float, float, float, float]


def make_preview(src: Path, out: Path, max_px: int = MAX_PREVIEW_PX) -> Preview:
    """Reproject ``src`` to EPSG:4326 at most ``max_px`` on a side and write an RGBA PNG."""
    import rasterio
    from PIL import Image
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), rasterio.open(src, driver="GTiff") as ds:
        transform, width, height = calculate_default_transform(ds.crs, "EPSG:4326", ds.width, ds.height,
                                                               *ds.bounds)
        scale = max(width, height) / max_px if max(width, height) > max_px else 1.0
        width, height = max(1, int(width / scale)), max(1, int(height / scale))
        transform = transform * transform.scale(scale, scale)
        bands = min(ds.count, 3)
        dst = np.zeros((bands, height, width), dtype=np.float64)
        for i in range(bands):
            reproject(rasterio.band(ds, i + 1), dst[i], dst_transform=transform, dst_crs="EPSG:4326",
                      resampling=Resampling.bilinear, dst_nodata=np.nan)
        valid = ~np.isnan(dst).any(axis=0)
        if valid.any():
            lo, hi = np.nanpercentile(dst[:, valid], [2, 98])
        else:
            lo, hi = 0.0, 1.0
        scaled = np.clip((np.nan_to_num(dst) - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
        rgb = np.repeat(scaled, 3, axis=0) if bands == 1 else (
            np.concatenate([scaled, scaled[-1:]], axis=0) if bands == 2 else scaled)
        alpha = (valid * 255).astype(np.uint8)[None]
        Image.fromarray(np.concatenate([rgb, alpha]).transpose(1, 2, 0), "RGBA").save(out, optimize=True)
        west, north = transform.c, transform.f
        east, south = west + transform.a * width, north + transform.e * height
    return Preview(out, (west, south, east, north))

"""Real orthophotos as scenes: reproject any GeoTIFF to the UTM zone of its centre (no truth)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from ..errors import SceneError
from ..files import atomic_path, ensure_out_dir, write_json
from ..geo import utm_epsg_for
from .model import SCENE_FILES, Scene, load_scene

__all__ = ["import_orthophoto"]


def import_orthophoto(src_path: str | Path, out_dir: str | Path, *, gsd_cm: float | None = None,
                      ground_amsl_m: float = 0.0) -> Scene:
    """Reproject an orthophoto into a scene folder (``post.tif`` + ``scene.json``, no truth files).

    The output is RGB uint8 in the WGS84 UTM zone of the image centre with square, north-up pixels
    (bilinear resampling); pixels outside the source are black with an alpha-free nodata of 0.

    Raises
    ------
    SceneError
        The file cannot be read, has no coordinate system, or has fewer than 3 bands.
    """
    src_path = Path(src_path)
    if not src_path.is_file():
        raise SceneError(f"The orthophoto {src_path} does not exist; check the path.")
    out = ensure_out_dir(out_dir)
    try:
        src = rasterio.open(src_path)
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(f"Cannot read {src_path} as a raster ({exc}); give a GeoTIFF orthophoto.") from None
    with src:
        if src.crs is None:
            raise SceneError(f"{src_path} has no coordinate system; georeference it (e.g. with GDAL) first.")
        if src.count < 3 and src.count != 1:
            raise SceneError(f"{src_path} has {src.count} bands; an RGB (3-band) or grey orthophoto is needed.")
        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        epsg = utm_epsg_for((w + e) / 2, (s + n) / 2)
        dst_crs = CRS.from_epsg(epsg)
        transform, width, height = calculate_default_transform(src.crs, dst_crs, src.width, src.height, *src.bounds)
        res = abs(transform.a) if gsd_cm is None else gsd_cm / 100.0
        if not (math.isfinite(res) and res > 0):
            raise SceneError(f"Cannot work out the pixel size of {src_path}; give --gsd-cm.")
        transform, width, height = calculate_default_transform(src.crs, dst_crs, src.width, src.height, *src.bounds,
                                                               resolution=(res, res))
        bands = [1, 2, 3] if src.count >= 3 else [1, 1, 1]
        profile = dict(driver="GTiff", dtype="uint8", count=3, width=width, height=height, crs=dst_crs,
                       transform=transform, tiled=True, blockxsize=512, blockysize=512, compress="deflate",
                       predictor=2, photometric="RGB", BIGTIFF="IF_SAFER")
        with atomic_path(out / SCENE_FILES["post"]) as tmp:
            with rasterio.open(tmp, "w", **profile) as dst:
                for i, b in enumerate(bands, start=1):
                    data = np.zeros((height, width), np.uint8)
                    source = src.read(b)
                    if source.dtype != np.uint8:
                        hi = float(np.percentile(source[source > 0], 99.5)) if (source > 0).any() else 1.0
                        source = np.clip(source.astype(np.float64) * 255.0 / max(hi, 1e-9), 0, 255).astype(np.uint8)
                    reproject(source, data, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                              dst_crs=dst_crs, resampling=Resampling.bilinear)
                    dst.write(data, i)
                factors = [f for f in (2, 4, 8, 16) if min(width, height) // f >= 256]
                if factors:
                    dst.build_overviews(factors, Resampling.average)
    write_json(out / SCENE_FILES["meta"], {
        "format": "uavops-scene", "event": None, "source": str(src_path.name), "crs_epsg": epsg,
        "gsd_cm": res * 100.0, "width_px": width, "height_px": height, "ground_amsl_m": ground_amsl_m,
        "bounds_wgs84": [w, s, e, n], "has_truth": False,
    })
    return load_scene(out)

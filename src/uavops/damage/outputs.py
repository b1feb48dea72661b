"""Writing the damage package files: damage.geojson, damage.tif (COG), change_mask.png, summary.json.

Every file goes through :mod:`uavops.files` so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp

from ..files import atomic_path, atomic_write, write_json
from ..package import DAMAGE_GRADES
from .detector import ChangeMap, iter_tiles
from .inputs import WorkGrid

__all__ = ["orient_and_round", "write_geojson", "write_damage_cog", "write_change_mask", "write_summary_json",
           "COLORMAP"]

#: damage.tif band 1 colours (class index -> RGBA), so GIS tools show it sensibly.
COLORMAP = {0: (0, 0, 0, 0), 1: (255, 215, 0, 255), 2: (255, 120, 0, 255), 3: (200, 0, 0, 255),
            4: (40, 110, 255, 255)}


def _ring(coords: list[Any], ccw: bool, decimals: int) -> list[list[float]]:
    pts = [[round(float(c[0]), decimals), round(float(c[1]), decimals)] for c in coords]
    # Drop consecutive duplicates created by rounding, keep closure.
    clean = [pts[0]]
    for p in pts[1:]:
        if p != clean[-1]:
            clean.append(p)
    if clean[0] != clean[-1]:
        clean.append(clean[0])
    area2 = sum(clean[i][0] * clean[i + 1][1] - clean[i + 1][0] * clean[i][1] for i in range(len(clean) - 1))
    if (area2 > 0) != ccw:
        clean.reverse()
    return clean


def orient_and_round(geom: dict[str, Any], decimals: int = 7) -> dict[str, Any] | None:
    """RFC 7946 winding (exterior counter-clockwise, holes clockwise) and coordinate precision.

    Returns None for rings that collapse to fewer than 4 positions after rounding.
    """
    def poly(rings: list[Any]) -> list[Any] | None:
        out = []
        for i, r in enumerate(rings):
            rr = _ring(list(r), ccw=(i == 0), decimals=decimals)
            if len(rr) < 4:
                if i == 0:
                    return None
                continue
            out.append(rr)
        return out

    if geom["type"] == "Polygon":
        p = poly(geom["coordinates"])
        return None if p is None else {"type": "Polygon", "coordinates": p}
    if geom["type"] == "MultiPolygon":
        ps = [p for p in (poly(r) for r in geom["coordinates"]) if p is not None]
        if not ps:
            return None
        return {"type": "Polygon", "coordinates": ps[0]} if len(ps) == 1 else {"type": "MultiPolygon", "coordinates": ps}
    raise ValueError(f"unexpected geometry type {geom['type']}")


def write_geojson(path: Path, features: Iterable[dict[str, Any]], *, pixel_grid: bool = False,
                  extra: dict[str, Any] | None = None) -> int:
    """Write a FeatureCollection; on a pixel grid coordinates are pixels (and declared so)."""
    feats = []
    for f in features:
        g = orient_and_round(f["geometry"], decimals=2 if pixel_grid else 7)
        if g is None:
            continue
        feats.append({"type": "Feature", "geometry": g, "properties": f["properties"]})
    fc: dict[str, Any] = {"type": "FeatureCollection", "features": feats}
    if pixel_grid:
        fc["coordinate_system"] = "pixel"   # foreign member: x right, y down, full-resolution pixels
    if extra:
        fc.update(extra)
    with atomic_write(path) as fh:
        json.dump(fc, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    return len(feats)


def write_damage_cog(path: Path, change: ChangeMap, grid: WorkGrid, tile_px: int = 512) -> None:
    """damage.tif: band 1 class (0 none, 1 possibly, 2 damaged, 3 destroyed, 4 event extent, 255 no data),
    band 2 damage score 0..254 (probability of any change x 254). Written tile by tile, then a COG copy."""
    h, w = change.classes.shape
    profile: dict[str, Any] = {"driver": "GTiff", "width": w, "height": h, "count": 2, "dtype": "uint8",
                               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
                               "nodata": 255}
    if grid.georeferenced:
        profile.update(crs=grid.crs, transform=grid.transform)
    with atomic_path(path) as final:
        tmp = final.with_name(final.stem + ".stage.tif")
        try:
            _write_tiles(tmp, profile, change, tile_px)
            rasterio.shutil.copy(tmp, final, driver="COG", compress="DEFLATE", blocksize=256,
                                 overview_resampling="nearest")
        finally:
            tmp.unlink(missing_ok=True)


def _write_tiles(tmp: Path, profile: dict[str, Any], change: ChangeMap, tile_px: int) -> None:
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    h, w = change.classes.shape
    score_all = change.score
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp, "w", **profile) as dst:
            for y, x, th, tw in iter_tiles(h, w, tile_px):
                win = rasterio.windows.Window(x, y, tw, th)
                cls = change.classes[y:y + th, x:x + tw].copy()
                val = change.valid[y:y + th, x:x + tw]
                cls[~val] = 255
                score = (score_all[y:y + th, x:x + tw].astype(np.uint16) * 254 // 255).astype(np.uint8)
                score[~val] = 255
                dst.write(cls, 1, window=win)
                dst.write(score, 2, window=win)
            dst.write_colormap(1, COLORMAP)
            dst.set_band_description(1, "damage class: 0 none, 1 possibly damaged, 2 damaged, 3 destroyed, "
                                        "4 event extent")
            dst.set_band_description(2, "damage score (probability of change x 254)")
            dst.colorinterp = [ColorInterp.palette, ColorInterp.gray]


def write_change_mask(path: Path, change: ChangeMap, grid: WorkGrid) -> None:
    """change_mask.png: 0/255 per pixel at the input's full size (any change class)."""
    mask = ((change.classes >= 1) & change.valid).astype(np.uint8) * 255
    if (grid.full_width, grid.full_height) != (grid.width, grid.height):
        mask = cv2.resize(mask, (grid.full_width, grid.full_height), interpolation=cv2.INTER_NEAREST)
    ok, buf = cv2.imencode(".png", mask)
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    with atomic_write(path, "wb") as fh:
        fh.write(buf.tobytes())


def write_summary_json(path: Path, summary: dict[str, Any]) -> None:
    write_json(path, summary)


def grade_counts(grades: Iterable[str]) -> dict[str, int]:
    counts = {g: 0 for g in DAMAGE_GRADES}
    for g in grades:
        counts[g] += 1
    return counts

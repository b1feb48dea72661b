"""From the class map to polygons: damage areas (without footprints) and event extents.

Why clean before vectorising: an operator wants a handful of areas, not thousands of pixel
specks. A morphological opening removes specks smaller than about a metre, closing fills holes,
and each polygon keeps the most severe grade that covers a real share of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from rasterio.crs import CRS
from rasterio.features import shapes
from rasterio.warp import transform_geom
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from ..package import DAMAGE_GRADES
from .inputs import WorkGrid
from .model import EXTENT_CLASS

__all__ = ["AreaPolygon", "damage_polygons", "extent_polygons", "grid_geometry_to_output"]


@dataclass
class AreaPolygon:
    geometry_grid: BaseGeometry      # working-grid pixel coordinates
    damage_gra: str | None
    confidence: float
    pixels: int


def _clean(mask: np.ndarray, open_px: int, close_px: int) -> np.ndarray:
    m = mask.astype(np.uint8)
    if open_px > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_px, open_px)))
    if close_px > 1:
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px)))
    return m


def _px(metres: float, grid: WorkGrid, default: int) -> int:
    if not grid.gsd_m:
        return default
    return max(1, int(round(metres / grid.gsd_m)) | 1)


def _polygons(mask: np.ndarray, min_pixels: int) -> list[tuple[BaseGeometry, tuple[slice, slice, np.ndarray]]]:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for lab in range(1, n):
        if stats[lab, cv2.CC_STAT_AREA] < min_pixels:
            continue
        x, y, w, h = (int(stats[lab, k]) for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH,
                                                    cv2.CC_STAT_HEIGHT))
        sub = (labels[y:y + h, x:x + w] == lab).astype(np.uint8)
        geoms = [shape(g) for g, v in shapes(sub, mask=sub > 0, connectivity=8) if v == 1]
        if not geoms:
            continue
        from shapely.affinity import translate
        from shapely.ops import unary_union
        g = translate(unary_union(geoms), x, y).simplify(0.7, preserve_topology=True)
        if g.is_empty:
            continue
        out.append((g, (slice(y, y + h), slice(x, x + w), sub > 0)))
    return out


def damage_polygons(classes: np.ndarray, probs: np.ndarray, grid: WorkGrid, min_area_m2: float = 2.0) -> list[AreaPolygon]:
    """Polygons of grades 1-3; each carries the most severe grade covering >= 30 % of it."""
    mask = (classes >= 1) & (classes <= 3)
    m = _clean(mask, _px(0.8, grid, 3), _px(1.2, grid, 5))
    min_px = int(min_area_m2 / grid.pixel_area_m2) if grid.pixel_area_m2 else 40
    out = []
    for g, (sy, sx, inside) in _polygons(m, max(4, min_px)):
        cls = classes[sy, sx][inside]
        counts = np.bincount(cls, minlength=5)[1:4].astype(float)
        if counts.sum() == 0:
            continue
        share = counts / counts.sum()
        grade = 1
        for k in (3, 2, 1):
            if share[k - 1] >= 0.3:
                grade = k
                break
        conf = float(probs[grade][sy, sx][inside].mean()) / 255.0
        out.append(AreaPolygon(g, DAMAGE_GRADES[grade], conf, int(inside.sum())))
    return out


def extent_polygons(classes: np.ndarray, probs: np.ndarray, grid: WorkGrid, min_area_m2: float = 20.0) -> list[AreaPolygon]:
    """Event extent (flood water, mud, burn scar) polygons from the EXTENT_CLASS pixels."""
    m = _clean(classes == EXTENT_CLASS, _px(1.0, grid, 3), _px(2.0, grid, 7))
    min_px = int(min_area_m2 / grid.pixel_area_m2) if grid.pixel_area_m2 else 200
    out = []
    for g, (sy, sx, inside) in _polygons(m, max(9, min_px)):
        conf = float(probs[4][sy, sx][inside].mean()) / 255.0
        out.append(AreaPolygon(g, None, conf, int(inside.sum())))
    return out


def grid_geometry_to_output(g: BaseGeometry, grid: WorkGrid) -> dict[str, Any]:
    """Working-grid geometry -> WGS84 GeoJSON geometry (or full-resolution pixel coords on a pixel grid)."""
    from shapely.affinity import affine_transform
    if grid.georeferenced:
        assert grid.transform is not None and grid.crs is not None
        t = grid.transform
        local = affine_transform(g, [t.a, t.b, t.d, t.e, t.xoff, t.yoff])
        return transform_geom(grid.crs, CRS.from_epsg(4326), mapping(local))
    s = grid.scale
    return mapping(affine_transform(g, [s, 0, 0, s, 0, 0]))

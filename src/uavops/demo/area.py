"""Choosing the survey area for a demo: the affected district of a scene."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shapely.geometry import box, mapping, shape
from shapely.ops import unary_union

from ..geo import LocalProjection

__all__ = ["affected_district"]


def affected_district(scene_dir: Path, scene_bounds_m: tuple[float, float, float, float], scene_epsg: int, *,
                      margin_m: float = 40.0, min_side_m: float = 150.0, max_side_m: float | None = None) -> dict[str, Any]:
    """A GeoJSON Feature around what the event touched, kept inside the scene.

    An operator surveys the affected district, not the whole map: the area is the event
    extent plus damaged buildings, buffered by ``margin_m``, squared off to a rectangle (the
    way a survey box is drawn in the field) and clipped to the scene with a margin so that
    photo footprints stay on the scene raster. ``scene_bounds_m`` is (left, bottom, right, top)
    in the scene's projected CRS ``scene_epsg``.
    """
    proj = LocalProjection(scene_epsg)
    geoms = []
    events_path = scene_dir / "events.geojson"
    if events_path.exists():
        geoms += [shape(f["geometry"]) for f in json.loads(events_path.read_text())["features"] if f.get("geometry")]
    buildings_path = scene_dir / "buildings.geojson"
    if buildings_path.exists():
        geoms += [shape(f["geometry"]) for f in json.loads(buildings_path.read_text())["features"]
                  if f.get("geometry") and f["properties"].get("damage_gra") not in (None, "No visible damage")]
    inner = box(*scene_bounds_m).buffer(-margin_m, join_style=2)
    if geoms:
        from shapely.ops import transform

        merged = unary_union([transform(lambda x, y, z=None: proj.to_xy(x, y), g) for g in geoms])
        x0, y0, x1, y1 = merged.buffer(margin_m).bounds
    else:
        x0, y0, x1, y1 = inner.bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = max(x1 - x0, min_side_m), max(y1 - y0, min_side_m)
    if max_side_m:
        w, h = min(w, max_side_m), min(h, max_side_m)
    rect = box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2).intersection(inner)
    if rect.is_empty or rect.area < 1.0:
        rect = inner
    ring = [proj.to_lonlat(x, y) for x, y in rect.exterior.coords]
    poly = {"type": "Polygon", "coordinates": [[[round(lon, 7), round(lat, 7)] for lon, lat in ring]]}
    return {"type": "Feature", "properties": {"name": "affected district"}, "geometry": mapping(shape(poly))}

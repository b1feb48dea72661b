"""Building footprints: reading them (GeoJSON, GeoPackage) and grading each one.

Why grade from the pixel probabilities: a footprint from OpenStreetMap or Microsoft's dataset is
rarely exactly on the mosaic; averaging the model's class probabilities over the footprint (slightly
shrunk, so a neighbour's rubble does not leak in) gives a grade that is stable to that offset, and
the averaged probability of the chosen grade is an honest confidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.warp import transform_geom
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from ..package import DAMAGE_GRADES
from .detector import ChangeMap
from .inputs import WorkGrid

__all__ = ["Footprint", "read_footprints", "GradedBuilding", "grade_buildings"]


@dataclass
class Footprint:
    building_id: str
    geometry_wgs84: dict[str, Any] | None      # GeoJSON geometry (None on a pixel grid)
    geometry_grid: BaseGeometry                 # in working-grid pixel coordinates
    properties: dict[str, Any]


@dataclass
class GradedBuilding:
    footprint: Footprint
    damage_gra: str
    confidence: float
    area_m2: float | None
    grade_probs: tuple[float, float, float, float]
    pixels: int


def _read_features(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    if not path.exists():
        raise InputError(f"The buildings file {path} does not exist; check the --buildings path.")
    if path.suffix.lower() in {".geojson", ".json"}:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"The buildings file {path} is not valid GeoJSON ({exc}); re-export it.") from None
        feats = data.get("features") if isinstance(data, dict) else None
        if feats is None and isinstance(data, dict) and data.get("type") == "Feature":
            feats = [data]
        if feats is None:
            raise InputError(f"The buildings file {path} holds no GeoJSON features; give a FeatureCollection "
                             "of building polygons.")
        crs = None
        name = (data.get("crs") or {}).get("properties", {}).get("name") if isinstance(data, dict) else None
        if name and "CRS84" not in name and "4326" not in name:
            crs = name
        return feats, crs
    if path.suffix.lower() in {".gpkg", ".shp", ".fgb"}:
        try:
            import pyogrio
        except ImportError:  # pragma: no cover - pyogrio ships with the test extra
            raise InputError(f"Reading {path.suffix} footprints needs the pyogrio package; install it or "
                             "convert the file to GeoJSON.") from None
        try:
            meta, _, geoms, fields = pyogrio.raw.read(path, encoding="UTF-8")
        except Exception as exc:  # pyogrio raises several unrelated classes
            raise InputError(f"The buildings file {path} cannot be read ({exc}); re-export it.") from None
        from shapely import from_wkb
        names = list(meta.get("fields", []))
        feats = []
        for i, g in enumerate(geoms):
            if g is None:
                continue
            props = {n: (fields[j][i].item() if hasattr(fields[j][i], "item") else fields[j][i])
                     for j, n in enumerate(names)}
            feats.append({"type": "Feature", "geometry": mapping(from_wkb(g)), "properties": props})
        return feats, meta.get("crs")
    raise InputError(f"The buildings file {path.name} is neither GeoJSON nor GeoPackage; convert it to GeoJSON.")


def read_footprints(path: str | Path, grid: WorkGrid) -> list[Footprint]:
    """Read polygons and express them on the working grid; drops those fully outside it.

    On a pixel grid the coordinates are taken as full-resolution pixel coordinates (x right, y down).

    Raises
    ------
    InputError
        The file is missing, malformed, holds no polygons, or none lies on the image.
    """
    path = Path(path)
    feats, src_crs = _read_features(path)
    out: list[Footprint] = []
    crs_in = CRS.from_user_input(src_crs) if src_crs else CRS.from_epsg(4326)
    for i, feat in enumerate(feats):
        geom = feat.get("geometry")
        if not geom or geom.get("type") not in {"Polygon", "MultiPolygon"}:
            continue
        props = dict(feat.get("properties") or {})
        bid = str(props.get("building_id", props.get("id", feat.get("id", i))))
        if grid.georeferenced:
            assert grid.transform is not None and grid.crs is not None
            wgs = transform_geom(crs_in, CRS.from_epsg(4326), geom) if crs_in.to_epsg() != 4326 else geom
            local = transform_geom(crs_in, grid.crs, geom)
            inv = ~grid.transform
            g = shape(local)
            from shapely.affinity import affine_transform
            g = affine_transform(g, [inv.a, inv.b, inv.d, inv.e, inv.xoff, inv.yoff])
        else:
            wgs = None
            from shapely.affinity import scale as sscale
            g = sscale(shape(geom), 1 / grid.scale, 1 / grid.scale, origin=(0, 0))
        if not g.is_valid:
            g = g.buffer(0)
        minx, miny, maxx, maxy = g.bounds
        if maxx < 0 or maxy < 0 or minx > grid.width or miny > grid.height or g.is_empty:
            continue
        out.append(Footprint(bid, wgs, g, props))
    if feats and not out:
        raise InputError(f"None of the {len(feats)} footprints in {path.name} lies on the post image; give "
                         "footprints of the surveyed area.")
    return out


def grade_buildings(footprints: list[Footprint], change: ChangeMap, grid: WorkGrid,
                    grade_bias: list[float] | None = None) -> list[GradedBuilding]:
    """Grade each footprint from the mean class probabilities inside it (shrunk by ~0.5 m)."""
    if not footprints:
        return []
    h, w = change.classes.shape
    shrink_px = 0.5 / grid.gsd_m if grid.gsd_m else 1.0
    shapes = []
    for i, fp in enumerate(footprints):
        g = fp.geometry_grid.buffer(-shrink_px)
        if g.is_empty or g.area < 4:
            g = fp.geometry_grid
        shapes.append((mapping(g), i + 1))
    ids = rasterize(shapes, out_shape=(h, w), fill=0, dtype="int32", all_touched=False)
    # Tiny footprints that rasterise to nothing: burn them with all_touched.
    n = len(footprints)
    flat = ids.ravel()
    sel = flat > 0
    labels = flat[sel]
    counts = np.bincount(labels, minlength=n + 1)
    probs = change.probs.reshape(change.probs.shape[0], -1)[:, sel].astype(np.float64) / 255.0
    sums = np.stack([np.bincount(labels, weights=probs[k], minlength=n + 1) for k in range(probs.shape[0])])
    valid_counts = np.bincount(labels, weights=change.valid.ravel()[sel].astype(np.float64), minlength=n + 1)
    bias = np.asarray(grade_bias or [0.0, 0.0, 0.0, 0.0])
    graded = []
    for i, fp in enumerate(footprints):
        c = counts[i + 1]
        if c == 0:
            one = rasterize([(mapping(fp.geometry_grid), 1)], out_shape=(h, w), fill=0, dtype="uint8",
                            all_touched=True) > 0
            c = int(one.sum())
            if c == 0:
                continue
            mp = change.probs[:, one].astype(np.float64).mean(axis=1) / 255.0
            vfrac = float(change.valid[one].mean())
        else:
            mp = sums[:, i + 1] / c
            vfrac = valid_counts[i + 1] / c
        if vfrac < 0.5:
            continue  # mostly outside the imaged area: not assessed
        # Event extent (e.g. standing water) on a footprint counts towards "Possibly damaged".
        gp = np.array([mp[0], mp[1] + (mp[4] if len(mp) > 4 else 0.0), mp[2], mp[3]])
        gp = gp / max(gp.sum(), 1e-9)
        k = int(np.argmax(np.log(gp + 1e-6) + bias))
        area = fp.geometry_grid.area * (grid.pixel_area_m2 or 0.0) if grid.gsd_m else None
        graded.append(GradedBuilding(fp, DAMAGE_GRADES[k], float(gp[k]), area, tuple(float(v) for v in gp),
                                     int(c)))
    return graded

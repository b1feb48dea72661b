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

import cv2
import numpy as np
from rasterio.crs import CRS
from rasterio.features import rasterize
from rasterio.warp import transform_geom
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from ..errors import DetectionError, InputError
from ..package import DAMAGE_GRADES
from .detector import GRADE_CUES, ChangeMap
from .inputs import WorkGrid
from .model import CLASS_NAMES, EXTENT_CLASS

__all__ = [
    "FEATURE_NAMES",
    "Footprint",
    "GradedBuilding",
    "building_features",
    "burn_grades",
    "grade_buildings",
    "grader_probabilities",
    "read_footprints",
]


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


#: Distances (m) from a footprint to the nearest event-extent pixel that become 0/1 features.
EXTENT_NEAR_M: tuple[float, ...] = (3.0, 6.0, 12.0)
#: Half-width (m) of the square around a building over which the neighbourhood's damage is averaged.
NEIGHBOURHOOD_M = 25.0
FEATURE_NAMES: tuple[str, ...] = (
    *(f"in_p_{c}" for c in CLASS_NAMES), *(f"in_{n}" for n, _, _ in GRADE_CUES), "in_changed", "in_extent",
    *(f"ring_p_{c}" for c in CLASS_NAMES), "ring_changed", "compared", "log_area_px",
    # added with the 2.1 recipe's grader (model 1.1); older graders list the features they use in their card
    "extent_dist_m", *(f"extent_within_{d:g}m" for d in EXTENT_NEAR_M),
    "neighbourhood_changed", "neighbourhood_extent",
    # added with recipe 2.2's grader: new dark spots (roof holes) inside the footprint, see cues.new_dark_spots
    "in_new_spots", "in_new_spot_frac", "in_new_spot_log_px")
#: A new-spot pixel counts towards ``in_new_spot_frac`` above this (0..255; ~0.25 in log luminance).
NEW_SPOT_MIN = 64


def building_features(footprints: list[Footprint], change: ChangeMap, grid: WorkGrid
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-building features (N, len(FEATURE_NAMES)), pixel counts (N,), valid fractions (N,).

    Inside = the footprint shrunk by ~0.5 m (a neighbour's rubble should not leak in); ring = a ~3 m band
    around it (debris thrown out, water or mud lapping at the walls).

    Two kinds of context come on top, because the grade of a building is not always visible on its
    roof. Rapid-mapping analysts grade a building "Possibly damaged" when flood water, mud or a burn
    scar reaches close to it (Copernicus EMS grading of flood and fire products), however intact its
    roof looks: hence the distance to the nearest event-extent pixel. And earthquake damage follows the
    shaking, which varies over hundreds of metres: a building among collapsed neighbours is more likely
    cracked than one in an intact street, hence the damaged and extent fractions of the surrounding
    ~50 m square.
    """
    n = len(footprints)
    h, w = change.classes.shape
    px_m = grid.gsd_m or 0.2
    inside_shapes, ring_shapes, full_shapes = [], [], []
    for i, fp in enumerate(footprints):
        g = fp.geometry_grid
        shrunk = g.buffer(-0.5 / px_m)
        if shrunk.is_empty or shrunk.area < 4:
            shrunk = g
        inside_shapes.append((mapping(shrunk), i + 1))
        ring_shapes.append((mapping(g.buffer(3.0 / px_m)), i + 1))
        full_shapes.append((mapping(g), 1))
    ids = rasterize(inside_shapes, out_shape=(h, w), fill=0, dtype="int32")
    ring = rasterize(ring_shapes, out_shape=(h, w), fill=0, dtype="int32")
    ring[rasterize(full_shapes, out_shape=(h, w), fill=0, dtype="uint8") > 0] = 0
    missing = [i for i in range(n) if not (ids == i + 1).any()] if n < 5000 else []
    if missing:  # tiny footprints: burn them with all_touched
        extra = rasterize([inside_shapes[i] for i in missing], out_shape=(h, w), fill=0, dtype="int32",
                          all_touched=True)
        ids = np.where(extra > 0, extra, ids)
    k = change.probs.shape[0]
    planes = change.cue_planes if change.cue_planes is not None else np.zeros((len(GRADE_CUES), h, w), np.uint8)

    def means(lab: np.ndarray, stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = lab.ravel()
        sel = flat > 0
        labels = flat[sel]
        counts = np.bincount(labels, minlength=n + 1)[1:].astype(np.float64)
        sums = np.stack([np.bincount(labels, weights=stack[j].ravel()[sel].astype(np.float64), minlength=n + 1)[1:]
                         for j in range(stack.shape[0])])
        return sums / np.maximum(counts, 1)[None], counts

    changed = ((change.classes >= 1) & (change.classes <= 3)).astype(np.uint8)[None]
    extent = change.classes == EXTENT_CLASS
    in_stack = np.concatenate([change.probs, planes, changed * 255, extent.astype(np.uint8)[None] * 255,
                               change.valid[None].astype(np.uint8), change.compared[None].astype(np.uint8)])
    m_in, c_in = means(ids, in_stack)
    ring_stack = np.concatenate([change.probs, (change.classes >= 1).astype(np.uint8)[None] * 255])
    m_ring, _ = means(ring, ring_stack)
    nf = k + len(GRADE_CUES) + 2
    dist_m = _extent_distance_m(ids, n, extent, px_m)
    hood, _ = means(ids, _neighbourhood_planes(change.classes, extent, px_m))
    near = [(dist_m <= d).astype(np.float64) for d in EXTENT_NEAR_M]
    spots = change.new_spots if change.new_spots is not None else np.zeros((h, w), np.uint8)
    m_spots, _ = means(ids, np.stack([spots.astype(np.float32) / 255.0, (spots >= NEW_SPOT_MIN).astype(np.float32)]))
    feats = np.concatenate([m_in[:nf] / 255.0, m_ring / 255.0, m_in[nf + 1:nf + 2], np.log1p(c_in)[None],
                            dist_m[None], np.stack(near), hood, m_spots,
                            np.log1p(m_spots[1] * c_in)[None]]).T.astype(np.float32)
    return feats, c_in, m_in[nf]


def _extent_distance_m(ids: np.ndarray, n: int, extent: np.ndarray, px_m: float) -> np.ndarray:
    """(N,) metres from each labelled footprint to the nearest event-extent pixel, capped at twice the
    widest EXTENT_NEAR_M band (farther than that says nothing more)."""
    from scipy import ndimage

    cap_m = 2 * max(EXTENT_NEAR_M)
    if not extent.any():
        return np.full(n, cap_m)
    dist_px = cv2.distanceTransform((~extent).astype(np.uint8), cv2.DIST_L2, 5)
    dist_m = np.asarray(ndimage.minimum(dist_px, ids, np.arange(1, n + 1)), np.float64) * px_m
    return np.minimum(np.nan_to_num(dist_m, nan=cap_m), cap_m)  # nan: a label with no pixel (not assessed)


def _neighbourhood_planes(classes: np.ndarray, extent: np.ndarray, px_m: float) -> np.ndarray:
    """(2, H, W): the fractions of damaged (grades 1-3) and of event-extent pixels in the square of
    half-width NEIGHBOURHOOD_M around each pixel."""
    side = 2 * max(1, round(NEIGHBOURHOOD_M / px_m)) + 1
    return np.stack([cv2.blur(plane.astype(np.float32), (side, side), borderType=cv2.BORDER_REFLECT)
                     for plane in ((classes >= 1) & (classes <= 3), extent)])


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def grader_probabilities(feats: np.ndarray, grader: dict[str, Any]) -> np.ndarray:
    """(N, 4) grade probabilities from (N, len(FEATURE_NAMES)) features and a model card's grader.

    Two kinds: ``"linear"`` (multinomial logistic regression, ``W``/``b``: model 1.0) and ``"mlp"``
    (the mean of the softmax outputs of several one-hidden-layer ReLU networks, ``members``, each with
    ``W1``/``b1``/``W2``/``b2``: from recipe 2.1). Only the features the card lists are used, so a grader
    fitted before a feature was added keeps working.
    """
    names = list(grader.get("features", FEATURE_NAMES))
    try:
        cols = [FEATURE_NAMES.index(f) for f in names]
    except ValueError as exc:
        raise DetectionError(f"The damage model's building grader needs a feature this uavops does not "
                             f"compute ({exc}); reinstall uavops or use its shipped model.") from None
    x = (feats[:, cols] - np.asarray(grader["mean"], np.float32)) / np.asarray(grader["std"], np.float32)
    if grader.get("kind", "linear") == "linear":
        return _softmax(x @ np.asarray(grader["W"], np.float32).T + np.asarray(grader["b"], np.float32))
    out = np.zeros((x.shape[0], len(DAMAGE_GRADES)), np.float64)
    for m in grader["members"]:
        hidden = np.maximum(x @ np.asarray(m["W1"], np.float32).T + np.asarray(m["b1"], np.float32), 0.0)
        out += _softmax(hidden @ np.asarray(m["W2"], np.float32).T + np.asarray(m["b2"], np.float32))
    return out / len(grader["members"])


def grade_buildings(footprints: list[Footprint], change: ChangeMap, grid: WorkGrid,
                    grader: dict[str, Any] | None = None) -> list[GradedBuilding]:
    """Grade each footprint: the model card's building grader over :data:`FEATURE_NAMES` (see
    :func:`grader_probabilities`) or, without one, the argmax of the mean class probabilities."""
    if not footprints:
        return []
    feats, counts, valid_frac = building_features(footprints, change, grid)
    if grader:
        gp = grader_probabilities(feats, grader)
    else:
        k = len(CLASS_NAMES)
        p = feats[:, :k]
        gp = np.stack([p[:, 0], p[:, 1] + p[:, 4], p[:, 2], p[:, 3]], axis=1)
        gp /= np.maximum(gp.sum(axis=1, keepdims=True), 1e-9)
    graded = []
    for i, fp in enumerate(footprints):
        if counts[i] == 0 or valid_frac[i] < 0.5:
            continue  # not on the image (or mostly outside its data): not assessed
        j = int(np.argmax(gp[i]))
        area = fp.geometry_grid.area * grid.pixel_area_m2 if grid.pixel_area_m2 else None
        graded.append(GradedBuilding(fp, DAMAGE_GRADES[j], float(gp[i, j]), area,
                                     tuple(float(v) for v in gp[i]), int(counts[i])))  # type: ignore[arg-type]
    return graded


def burn_grades(graded: list[GradedBuilding], shape: tuple[int, int]) -> np.ndarray:
    """Raster of building grades (0..3 = index in DAMAGE_GRADES) on the working grid; 255 outside buildings."""
    if not graded:
        return np.full(shape, 255, np.uint8)
    order = sorted(graded, key=lambda b: DAMAGE_GRADES.index(b.damage_gra))  # worst grade wins overlaps
    shapes = [(mapping(b.footprint.geometry_grid), DAMAGE_GRADES.index(b.damage_gra)) for b in order]
    return rasterize(shapes, out_shape=shape, fill=255, dtype="uint8")

"""Reading and checking survey areas and no-fly zones (GeoJSON, KML, --bbox).

Everything here is in WGS84 lon/lat. A polygon that a planner cannot trust (self-intersecting,
zero area, a hole wound like its outer ring, latitude/longitude swapped) is refused with one
sentence saying what is wrong; with ``repair=True`` it is fixed (shapely's ``make_valid``,
re-oriented rings, swapped axes) and the fix is reported as a warning.

Winding: RFC 7946 asks for counter-clockwise outer rings but also tells readers not to reject
the other order, and many tools (and Google Earth's KML) write clockwise rings, so the outer
ring's direction is accepted as it comes. What is refused is a *hole* wound the same way as its
outer ring: in every convention that marks a ring meant as a second area, not a hole.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Polygon, box, mapping
from shapely.ops import unary_union
from shapely.validation import explain_validity, make_valid

from ..errors import InputError, PlanError

__all__ = ["SurveyArea", "load_area", "load_polygons", "area_from_bbox", "parse_bbox"]


@dataclass
class SurveyArea:
    """The area to photograph and the zones the vehicle must not enter (lon/lat)."""

    polygon: Polygon | MultiPolygon
    exclusions: list[Polygon] = field(default_factory=list)
    name: str = "area"
    warnings: list[str] = field(default_factory=list)

    def to_geojson(self) -> dict[str, Any]:
        return mapping(self.polygon)  # type: ignore[return-value]


def _signed_area(coords: list[tuple[float, float]]) -> float:
    s = 0.0
    for (x1, y1), (x2, y2) in zip(coords, coords[1:] + coords[:1]):
        s += x1 * y2 - x2 * y1
    return s / 2.0


def _degenerate(ring: list[tuple[float, float]]) -> bool:
    """Fewer than three distinct corners, or all corners on one line (no area even when untangled)."""
    if len(set(ring)) < 3:
        return True
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    extent = max(max(xs) - min(xs), max(ys) - min(ys))
    return MultiPoint(ring).convex_hull.area <= 1e-9 * extent * extent


def _rings_from_geojson(geom: dict[str, Any], where: str) -> list[list[list[tuple[float, float]]]]:
    """GeoJSON geometry -> list of polygons, each a list of rings of (lon, lat)."""
    gtype = geom.get("type")
    coords = geom.get("coordinates")
    try:
        if gtype == "Polygon":
            return [[[(float(p[0]), float(p[1])) for p in ring] for ring in coords]]
        if gtype == "MultiPolygon":
            return [[[(float(p[0]), float(p[1])) for p in ring] for ring in poly] for poly in coords]
        if gtype == "GeometryCollection":
            out = []
            for sub in geom.get("geometries", []):
                out.extend(_rings_from_geojson(sub, where))
            return out
    except (TypeError, IndexError, ValueError):
        raise InputError(f"{where} has a {gtype} with malformed coordinates; each position must be [lon, lat].") from None
    return []


def _polygons_from_geojson(data: Any, where: str) -> list[list[list[tuple[float, float]]]]:
    if not isinstance(data, dict) or "type" not in data:
        raise InputError(f"{where} is not GeoJSON (no \"type\"); export the area as GeoJSON or KML.")
    dtype = data["type"]
    if dtype == "FeatureCollection":
        out = []
        for feat in data.get("features") or []:
            if isinstance(feat, dict) and feat.get("geometry"):
                out.extend(_rings_from_geojson(feat["geometry"], where))
        return out
    if dtype == "Feature":
        return _rings_from_geojson(data.get("geometry") or {}, where)
    return _rings_from_geojson(data, where)


def _kml_coords(text: str | None, where: str) -> list[tuple[float, float]]:
    out = []
    for tok in (text or "").split():
        parts = tok.split(",")
        try:
            out.append((float(parts[0]), float(parts[1])))
        except (ValueError, IndexError):
            raise InputError(f"{where} has a KML coordinate {tok!r} that is not lon,lat[,alt].") from None
    return out


def _polygons_from_kml(text: str, where: str) -> list[list[list[tuple[float, float]]]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(f"{where} is not valid KML/XML ({exc}); re-export it from Google Earth.") from None
    polys = []
    for el in root.iter():
        if el.tag.split("}")[-1] != "Polygon":
            continue
        outer: list[tuple[float, float]] = []
        inner: list[list[tuple[float, float]]] = []
        for sub in el.iter():
            tag = sub.tag.split("}")[-1]
            if tag in ("outerBoundaryIs", "innerBoundaryIs"):
                for c in sub.iter():
                    if c.tag.split("}")[-1] == "coordinates":
                        ring = _kml_coords(c.text, where)
                        if tag == "outerBoundaryIs":
                            outer = ring
                        else:
                            inner.append(ring)
        if outer:
            # KML has no winding rule: normalise (outer CCW, holes CW) so the hole check below does not fire.
            if _signed_area(outer) < 0:
                outer = outer[::-1]
            inner = [r if _signed_area(r) < 0 else r[::-1] for r in inner]
            polys.append([outer, *inner])
    return polys


def _check_polygon(rings: list[list[tuple[float, float]]], where: str, repair: bool,
                   warnings: list[str]) -> list[Polygon]:
    """Validate one polygon's rings; return valid polygon(s) or raise PlanError."""
    rings = [r for r in rings if r]
    if not rings:
        raise PlanError(f"{where} has a polygon without coordinates; draw the area again.")
    flat = [p for r in rings for p in r]
    if any(not (math.isfinite(x) and math.isfinite(y)) for x, y in flat):
        raise PlanError(f"{where} has coordinates that are not numbers; fix the file.")
    bad_lat = any(abs(y) > 90 for _, y in flat)
    bad_lon = any(abs(x) > 180 for x, _ in flat)
    if bad_lat or bad_lon:
        swapped_ok = all(abs(x) <= 90 and abs(y) <= 180 for x, y in flat)
        if swapped_ok and repair:
            rings = [[(y, x) for x, y in r] for r in rings]
            warnings.append(f"{where}: coordinates were in lat,lon order; swapped to lon,lat (--repair).")
        elif swapped_ok:
            raise PlanError(f"{where} has latitudes outside ±90°, so its coordinates look like lat,lon; GeoJSON "
                            "and KML use lon,lat order — swap them, or run again with --repair.")
        else:
            raise PlanError(f"{where} has coordinates outside the valid range (lon ±180°, lat ±90°); "
                            "is it in a projected CRS? Export it as WGS84 lon/lat.")
    outer = rings[0]
    if _degenerate(outer):
        raise PlanError(f"{where} has zero area (fewer than three distinct corners or all on one line); "
                        "draw the area again.")
    outer_sign = math.copysign(1.0, _signed_area(outer))
    holes = []
    for i, ring in enumerate(rings[1:], start=1):
        if _degenerate(ring):
            warnings.append(f"{where}: hole {i} has zero area and was ignored.")
            continue
        if math.copysign(1.0, _signed_area(ring)) == outer_sign:
            if not repair:
                raise PlanError(f"{where} has a hole (ring {i + 1}) wound the same way as its outer ring, so it "
                                "is ambiguous whether it is a hole or a second area; reverse the ring, or run "
                                "again with --repair to treat it as a hole.")
            warnings.append(f"{where}: hole {i} was wound like the outer ring; treated as a hole (--repair).")
            ring = ring[::-1]
        holes.append(ring)
    poly = Polygon(outer, holes)
    if not poly.is_valid:
        reason = explain_validity(poly)
        if not repair:
            raise PlanError(f"{where} is not a valid polygon ({reason}); fix the outline, or run again with "
                            "--repair to let shapely's make_valid split it.")
        fixed = make_valid(poly)
        parts = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, (Polygon, MultiPolygon))]
        polys = [p for g in parts for p in getattr(g, "geoms", [g]) if p.area > 0]
        if not polys:
            raise PlanError(f"{where} has no area left after repair ({reason}); draw the area again.")
        warnings.append(f"{where}: invalid polygon ({reason}) repaired with make_valid into {len(polys)} part(s).")
        return [shapely.geometry.polygon.orient(p, 1.0) for p in polys]
    return [shapely.geometry.polygon.orient(poly, 1.0)]


def load_polygons(path: str | Path, *, repair: bool = False, what: str = "area file",
                  warnings: list[str] | None = None) -> list[Polygon]:
    """All polygons in a GeoJSON or KML file (lon/lat), validated."""
    path = Path(path)
    warnings = warnings if warnings is not None else []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"The {what} {path} does not exist; check the path.") from None
    except IsADirectoryError:
        raise InputError(f"The {what} {path} is a folder; name the GeoJSON or KML file inside it.") from None
    except UnicodeDecodeError:
        raise InputError(f"The {what} {path} is not a text file; give a GeoJSON or KML file "
                         "(for a .kmz, unzip it first).") from None
    stripped = text.lstrip()
    if path.suffix.lower() == ".kml" or stripped.startswith("<"):
        raw = _polygons_from_kml(text, f"The {what} {path.name}")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"The {what} {path} is not valid GeoJSON ({exc.msg} at line {exc.lineno}); "
                             "re-export it.") from None
        raw = _polygons_from_geojson(data, f"The {what} {path.name}")
    if not raw:
        raise InputError(f"The {what} {path} contains no Polygon or MultiPolygon; draw the area as a polygon.")
    polys: list[Polygon] = []
    for i, rings in enumerate(raw):
        where = f"The {what} {path.name}" + (f" (polygon {i + 1})" if len(raw) > 1 else "")
        polys.extend(_check_polygon(rings, where, repair, warnings))
    return polys


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """'minlon,minlat,maxlon,maxlat' -> floats, checked."""
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4:
        raise InputError(f"--bbox {text!r} must be four numbers: MINLON,MINLAT,MAXLON,MAXLAT.")
    w, s, e, n = vals
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise PlanError(f"--bbox {text!r} is outside the valid range; the order is MINLON,MINLAT,MAXLON,MAXLAT.")
    if w >= e or s >= n:
        raise PlanError(f"--bbox {text!r} has zero area or its corners reversed; the order is "
                        "MINLON,MINLAT,MAXLON,MAXLAT.")
    return w, s, e, n


def area_from_bbox(text: str) -> SurveyArea:
    w, s, e, n = parse_bbox(text)
    return SurveyArea(polygon=shapely.geometry.polygon.orient(box(w, s, e, n), 1.0), name="bbox")


def load_area(path: str | Path | None = None, *, bbox: str | None = None, exclude: list[str | Path] = (),
              repair: bool = False) -> SurveyArea:
    """The survey area from a file (GeoJSON/KML) or a bbox, with no-fly zones from ``exclude`` files.

    Raises
    ------
    InputError
        The file is missing or unreadable.
    PlanError
        A polygon is invalid (and ``repair`` is false) or the exclusions cover the whole area.
    """
    warnings: list[str] = []
    if (path is None) == (bbox is None):
        raise InputError("Give the survey area either as a GeoJSON/KML file or with --bbox, not both or neither.")
    if bbox is not None:
        area = area_from_bbox(bbox)
    else:
        polys = load_polygons(path, repair=repair, warnings=warnings)  # type: ignore[arg-type]
        merged = unary_union(polys)
        if not isinstance(merged, (Polygon, MultiPolygon)) or merged.is_empty:
            raise PlanError(f"The area file {Path(path).name} has no usable area; draw the area again.")  # type: ignore[arg-type]
        area = SurveyArea(polygon=merged, name=Path(path).stem)  # type: ignore[arg-type]
    exclusions: list[Polygon] = []
    for ex in exclude:
        exclusions.extend(load_polygons(ex, repair=repair, what="exclusion file", warnings=warnings))
    if exclusions and unary_union(exclusions).contains(area.polygon):
        raise PlanError("The no-fly zones cover the whole survey area; there is nothing left to photograph.")
    area.exclusions = exclusions
    area.warnings = warnings + area.warnings
    return area

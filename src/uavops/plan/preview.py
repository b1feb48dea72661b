"""Previews of a plan: a GeoJSON for any GIS/web map and a PNG map for a quick look in the field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry import LineString, Point, Polygon, mapping

from ..files import atomic_path, write_json
from ..geo import LocalProjection
from ..mission import MAV_CMD, Mission, is_global_frame
from .model import SurveyPlan

__all__ = ["preview_geojson", "write_preview_geojson", "write_preview_png", "footprint_polygon"]

_PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
            (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def _leg_headings(mission: Mission, proj: LocalProjection) -> dict[int, float]:
    """Heading (radians, math convention in local metres) of each leg, for footprint orientation."""
    out = {}
    for leg in mission.legs:
        ax, ay = proj.to_xy(leg.start_lon_deg, leg.start_lat_deg)
        bx, by = proj.to_xy(leg.end_lon_deg, leg.end_lat_deg)
        out[leg.leg] = math.atan2(by - ay, bx - ax)
    return out


def footprint_polygon(x: float, y: float, heading_rad: float, across_m: float, along_m: float) -> Polygon:
    """Ground footprint (metres) of a nadir photo taken at (x, y) flying along ``heading_rad``."""
    c, s = math.cos(heading_rad), math.sin(heading_rad)
    hx, hy = along_m / 2.0, across_m / 2.0
    pts = [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy)]
    return Polygon([(x + px * c - py * s, y + px * s + py * c) for px, py in pts])


def _footprint_rings(plan: SurveyPlan, photos: list, proj: LocalProjection) -> list[list[list[float]]]:  # type: ignore[type-arg]
    """Footprint corner rings (lon/lat) of all photos at once (vectorised: 40 000 photos in well under a second)."""
    headings = {}
    for part in plan.parts:
        headings.update(_leg_headings(part, proj))
    lon = np.array([p.lon_deg for p in photos])
    lat = np.array([p.lat_deg for p in photos])
    hd = np.array([headings.get(p.leg, 0.0) for p in photos])
    x, y = (np.asarray(v) for v in proj.to_xy(lon, lat))
    c, s = np.cos(hd), np.sin(hd)
    hx, hy = plan.footprint_front_m / 2.0, plan.footprint_side_m / 2.0
    corners = [(-hx, -hy), (hx, -hy), (hx, hy), (-hx, hy), (-hx, -hy)]
    cx = np.stack([x + px * c - py * s for px, py in corners], axis=1)
    cy = np.stack([y + px * s + py * c for px, py in corners], axis=1)
    clon, clat = proj.to_lonlat(cx.ravel(), cy.ravel())
    clon = np.round(np.asarray(clon), 8).reshape(cx.shape)
    clat = np.round(np.asarray(clat), 8).reshape(cx.shape)
    return [[[a, b] for a, b in zip(ro, la)] for ro, la in zip(clon.tolist(), clat.tolist())]


def _path_lonlat(mission: Mission) -> list[tuple[float, float]]:
    pts = [(mission.home.lon_deg, mission.home.lat_deg)]
    for it in mission.items:
        if it.is_nav_with_position and it.command != MAV_CMD.NAV_TAKEOFF and is_global_frame(it.frame):
            pts.append((it.param6, it.param5))
    pts.append((mission.home.lon_deg, mission.home.lat_deg))
    return pts


def preview_geojson(plan: SurveyPlan, *, footprints: bool = True) -> dict[str, Any]:
    """FeatureCollection: area, exclusions, fence, home, flight paths, transects, photo centres and footprints."""
    feats: list[dict[str, Any]] = []

    def add(geom: Any, **props: Any) -> None:
        feats.append({"type": "Feature", "geometry": geom if isinstance(geom, dict) else mapping(geom),
                      "properties": props})

    add(plan.area, role="area", area_ha=plan.summary.get("area_ha"))
    for i, ex in enumerate(plan.exclusions):
        add(ex, role="exclusion", index=i)
    add(plan.fence, role="fence", inclusion=True)
    m = plan.mission
    add(Point(m.home.lon_deg, m.home.lat_deg), role="home")
    c = plan.area.centroid
    proj = LocalProjection.for_point(c.x, c.y)
    for part in plan.parts:
        add(LineString(_path_lonlat(part)), role="flight_path", name=part.name, vehicle=part.vehicle + 1,
            sortie=part.sortie + 1)
        for leg in part.legs:
            add(LineString([(leg.start_lon_deg, leg.start_lat_deg), (leg.end_lon_deg, leg.end_lat_deg)]),
                role="transect", leg=leg.leg, start_seq=leg.start_seq, end_seq=leg.end_seq,
                vehicle=part.vehicle + 1, sortie=part.sortie + 1)
    photos = []
    seen: set[int] = set()
    for part in plan.parts:
        for ph in part.photos:
            if ph.photo_id not in seen:
                seen.add(ph.photo_id)
                photos.append(ph)
    for ph in photos:
        add({"type": "Point", "coordinates": [ph.lon_deg, ph.lat_deg]}, role="photo", photo_id=ph.photo_id,
            leg=ph.leg, vehicle=ph.vehicle + 1, sortie=ph.sortie + 1, alt_m=ph.alt_m)
    if footprints and photos:
        rings = _footprint_rings(plan, photos, proj)
        for ph, ring in zip(photos, rings):
            feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                          "properties": {"role": "footprint", "photo_id": ph.photo_id, "vehicle": ph.vehicle + 1,
                                         "sortie": ph.sortie + 1}})
    return {"type": "FeatureCollection", "name": "uavops survey plan", "properties": plan.summary, "features": feats}


def write_preview_geojson(plan: SurveyPlan, path: str | Path) -> Path:
    path = Path(path)
    # footprints of very large surveys make a file too big to open comfortably in a browser
    write_json(path, preview_geojson(plan, footprints=plan.summary.get("photo_count", 0) <= 20000), indent=None)
    return path


def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def write_preview_png(plan: SurveyPlan, path: str | Path, size_px: int = 1400) -> Path:
    """A map of the plan: area, no-fly zones, fence, transects coloured per sortie/vehicle, photos, home."""
    c = plan.area.centroid
    proj = LocalProjection.for_point(c.x, c.y)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        x, y = proj.to_xy(lon, lat)
        return float(x), float(y)

    fence_pts = [xy(lon, lat) for lon, lat in plan.fence.exterior.coords]
    home = xy(plan.mission.home.lon_deg, plan.mission.home.lat_deg)
    xs = [p[0] for p in fence_pts] + [home[0]]
    ys = [p[1] for p in fence_pts] + [home[1]]
    minx, maxx, miny, maxy = min(xs), max(xs), min(ys), max(ys)
    margin = 40
    legend_h = 120
    scale = min((size_px - 2 * margin) / max(maxx - minx, 1.0), (size_px - 2 * margin - legend_h) / max(maxy - miny, 1.0))
    width = int(2 * margin + (maxx - minx) * scale)
    height = int(2 * margin + legend_h + (maxy - miny) * scale)
    img = Image.new("RGB", (max(width, 600), height), (250, 250, 247))
    draw = ImageDraw.Draw(img, "RGBA")

    def px(x: float, y: float) -> tuple[float, float]:
        return margin + (x - minx) * scale, margin + (maxy - y) * scale

    def ring(coords: Any) -> list[tuple[float, float]]:
        return [px(*xy(lon, lat)) for lon, lat in coords]

    draw.line(ring(plan.fence.exterior.coords), fill=(200, 120, 0, 255), width=2)
    for poly in getattr(plan.area, "geoms", [plan.area]):
        draw.polygon(ring(poly.exterior.coords), fill=(120, 190, 120, 90), outline=(40, 120, 40, 255))
        for hole in poly.interiors:
            draw.polygon(ring(hole.coords), fill=(250, 250, 247, 255), outline=(40, 120, 40, 255))
    for ex in plan.exclusions:
        draw.polygon(ring(ex.exterior.coords), fill=(220, 40, 40, 110), outline=(180, 0, 0, 255))
    multi = len(plan.parts) > 1
    dot = max(1, min(3, int(scale * plan.trigger_distance_m / 6)))
    for i, part in enumerate(plan.parts):
        color = _PALETTE[i % len(_PALETTE)] if multi else _PALETTE[0]
        flight = [px(*xy(lon, lat)) for lon, lat in _path_lonlat(part)]
        draw.line(flight, fill=color + (110,), width=1)
        for leg in part.legs:
            draw.line([px(*xy(leg.start_lon_deg, leg.start_lat_deg)), px(*xy(leg.end_lon_deg, leg.end_lat_deg))],
                      fill=color + (255,), width=2)
        if len(part.photos) <= 20000:
            for ph in part.photos:
                x, y = px(*xy(ph.lon_deg, ph.lat_deg))
                draw.ellipse([x - dot, y - dot, x + dot, y + dot], fill=(20, 20, 20, 200))
    hx, hy = px(*home)
    draw.rectangle([hx - 7, hy - 7, hx + 7, hy + 7], fill=(0, 0, 0), outline=(255, 255, 255))
    font, small = _font(18), _font(14)
    draw.text((hx + 10, hy - 8), "H", fill=(0, 0, 0), font=small)
    # north arrow and scale bar
    ax, ay = img.width - margin - 10, margin + 10
    draw.polygon([(ax, ay - 10), (ax - 8, ay + 14), (ax + 8, ay + 14)], fill=(0, 0, 0))
    draw.text((ax - 5, ay + 16), "N", fill=(0, 0, 0), font=small)
    bar_m = 10 ** math.floor(math.log10(max((maxx - minx) / 4, 1.0)))
    for mult in (5, 2, 1):
        if bar_m * mult * scale < img.width / 4:
            bar_m *= mult
            break
    y0 = height - legend_h - margin / 2 + 20
    draw.line([(margin, y0), (margin + bar_m * scale, y0)], fill=(0, 0, 0), width=3)
    draw.text((margin, y0 + 4), f"{bar_m:g} m", fill=(0, 0, 0), font=small)
    s = plan.summary
    lines = [
        f"{s.get('camera')}  ·  {s.get('alt_m')} m AGL  ·  GSD {s.get('gsd_cm')} cm/px  ·  "
        f"overlap {s.get('front_overlap_pct'):g}/{s.get('side_overlap_pct'):g} %  ·  angle {s.get('angle_deg')}°",
        f"{s.get('photo_count')} photos  ·  {s.get('legs')} legs  ·  {s.get('distance_m', 0) / 1000:.1f} km  ·  "
        f"{s.get('time_s', 0) / 60:.0f} min  ·  {s.get('sorties')} sortie(s)  ·  {s.get('vehicles')} vehicle(s)",
        "green: area  ·  red: no-fly  ·  orange: geofence  ·  lines: transects"
        + ("  (colour = sortie/vehicle)" if multi else "") + "  ·  H: home",
    ]
    for k, line in enumerate(lines):
        draw.text((margin, y0 + 28 + k * 24), line, fill=(0, 0, 0), font=font if k < 2 else small)
    with atomic_path(path, suffix=".png") as tmp:
        img.save(tmp, format="PNG", optimize=True)
    return Path(path)

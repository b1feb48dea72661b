"""Disaster events: they grade buildings and add event extents to a layout (post-event only).

Each event sets ``Building.grade`` (0..3 → :data:`uavops.package.DAMAGE_GRADES`) and the render
state (collapsed area, mud cover, charring) and returns the extents as polygons. The truth files
are written from exactly these objects, so the pictures and the truth cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import unary_union

from ..errors import SceneError
from .layout import Layout, rect_coords

__all__ = ["EVENTS", "EventResult", "apply_event", "wobble"]

#: Supported events and the ``event_type`` their extents carry in events.geojson.
EVENTS: dict[str, str] = {
    "earthquake": "debris",
    "flood": "flood",
    "mudflow": "mudflow",
    "tailings": "tailings",
    "fire": "burn_scar",
    "none": "",
}
_ALIASES = {"tailings_dam_failure": "tailings", "tailings-dam-failure": "tailings", "sel": "mudflow",
            "landslide": "mudflow", "industrial_fire": "fire", "industrial-fire": "fire", "industrial": "fire"}


@dataclass
class EventResult:
    event: str
    extents: list[tuple[Polygon, str]] = field(default_factory=list)   # truth (mask value 4)
    ground: list[tuple[Polygon, str]] = field(default_factory=list)    # post-event ground layers (material kind)
    pre_ground: list[tuple[Polygon, str]] = field(default_factory=list)  # layers present before the event too
    debris: list[Polygon] = field(default_factory=list)


def canonical_event(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in EVENTS:
        raise SceneError(f"Unknown event '{name}'; use one of earthquake, flood, mudflow, tailings, fire.")
    return key


def wobble(poly: Polygon, amp_m: float, rng: np.random.Generator, spacing_m: float = 3.0) -> Polygon:
    """An irregular version of ``poly``: its outline pushed in/out by smooth noise of ``amp_m``."""
    if poly.is_empty:
        return poly
    if poly.geom_type != "Polygon":
        poly = max(poly.geoms, key=lambda g: g.area)  # type: ignore[attr-defined]
    ring = np.asarray(poly.exterior.coords)[:-1]
    line = LineString(np.vstack([ring, ring[:1]]))
    n = max(12, int(line.length / spacing_m))
    pts = np.array([line.interpolate(i / n, normalized=True).coords[0] for i in range(n)])
    k = max(3, n // 6)
    coarse = rng.normal(0, 1, k)
    idx = np.arange(n) * k / n
    i0 = np.floor(idx).astype(int) % k
    f = idx - np.floor(idx)
    f = f * f * (3 - 2 * f)
    smooth = coarse[i0] * (1 - f) + coarse[(i0 + 1) % k] * f + 0.35 * rng.normal(0, 1, n)
    c = np.array(poly.centroid.coords[0])
    d = pts - c
    norm = np.linalg.norm(d, axis=1, keepdims=True)
    norm[norm == 0] = 1
    out = pts + d / norm * (smooth[:, None] * amp_m)
    res = Polygon(out).buffer(0)
    if res.geom_type != "Polygon":
        res = max(res.geoms, key=lambda g: g.area)  # type: ignore[attr-defined]
    return res


def _flow_polygon(rng: np.random.Generator, S: float, upslope: str, w0: float, length_frac: float,
                  start: tuple[float, float] | None = None) -> tuple[Polygon, Polygon, LineString]:
    """A debris-flow path from the upslope edge: meandering centre line widening into a fan."""
    n = 60
    t = np.linspace(0, 1, n)
    along = t * length_frac * S
    across0 = start[0] if start else float(rng.uniform(0.3, 0.7)) * S
    across = across0 + float(rng.uniform(0.05, 0.12)) * S * np.sin(2 * math.pi * t * rng.uniform(0.7, 1.4)
                                                                      + rng.uniform(0, 6.28))
    across = across - (across[0] - across0)
    start_along = start[1] if start else -30.0
    along = along + start_along
    if upslope == "south":
        pts = np.stack([across, S - along], 1)
    elif upslope == "north":
        pts = np.stack([across, along], 1)
    elif upslope == "east":
        pts = np.stack([S - along, across], 1)
    else:
        pts = np.stack([along, across], 1)
    width = w0 * (1.0 + 0.9 * np.clip((t - 0.6) / 0.4, 0, 1) ** 1.5) * (1 + 0.15 * np.sin(t * 17 + rng.uniform(0, 6)))
    circles = [Point(*p).buffer(w / 2, 16) for p, w in zip(pts, width)]
    flow = unary_union(circles).buffer(4).buffer(-4)
    core = unary_union([Point(*p).buffer(w * 0.2, 12) for p, w in zip(pts, width)])
    flow = wobble(flow, w0 * 0.08, rng, spacing_m=4.0)
    return flow, core, LineString(pts)


def _grade_by_zone(layout: Layout, destroyed: Polygon, damaged: Polygon, possibly: Polygon) -> None:
    for b in layout.buildings:
        fp = b.footprint
        if fp.intersects(destroyed) and fp.intersection(destroyed).area > 0.3 * fp.area:
            b.grade = 3
        elif fp.intersects(damaged) and fp.intersection(damaged).area > 0.3 * fp.area:
            b.grade = 2
        elif fp.intersects(possibly):
            b.grade = 1


def apply_event(layout: Layout, event: str, seed: int) -> EventResult:
    """Grade the buildings and build the extents of ``event`` on ``layout`` (modified in place)."""
    event = canonical_event(event)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 7919, sum(map(ord, event))])
    S = layout.size_m
    res = EventResult(event)
    scene = box(0, 0, S, S)
    if event == "none":
        return res
    if event == "earthquake":
        bumps = [(rng.uniform(0, S), rng.uniform(0, S), rng.uniform(0.2, 0.6) * S) for _ in range(3)]
        scores = []
        vuln = {"house": 1.0, "shed": 0.8, "apartment": 0.75, "industrial": 0.7, "tank": 0.3}
        for b in layout.buildings:
            c = b.footprint.centroid
            inten = sum(math.exp(-((c.x - x) ** 2 + (c.y - y) ** 2) / (2 * s * s)) for x, y, s in bumps)
            scores.append(inten * vuln.get(b.kind, 0.8) + rng.normal(0, 0.25))
        order = np.argsort(-np.asarray(scores), kind="stable")
        n = len(order)
        cuts = [int(round(n * 0.12)), int(round(n * 0.27)), int(round(n * 0.47))]
        if n >= 4:
            cuts = [max(1, cuts[0]), max(cuts[0] + 1, cuts[1]), max(cuts[1] + 1, cuts[2])]
        for rank, i in enumerate(order):
            b = layout.buildings[int(i)]
            b.grade = 3 if rank < cuts[0] else 2 if rank < cuts[1] else 1 if rank < cuts[2] else 0
        footprints = unary_union([b.footprint for b in layout.buildings]) if layout.buildings else Polygon()
        for b in layout.buildings:
            fp = b.footprint
            if b.grade == 3:
                b.collapse = fp
                spill = wobble(fp.buffer(float(rng.uniform(1.5, 3.5))), 1.2, rng, 1.5)
                c = fp.centroid
                ang = rng.uniform(0, 2 * math.pi)
                lobe = Point(c.x + math.cos(ang) * 6, c.y + math.sin(ang) * 6).buffer(float(rng.uniform(3, 6)))
                debris = unary_union([spill, wobble(lobe, 1.0, rng, 1.5)]).difference(footprints).intersection(scene)
                if not debris.is_empty:
                    res.debris.append(debris)
            elif b.grade == 2:
                minx, miny, maxx, maxy = fp.bounds
                c = fp.centroid
                ang = rng.uniform(0, 2 * math.pi)
                size = max(maxx - minx, maxy - miny)
                half = Polygon(rect_coords(c.x + math.cos(ang) * size * 0.45, c.y + math.sin(ang) * size * 0.45,
                                           size * 0.5, size, ang))
                part = wobble(fp.intersection(half).buffer(0.01), 0.6, rng, 1.0).intersection(fp)
                b.collapse = part if part.area > 0.1 * fp.area else fp.intersection(half)
                debris = wobble(b.collapse.buffer(1.8), 0.8, rng, 1.2).difference(footprints).intersection(scene)
                if not debris.is_empty:
                    res.debris.append(debris)
        if res.debris:
            for d in res.debris:
                res.extents.append((d, "debris"))
        return res
    if event == "flood":
        river = layout.river
        assert river is not None
        n = 40
        pts = [river.interpolate(i / (n - 1), normalized=True) for i in range(n)]
        base = float(rng.uniform(0.12, 0.25)) * S
        phase = rng.uniform(0, 6.28)
        radii = layout.river_width_m / 2 + base * (0.55 + 0.45 * np.sin(np.linspace(0, 3 * math.pi, n) + phase)) \
            + rng.uniform(0, 0.04 * S, n)
        water = unary_union([p.buffer(r, 16) for p, r in zip(pts, radii)]).buffer(8).buffer(-8)
        water = wobble(water, 4.0, rng, 5.0).intersection(scene)
        channel = river.buffer(layout.river_width_m / 2 + 20.0)
        deep = water.buffer(-12.0)
        _grade_by_zone(layout, channel.intersection(water), deep, water.buffer(3.0))
        for b in layout.buildings:
            if b.grade == 3:
                b.collapse = b.footprint
            elif b.grade == 2 and rng.random() < 0.3:
                b.collapse = b.footprint.intersection(b.footprint.centroid.buffer(2.5))
        res.ground.append((water, "flood_water"))
        res.extents.append((water, "flood"))
        return res
    if event in ("mudflow", "tailings"):
        start = None
        if event == "tailings":
            # tailings pond against the upslope edge, dam on its downslope side, breached
            across = float(rng.uniform(0.3, 0.7)) * S
            depth = float(rng.uniform(0.12, 0.18)) * S
            wid = float(rng.uniform(0.25, 0.35)) * S
            if layout.upslope == "south":
                pond = box(across - wid / 2, S - depth, across + wid / 2, S + 20)
            elif layout.upslope == "north":
                pond = box(across - wid / 2, -20, across + wid / 2, depth)
            elif layout.upslope == "east":
                pond = box(S - depth, across - wid / 2, S + 20, across + wid / 2)
            else:
                pond = box(-20, across - wid / 2, depth, across + wid / 2)
            pond = wobble(pond, 3.0, rng, 6.0)
            dam = pond.buffer(7.0).difference(pond)
            layout.buildings[:] = [b for b in layout.buildings if not b.footprint.intersects(pond.buffer(12.0))]
            for i, b in enumerate(layout.buildings, start=1):
                b.id = i
            keep = np.array([not pond.buffer(6).contains(Point(t[0], t[1])) for t in layout.trees], bool)
            layout.trees = layout.trees[keep] if len(layout.trees) else layout.trees
            res.pre_ground.append((dam.intersection(scene.buffer(20)), "dam"))
            res.pre_ground.append((pond.intersection(scene.buffer(20)), "tailings_pond"))
            start = (across, depth - 5.0)
        flow, core, _ = _flow_polygon(rng, S, layout.upslope, float(rng.uniform(0.09, 0.16)) * S,
                                      float(rng.uniform(0.75, 1.0)), start)
        flow = flow.intersection(scene)
        _grade_by_zone(layout, core.buffer(4.0), flow.buffer(-3.0), flow.buffer(6.0))
        for b in layout.buildings:
            if b.grade == 3:
                b.collapse = b.footprint
                b.mud_cover = wobble(b.footprint.buffer(1.0), 1.2, rng, 1.5).intersection(flow.buffer(3))
            elif b.grade == 2:
                b.mud_cover = wobble(b.footprint.intersection(flow).buffer(0.01), 1.0, rng, 1.5).intersection(
                    b.footprint).buffer(0) if rng.random() < 0.6 else None
        kind = "mud" if event == "mudflow" else "tailings_sludge"
        if event == "tailings":
            # the impoundment emptied through the breach: exposed tailings where there was a pond. It is
            # part of the event's extent (analysts map the emptied reservoir with the flow, as for
            # Brumadinho), so it is truth as well as paint.
            drained = res.pre_ground[1][0].buffer(-6.0)
            res.ground.append((drained, "tailings_drained"))
            # the breach: a gap in the dam where the flow leaves the pond
            res.ground.append((flow.intersection(res.pre_ground[0][0].buffer(2)), kind))
        res.ground.append((flow, kind))
        res.extents.append((flow.union(drained.intersection(scene)) if event == "tailings" else flow, event))
        return res
    if event == "fire":
        cx, cy = layout.industrial_centre or (S / 2, S / 2)
        radius = float(rng.uniform(0.1, 0.16)) * S + 25
        scar = wobble(Point(cx, cy).buffer(radius, 32), radius * 0.12, rng, 5.0).intersection(scene)
        core = Point(cx, cy).buffer(radius * 0.55)
        _grade_by_zone(layout, core, scar.buffer(-4.0), scar.buffer(10.0))
        for b in layout.buildings:
            if b.grade == 3:
                b.burnt, b.collapse = 1.0, b.footprint
            elif b.grade == 2:
                b.burnt = 0.7
                c = b.footprint.centroid
                b.collapse = b.footprint.intersection(Point(c.x, c.y).buffer(
                    math.sqrt(b.footprint.area) * 0.35)).buffer(0)
            elif b.grade == 1:
                b.burnt = 0.25
        res.ground.append((scar, "burn"))
        res.extents.append((scar, "burn_scar"))
        return res
    raise SceneError(f"Event '{event}' is not implemented.")  # pragma: no cover

"""Survey-line geometry in local metres: sweep segments, the `auto` angle, leg order, detours.

Angles are compass headings of the flight lines (0° = lines run north–south, 90° = east–west),
as QGroundControl's survey "angle". Internally the area is rotated so the lines run along +x.

Coverage rule (why segments are not just line∩polygon): line ``k`` is responsible for the strip
``|y - y_k| <= spacing/2``; its segments are the x-extents of the strip's intersection with the
area (minus holes and no-fly zones), so slanted edges inside the strip are still photographed.
The first line sits half a spacing inside the area's edge. A line that meets the area several
times (concave outline, holes) is split into several segments; no segment, turnaround or
transit enters a no-fly zone (buffered by ``exclusion_margin_m``).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon, box
from shapely.ops import unary_union
from shapely.prepared import prep

__all__ = ["Segment", "sweep_segments", "auto_angle", "order_segments", "count_segments",
           "longest_edge_angle", "detour", "line_angle_to_rotation", "corner_xy"]


@dataclass(frozen=True)
class Segment:
    """One survey segment on line ``line`` (metres, local projection), flown from a to b."""

    ax: float
    ay: float
    bx: float
    by: float
    line: int
    pass_no: int = 0  # 0 = main pass, 1 = crosshatch pass

    @property
    def length_m(self) -> float:
        return math.hypot(self.bx - self.ax, self.by - self.ay)

    def reversed(self) -> "Segment":
        return Segment(self.bx, self.by, self.ax, self.ay, self.line, self.pass_no)

    @property
    def unit(self) -> tuple[float, float]:
        length = self.length_m or 1.0
        return (self.bx - self.ax) / length, (self.by - self.ay) / length


END_MARGIN_M = 0.5  # distance between a leg's last planned photo and its end waypoint


def line_angle_to_rotation(angle_deg: float) -> float:
    """Degrees to rotate the world (CCW) so lines of compass heading ``angle_deg`` run along +x."""
    return angle_deg - 90.0


def _rotate(geom, rot_deg: float):  # type: ignore[no-untyped-def]
    return affinity.rotate(geom, rot_deg, origin=(0.0, 0.0))


def _strip_intervals(region, ys: np.ndarray, spacing_m: float, minx: float, maxx: float) -> list[list[tuple[float, float]]]:  # type: ignore[no-untyped-def]
    """For each line y, merged x-intervals of region ∩ strip(y ± spacing/2)."""
    half = spacing_m / 2.0
    boxes = shapely.box(minx - 1.0, ys - half, maxx + 1.0, ys + half)
    pieces = shapely.intersection(boxes, region)
    out: list[list[tuple[float, float]]] = []
    for piece in pieces:
        intervals = []
        if piece is not None and not piece.is_empty:
            for part in getattr(piece, "geoms", [piece]):
                if part.area <= 1e-6 * spacing_m:  # slivers from touching edges
                    continue
                bx0, _, bx1, _ = part.bounds
                intervals.append((bx0, bx1))
        intervals.sort()
        merged: list[tuple[float, float]] = []
        for a, b in intervals:
            if merged and a <= merged[-1][1] + 1e-6:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        out.append(merged)
    return out


def _line_intervals(lines: np.ndarray, geom) -> list[list[tuple[float, float]]]:  # type: ignore[no-untyped-def]
    """x-intervals of each horizontal line ∩ geom."""
    out = []
    for inter in shapely.intersection(lines, geom):
        iv = []
        for g in getattr(inter, "geoms", [inter]):
            if g is None or g.is_empty or g.geom_type not in ("LineString", "LinearRing"):
                continue
            x0, _, x1, _ = g.bounds
            if x1 - x0 > 1e-6:
                iv.append((x0, x1))
        iv.sort()
        merged: list[tuple[float, float]] = []
        for lo, hi in iv:
            if merged and lo <= merged[-1][1] + 1e-6:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        out.append(merged)
    return out


def sweep_segments(area_m: Polygon | MultiPolygon, angle_deg: float, spacing_m: float, *,
                   exclusions_m: list[Polygon] = (), exclusion_margin_m: float = 5.0,
                   trigger_distance_m: float | None = None, reach_m: float = 0.0, along_reach_m: float = 0.0,
                   across_reach_m: float = 0.0, pass_no: int = 0) -> list[Segment]:
    """Survey segments (unordered, each flown west-to-east in the rotated frame), in metres.

    A segment is the part of line ``k`` where its strip (±spacing/2) holds area to photograph,
    limited to where the line itself is inside the area grown by ``reach_m`` (the turnaround
    distance) and outside the buffered no-fly zones. ``trigger_distance_m`` lengthens each
    segment, within those limits, to a whole number of photo intervals so the last photo falls
    on its end. With ``along_reach_m``/``across_reach_m`` (half the photo footprint along/across
    track), parts of the area no photo would see get an extra segment along them.
    """
    if spacing_m <= 0:
        raise ValueError("spacing must be positive")
    rot = line_angle_to_rotation(angle_deg)
    region = area_m
    limit = area_m.buffer(reach_m) if reach_m > 0 else area_m  # round: never farther than reach_m
    if exclusions_m:
        ex = unary_union(list(exclusions_m))
        region = area_m.difference(ex)
        blocked = ex.buffer(exclusion_margin_m, join_style="mitre") if exclusion_margin_m > 0 else ex
        limit = limit.difference(blocked)
    region_r = _rotate(region, rot)
    limit_r = _rotate(limit, rot)
    if region_r.is_empty or limit_r.is_empty:
        return []
    minx, miny, maxx, maxy = region_r.bounds
    lminx, _, lmaxx, _ = limit_r.bounds
    height = maxy - miny
    n_lines = max(1, math.ceil(height / spacing_m - 1e-9))
    if n_lines == 1:
        ys = np.array([miny + height / 2.0])
    else:
        # first and last lines half a spacing inside the edges, the rest evenly between (<= spacing)
        ys = np.linspace(miny + spacing_m / 2.0, maxy - spacing_m / 2.0, n_lines)
    per_line = _strip_intervals(region_r, ys, spacing_m, minx, maxx)
    lines = shapely.linestrings([[[lminx - 10.0, y], [lmaxx + 10.0, y]] for y in ys])
    allowed_per_line = _line_intervals(lines, limit_r)
    inv = -rot
    cos_r, sin_r = math.cos(math.radians(inv)), math.sin(math.radians(inv))
    segs: list[Segment] = []
    half = spacing_m / 2.0

    def emit(k: int, y: float, a: float, b: float, lo: float, hi: float) -> tuple[float, float]:
        if trigger_distance_m:
            a, b = _extend_to_interval(a, b, lo, hi, trigger_distance_m)
        ax, ay = a * cos_r - y * sin_r, a * sin_r + y * cos_r
        bx, by = b * cos_r - y * sin_r, b * sin_r + y * cos_r
        segs.append(Segment(float(ax), float(ay), float(bx), float(by), k, pass_no))
        return a, b

    boxes = []
    for k, (y, cand, allowed) in enumerate(zip(ys, per_line, allowed_per_line)):
        for lo, hi in allowed:
            for c0, c1 in cand:
                a, b = max(lo, c0), min(hi, c1)
                if b - a > 1e-6:
                    a, b = emit(k, float(y), a, b, lo, hi)
                    boxes.append((a, float(y), b))
    if along_reach_m > 0 and across_reach_m > 0:
        _fill_gaps(region_r, limit_r, boxes, ys, spacing_m, along_reach_m, across_reach_m, emit, lminx, lmaxx)
    return segs


def _fill_gaps(region_r, limit_r, boxes, ys, spacing_m, along, across, emit, lminx, lmaxx) -> None:  # type: ignore[no-untyped-def]
    """Extra segments over parts of the area no photo sees (a thin arm running between two lines).

    Photos of a segment see ``along`` past its ends and ``across`` to each side. What the area
    still holds outside all of that, if bigger than a sliver, gets a segment along its longest
    inside line, so flight lines never have to leave the area to photograph it.
    """
    seen = shapely.union_all(shapely.box(*np.array(
        [(a - along, y - across, b + along, y + across) for a, y, b in boxes]).T)) if boxes else None
    missing = region_r.difference(seen) if seen is not None else region_r
    small = 0.02 * spacing_m * spacing_m
    if missing.is_empty or missing.area < small:
        return
    for part in sorted(getattr(missing, "geoms", [missing]), key=lambda g: -g.area):
        if part.area < small or (seen is not None and part.difference(seen).area < small):
            continue
        px0, py0, px1, py1 = part.bounds
        tries = np.linspace(py0, py1, 9)[1:-1]
        lengths = shapely.length(shapely.intersection(
            shapely.linestrings([[[px0 - 1.0, t], [px1 + 1.0, t]] for t in tries]), part))
        y2 = float(tries[int(np.argmax(lengths))])
        k = int(np.argmin(np.abs(np.asarray(ys) - y2)))
        row = _line_intervals(shapely.linestrings([[[lminx - 10.0, y2], [lmaxx + 10.0, y2]]]), limit_r)[0]
        for lo, hi in row:
            a, b = max(lo, px0), min(hi, px1)
            if b - a > 1e-6:
                a, b = emit(k, y2, a, b, lo, hi)
                cover = box(a - along, y2 - across, b + along, y2 + across)
                seen = cover if seen is None else seen.union(cover)


def _minus(intervals: list[tuple[float, float]], cuts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for a, b in intervals:
        pieces = [(a, b)]
        for c0, c1 in cuts:
            nxt = []
            for p0, p1 in pieces:
                if c1 <= p0 or c0 >= p1:
                    nxt.append((p0, p1))
                    continue
                if c0 > p0:
                    nxt.append((p0, c0))
                if c1 < p1:
                    nxt.append((c1, p1))
            pieces = nxt
        out.extend(pieces)
    return out


def _extend_to_interval(a: float, b: float, lo: float, hi: float, step: float) -> tuple[float, float]:
    """Lengthen [a, b] within [lo, hi] to whole photo intervals plus the end margin."""
    length = b - a
    # last photo half a metre before the leg's end, so the distance trigger surely fires it
    target = max(0, math.ceil((length - END_MARGIN_M) / step - 1e-9)) * step + END_MARGIN_M
    extra = target - length
    if extra <= 1e-6:
        return a, b
    if a - extra / 2.0 >= lo and b + extra / 2.0 <= hi:
        return a - extra / 2.0, b + extra / 2.0
    if b + extra <= hi:
        return a, b + extra
    if a - extra >= lo:
        return a - extra, b
    room_a, room_b = a - lo, hi - b  # as much as fits
    return a - min(room_a, extra / 2.0), b + min(room_b, extra / 2.0)


def count_segments(area_m: Polygon | MultiPolygon, angle_deg: float, spacing_m: float,
                   exclusions_m: list[Polygon] = (), **sweep: Any) -> int:
    """Number of segments a sweep at ``angle_deg`` produces (turns = segments - 1).

    ``sweep`` takes the other :func:`sweep_segments` options, so the count is the planner's own.
    """
    return len(sweep_segments(area_m, angle_deg, spacing_m, exclusions_m=exclusions_m, **sweep))


def _edge_angles(geom: Polygon | MultiPolygon) -> list[tuple[float, float]]:
    """(compass heading of edge mod 180, length) for every exterior edge."""
    out = []
    for poly in getattr(geom, "geoms", [geom]):
        xy = np.asarray(poly.exterior.coords)
        d = np.diff(xy, axis=0)
        lengths = np.hypot(d[:, 0], d[:, 1])
        headings = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 180.0
        out.extend(zip(headings.tolist(), lengths.tolist()))
    return out


def longest_edge_angle(area_m: Polygon | MultiPolygon) -> float:
    """Compass heading of the area's longest edge (Mission Planner's and many pilots' default)."""
    return max(_edge_angles(area_m), key=lambda e: e[1])[0]


def _width(hull: Polygon, angle_deg: float) -> float:
    rotated = _rotate(hull, line_angle_to_rotation(angle_deg))
    return rotated.bounds[3] - rotated.bounds[1]


def auto_angle(area_m: Polygon | MultiPolygon, spacing_m: float, exclusions_m: list[Polygon] = (),
               **sweep: Any) -> float:
    """The line heading that needs the fewest turns.

    Candidates are every convex-hull edge direction (the minimum-width direction is one of them:
    rotating calipers), the longest polygon edge, 0° and 90°; the fewest segments wins and ties go
    to the smaller width. Because 0° and the longest edge are candidates, `auto` never needs more
    turns than either.
    """
    hull = area_m.convex_hull
    cands = {round(a, 3) for a, _ in _edge_angles(hull)}
    cands |= {round(longest_edge_angle(area_m), 3), 0.0, 90.0}
    ranked = sorted(cands, key=lambda a: _width(hull, a))
    # keep it fast on detailed outlines: full sweeps for the 10 narrowest plus the two references
    shortlist = list(dict.fromkeys(ranked[:10] + [round(longest_edge_angle(area_m), 3), 0.0]))
    best = min(shortlist, key=lambda a: (count_segments(area_m, a, spacing_m, exclusions_m, **sweep), _width(hull, a)))
    return float(best % 180.0)


def detour(ax: float, ay: float, bx: float, by: float, blocked: Polygon | MultiPolygon | None,
           clearance: Polygon | MultiPolygon | None = None) -> list[tuple[float, float]]:
    """Intermediate points so that the path a→b does not cross ``blocked`` (shortest via its hull corners).

    ``clearance`` is the slightly larger shape whose vertices are used as via points. Returns []
    when the straight line is clear.
    """
    if blocked is None or blocked.is_empty:
        return []
    if not LineString([(ax, ay), (bx, by)]).intersects(blocked):
        return []
    around = clearance if clearance is not None else blocked.buffer(1.0)
    nodes = [(ax, ay), (bx, by)]
    for poly in getattr(around, "geoms", [around]):
        nodes.extend(list(poly.convex_hull.exterior.coords)[:-1])
    n = len(nodes)
    prepared = prep(blocked)

    def clear(i: int, j: int) -> bool:
        return not prepared.intersects(LineString([nodes[i], nodes[j]]))

    dist = [math.inf] * n
    prev = [-1] * n
    dist[0] = 0.0
    heap = [(0.0, 0)]
    while heap:
        d, i = heapq.heappop(heap)
        if d > dist[i]:
            continue
        if i == 1:
            break
        for j in range(n):
            if j == i:
                continue
            nd = d + math.dist(nodes[i], nodes[j])
            if nd < dist[j] and clear(i, j):
                dist[j] = nd
                prev[j] = i
                heapq.heappush(heap, (nd, j))
    if prev[1] < 0:
        return []  # no way round (start or end inside): leave it to the caller's checks
    path = []
    j = prev[1]
    while j > 0:
        path.append(nodes[j])
        j = prev[j]
    return path[::-1]


def order_segments(segs: list[Segment], start_xy: tuple[float, float]) -> list[Segment]:
    """Flight order: nearest-end greedy from ``start_xy``, flying each segment from its nearer end.

    For a convex area this is the classic boustrophedon; where lines are split (concave outline,
    holes) it finishes one side of the obstacle before jumping to the other.
    """
    remaining = list(segs)
    out: list[Segment] = []
    px, py = start_xy
    while remaining:
        best_i, best_d, best_rev = 0, math.inf, False
        for i, s in enumerate(remaining):
            da = (s.ax - px) ** 2 + (s.ay - py) ** 2
            db = (s.bx - px) ** 2 + (s.by - py) ** 2
            if da < best_d:
                best_i, best_d, best_rev = i, da, False
            if db < best_d:
                best_i, best_d, best_rev = i, db, True
        s = remaining.pop(best_i)
        s = s.reversed() if best_rev else s
        out.append(s)
        px, py = s.bx, s.by
    return out


def corner_xy(segs: list[Segment], entry: str) -> tuple[float, float]:
    """The segment end nearest the compass corner ``entry`` (nw/ne/sw/se) of all segments."""
    pts = [(s.ax, s.ay) for s in segs] + [(s.bx, s.by) for s in segs]
    sx = {"nw": -1, "sw": -1, "ne": 1, "se": 1}[entry]
    sy = {"nw": 1, "ne": 1, "sw": -1, "se": -1}[entry]
    return max(pts, key=lambda p: sx * p[0] + sy * p[1])


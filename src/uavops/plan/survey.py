"""The survey planner: area + camera + parameters → missions (ArduCopter semantics).

Pipeline: solve altitude/GSD and spacing (QGroundControl's formulas) → cap the speed (photo
interval, motion blur) → sweep segments in local metres (:mod:`.geometry`) → flight order →
photos → split into vehicles and sorties on photo boundaries (:mod:`.timing`) → mission items
(terrain-following with a DEM) → fence and rally point.

Mission layout per sortie (wire seq 0 = home, added by :meth:`Mission.wire_items`)::

    NAV_TAKEOFF (relative alt) · DO_CHANGE_SPEED
    per leg:  [NAV_WAYPOINT turnaround-in] · NAV_WAYPOINT leg start · DO_SET_CAM_TRIGG_DIST(d, 0, 1)
              · [NAV_WAYPOINT terrain breaks] · NAV_WAYPOINT leg end · DO_SET_CAM_TRIGG_DIST(0)
              · [NAV_WAYPOINT turnaround-out]
    (hover-and-capture: per photo NAV_WAYPOINT · DO_DIGICAM_CONTROL · NAV_LOITER_TIME)
    [NAV_WAYPOINT detours around no-fly zones] · NAV_RETURN_TO_LAUNCH

A :class:`SurveyLeg` spans wire seq ``start_seq`` (the leg-start waypoint) to ``end_seq`` (the
item that ends the leg's capture: the trigger-off DO_SET_CAM_TRIGG_DIST, or the last photo's
NAV_LOITER_TIME in hover mode), inclusive.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.ops import unary_union

from ..errors import PlanError
from ..geo import LocalProjection
from ..mission import (MAV_CMD, MAV_FRAME, MAV_MISSION_TYPE, HomePosition, Mission, MissionItem, PlannedPhoto,
                       SurveyLeg)
from .area import SurveyArea
from .camera import Camera
from .geometry import END_MARGIN_M, Segment, auto_angle, corner_xy, detour, order_segments, sweep_segments
from .model import SurveyParams, SurveyPlan
from .terrain import Dem, profile_breaks
from .timing import Kinematics, PathPoint, mission_time_s

__all__ = ["plan_survey", "solve_altitude", "cap_speed"]

log = logging.getLogger(__name__)



# ----------------------------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------------------------
def solve_altitude(camera: Camera, params: SurveyParams) -> tuple[float, float]:
    """(alt_m, gsd_cm) from whichever of the two was given; checks the altitude ceiling."""
    if (params.alt_m is None) == (params.gsd_cm is None):
        raise PlanError("Give either --alt (metres above ground) or --gsd (cm/px), not both or neither.")
    if params.alt_m is not None:
        if not (math.isfinite(params.alt_m) and params.alt_m > 0):
            raise PlanError(f"--alt must be a positive height in metres, not {params.alt_m}.")
        alt = float(params.alt_m)
    else:
        if not (math.isfinite(params.gsd_cm) and params.gsd_cm > 0):  # type: ignore[arg-type]
            raise PlanError(f"--gsd must be a positive number of cm/px, not {params.gsd_cm}.")
        alt = camera.alt_for_gsd(float(params.gsd_cm))  # type: ignore[arg-type]
    if alt > params.max_alt_m + 1e-9:
        what = f"--gsd {params.gsd_cm:g} needs {alt:.0f} m" if params.alt_m is None else f"{alt:g} m"
        raise PlanError(f"Flying at {what} above ground exceeds the {params.max_alt_m:g} m ceiling; "
                        "fly lower (or use a finer --gsd), or raise --max-alt only if your authorisation allows it.")
    if alt < 2.0:
        raise PlanError(f"{alt:.1f} m above ground is too low for a survey; use at least 2 m.")
    return alt, camera.gsd_cm(alt)


def _check_params(p: SurveyParams) -> None:
    for name, value in (("--front", p.front_overlap_pct), ("--side", p.side_overlap_pct)):
        if not (math.isfinite(value) and 0 <= value <= 90):
            raise PlanError(f"{name} overlap must be between 0 and 90 %, not {value:g}.")
    if not (math.isfinite(p.speed_mps) and p.speed_mps > 0):
        raise PlanError(f"--speed must be positive, not {p.speed_mps:g} m/s.")
    if p.turnaround_m < 0:
        raise PlanError("--turnaround must be zero or positive.")
    if p.trigger_mode not in ("distance", "hover"):
        raise PlanError(f"--trigger must be 'distance' or 'hover', not {p.trigger_mode!r}.")
    if p.entry not in ("auto", "nw", "ne", "sw", "se"):
        raise PlanError(f"--entry must be auto, nw, ne, sw or se, not {p.entry!r}.")
    if p.vehicles < 1:
        raise PlanError("--vehicles must be at least 1.")
    if p.battery_min is not None and not (p.battery_min > 0):
        raise PlanError("--battery-min must be a positive number of minutes.")
    if not (0 <= p.reserve_frac < 1):
        raise PlanError("--reserve must be between 0 and 100 %.")
    if p.angle_deg is not None and not math.isfinite(p.angle_deg):
        raise PlanError("--angle must be a number of degrees or 'auto'.")


def cap_speed(speed_mps: float, trigger_distance_m: float, min_interval_s: float, gsd_cm: float,
              shutter_s: float, hover: bool) -> tuple[float, list[str]]:
    """Speed within the camera's minimum photo interval and ≤ ½ px motion blur, with warnings."""
    warnings: list[str] = []
    speed = speed_mps
    if hover:  # photos are taken while hovering: neither limit applies to the transit speed
        return speed, warnings
    if min_interval_s > 0:
        vmax = trigger_distance_m / min_interval_s
        if speed > vmax * 1.001:
            warnings.append(f"Speed capped from {speed:.1f} to {vmax:.1f} m/s so photos are at least "
                            f"{min_interval_s:g} s apart (the camera's minimum interval) at {trigger_distance_m:.1f} m spacing.")
            speed = vmax
    if shutter_s > 0:
        vblur = 0.5 * gsd_cm / 100.0 / shutter_s
        if speed > vblur * 1.001:
            warnings.append(f"Speed capped from {speed:.1f} to {vblur:.1f} m/s to keep motion blur under half a "
                            f"pixel at a 1/{1 / shutter_s:.0f} s shutter.")
            speed = vblur
    return speed, warnings


# ----------------------------------------------------------------------------------------------
# internal structures
# ----------------------------------------------------------------------------------------------
@dataclass
class _Leg:
    index: int
    seg: Segment
    photos: list[tuple[float, float]]
    photo_ids: list[int]
    px: np.ndarray = field(default_factory=lambda: np.zeros(0))
    py: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        arr = np.asarray(self.photos, dtype="float64").reshape(-1, 2)
        self.px, self.py = arr[:, 0], arr[:, 1]


@dataclass
class _Node:
    x: float
    y: float
    role: str  # turn | leg_start | leg_end | photo | via | terrain
    leg: int = -1
    photo_ids: list[int] = field(default_factory=list)
    z: float = 0.0  # AMSL with terrain, relative (= alt) without


@dataclass
class _Context:
    camera: Camera
    params: SurveyParams
    proj: LocalProjection
    alt_m: float
    trigger_m: float
    speed_mps: float
    kin: Kinematics
    blocked: Any  # buffered no-fly union (metres) or None
    clearance: Any
    obstacle: Any  # no-fly zones grown by half the margin: what transits must not touch
    home_xy: tuple[float, float]
    home_ground_m: float
    dem: Dem | None
    legs: list[_Leg]
    flat: list[tuple[int, int]]  # (leg index, photo index within leg)
    memo_time: dict[tuple[int, int], float] = field(default_factory=dict)
    memo_reach: dict[tuple[int, float], int] = field(default_factory=dict)


def _photos_along(seg: Segment, step_m: float) -> list[tuple[float, float]]:
    # ArduPilot shoots at the leg start (param3=1) and every step_m; a photo closer than
    # END_MARGIN_M to the leg's end waypoint may or may not fire, so it is not planned
    length = seg.length_m
    n = int(math.floor(max(0.0, length - END_MARGIN_M) / step_m + 1e-6)) + 1
    ux, uy = seg.unit
    return [(seg.ax + ux * step_m * k, seg.ay + uy * step_m * k) for k in range(n)]


def _clip_extension(x: float, y: float, ux: float, uy: float, dist: float, blocked: Any) -> tuple[float, float]:
    """Point ``dist`` from (x, y) along (ux, uy), shortened so the extension stays out of ``blocked``."""
    end = (x + ux * dist, y + uy * dist)
    if blocked is None or dist <= 0:
        return end
    ray = LineString([(x, y), end])
    if not ray.intersects(blocked):
        return end
    hit = ray.intersection(blocked)
    d = min(Point(x, y).distance(g) for g in getattr(hit, "geoms", [hit]))
    d = max(0.0, d - 1.0)
    return x + ux * d, y + uy * d


def _piece_nodes(ctx: _Context, leg: _Leg, k0: int, k1: int) -> list[_Node]:
    ux, uy = leg.seg.unit
    p = ctx.params
    nodes: list[_Node] = []
    sx, sy = leg.photos[k0]
    ex, ey = leg.photos[k1]
    if p.turnaround_m > 0:
        tx, ty = _clip_extension(sx, sy, -ux, -uy, p.turnaround_m, ctx.blocked)
        if math.hypot(tx - sx, ty - sy) > 0.5:
            nodes.append(_Node(tx, ty, "turn", leg.index))
    if p.trigger_mode == "hover":
        for k in range(k0, k1 + 1):
            x, y = leg.photos[k]
            nodes.append(_Node(x, y, "photo", leg.index, [leg.photo_ids[k]]))
        end_x, end_y = ex, ey
    else:
        nodes.append(_Node(sx, sy, "leg_start", leg.index, leg.photo_ids[k0:k1 + 1]))
        if k1 == len(leg.photos) - 1:
            end_x, end_y = leg.seg.bx, leg.seg.by
        else:  # a sortie ends inside the leg: stop just past its last photo
            end_x, end_y = ex + ux * END_MARGIN_M, ey + uy * END_MARGIN_M
        nodes.append(_Node(end_x, end_y, "leg_end", leg.index))
    if p.turnaround_m > 0:
        tx, ty = _clip_extension(end_x, end_y, ux, uy, p.turnaround_m, ctx.blocked)
        if math.hypot(tx - end_x, ty - end_y) > 0.5:
            nodes.append(_Node(tx, ty, "turn", leg.index))
    return nodes


def _pieces(ctx: _Context, s: int, e: int) -> list[tuple[int, int, int]]:
    """Flattened photo range [s, e] → (leg, first photo, last photo) pieces in order (O(legs), not O(photos))."""
    leg_s, k_s = ctx.flat[s]
    leg_e, k_e = ctx.flat[e]
    if leg_s == leg_e:
        return [(leg_s, k_s, k_e)]
    out = [(leg_s, k_s, len(ctx.legs[leg_s].photos) - 1)]
    out.extend((i, 0, len(ctx.legs[i].photos) - 1) for i in range(leg_s + 1, leg_e))
    out.append((leg_e, 0, k_e))
    return out


def _route(ctx: _Context, pieces: list[tuple[int, int, int]]) -> list[_Node]:
    """Horizontal route of one sortie (without takeoff/RTL), detouring around no-fly zones."""
    nodes: list[_Node] = []
    px, py = ctx.home_xy
    for leg_i, k0, k1 in pieces:
        pn = _piece_nodes(ctx, ctx.legs[leg_i], k0, k1)
        for vx, vy in detour(px, py, pn[0].x, pn[0].y, ctx.obstacle, ctx.clearance):
            nodes.append(_Node(vx, vy, "via"))
        nodes.extend(pn)
        px, py = pn[-1].x, pn[-1].y
    for vx, vy in detour(px, py, ctx.home_xy[0], ctx.home_xy[1], ctx.obstacle, ctx.clearance):
        nodes.append(_Node(vx, vy, "via"))
    return nodes


def _apply_terrain(ctx: _Context, nodes: list[_Node]) -> list[_Node]:
    """Give nodes altitudes; with a DEM insert terrain breaks between all consecutive nodes."""
    if ctx.dem is None:
        for n in nodes:
            n.z = ctx.alt_m
        return nodes
    out: list[_Node] = []
    prev = (ctx.home_xy[0], ctx.home_xy[1])
    tol = ctx.params.terrain_tolerance_m
    for n in nodes:
        inner, _za, zb = profile_breaks(ctx.dem, prev[0], prev[1], n.x, n.y, ctx.alt_m, tol)
        # breaks inside a leg (between leg_start and leg_end) inherit the leg
        leg = n.leg if n.role in ("leg_end", "photo") and out and out[-1].leg == n.leg else -1
        for x, y, z in inner:
            out.append(_Node(x, y, "terrain", leg, z=z))
        n.z = zb
        out.append(n)
        prev = (n.x, n.y)
    return out


def _path_points(ctx: _Context, nodes: list[_Node]) -> list[PathPoint]:
    hx, hy = ctx.home_xy
    z0 = ctx.home_ground_m + ctx.alt_m if ctx.dem is not None else ctx.alt_m
    pts = [PathPoint(hx, hy, z0, stop=True)]
    for n in nodes:
        hold = ctx.params.hover_hold_s + 1.0 if n.role == "photo" else 0.0
        pts.append(PathPoint(n.x, n.y, n.z, hold_s=hold, stop=n.role == "photo"))
    return pts


def _sortie_time(ctx: _Context, nodes: list[_Node]) -> float:
    home_z = ctx.home_ground_m if ctx.dem is not None else 0.0
    return mission_time_s(_path_points(ctx, nodes), ctx.kin, takeoff_alt_m=ctx.alt_m, home_z=home_z)


def _quick_time(ctx: _Context, s: int, e: int) -> float:
    """Estimated time of a sortie over photos [s, e] (the same model the final mission is timed with)."""
    t = ctx.memo_time.get((s, e))
    if t is None:
        t = ctx.memo_time[(s, e)] = _sortie_time(ctx, _apply_terrain(ctx, _route(ctx, _pieces(ctx, s, e))))
    return t


def _reach(ctx: _Context, start: int, budget_s: float) -> int:
    """Last photo a sortie starting at ``start`` can take within the budget (memoised: fleets re-ask it)."""
    key = (start, budget_s)
    if key not in ctx.memo_reach:
        ctx.memo_reach[key] = _largest_fitting(lambda x: _quick_time(ctx, start, x), start, len(ctx.flat) - 1,
                                               budget_s)
    return ctx.memo_reach[key]


# ----------------------------------------------------------------------------------------------
# splitting
# ----------------------------------------------------------------------------------------------
def _largest_fitting(fn: Callable[[int], float], lo: int, hi: int, budget: float) -> int:
    """Largest e in [lo, hi] with fn(e) <= budget (fn non-decreasing enough); lo-1 if none."""
    if fn(lo) > budget:
        return lo - 1
    if fn(hi) <= budget:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fn(mid) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


def _split_sorties(ctx: _Context, s0: int, e0: int, budget_s: float | None) -> list[tuple[int, int]]:
    """Photo ranges of consecutive sorties; a sortie ending inside a leg is continued from its last photo."""
    if budget_s is None:
        return [(s0, e0)]
    ranges: list[tuple[int, int]] = []
    start = s0
    while True:
        e = min(_reach(ctx, start, budget_s), e0)
        if e == e0 and _quick_time(ctx, start, e0) <= budget_s:
            ranges.append((start, e0))
            return ranges
        if e == e0:  # not monotone here (the way home got longer): search inside the range
            e = _largest_fitting(lambda x: _quick_time(ctx, start, x), start, e0, budget_s)
        if e <= start:
            lx, ly = ctx.legs[ctx.flat[start][0]].photos[ctx.flat[start][1]]
            far_km = math.hypot(lx - ctx.home_xy[0], ly - ctx.home_xy[1]) / 1000.0
            raise PlanError(f"A {ctx.params.battery_min:g}-minute battery with {ctx.params.reserve_frac:.0%} reserve "
                            f"cannot reach a part of the survey {far_km:.1f} km from home and return; launch closer "
                            "(--home), split the area, or use a bigger battery.")
        leg_e, k_e = ctx.flat[e]
        last_of_leg = k_e == len(ctx.legs[leg_e].photos) - 1
        if last_of_leg and e - 1 > start and ctx.flat[e - 1][0] == leg_e:
            e -= 1  # end inside the leg so the next sortie re-takes one photo (one photo of overlap)
            ranges.append((start, e))
            start = e
        elif last_of_leg:
            ranges.append((start, e))
            start = e + 1
        else:
            ranges.append((start, e))
            start = e
        if start > e0:
            return ranges


def _vehicle_time(ctx: _Context, s: int, e: int, budget_s: float | None) -> float:
    return sum(_quick_time(ctx, a, b) for a, b in _split_sorties(ctx, s, e, budget_s))


def _split_vehicles(ctx: _Context, n: int, budget_s: float | None) -> list[tuple[int, int]]:
    """Contiguous photo ranges, one per vehicle, of (nearly) equal estimated time."""
    total = len(ctx.flat)
    if n == 1:
        return [(0, total - 1)]
    if total < n:
        raise PlanError(f"The survey has only {total} photos, too few to share between {n} vehicles; use fewer.")

    def assign(limit: float) -> list[tuple[int, int]] | None:
        ranges = []
        start = 0
        for v in range(n - 1):
            last_allowed = total - 1 - (n - 1 - v)  # leave at least one photo for each later vehicle
            if start > last_allowed:
                return None
            e = _largest_fitting(lambda x: _vehicle_time(ctx, start, x, budget_s), start, last_allowed, limit)
            if e < start:
                return None
            ranges.append((start, e))
            start = e + 1
        if start > total - 1 or _vehicle_time(ctx, start, total - 1, budget_s) > limit:
            return None
        ranges.append((start, total - 1))
        return ranges

    hi = _vehicle_time(ctx, 0, total - 1, budget_s)
    lo = hi / n * 0.5
    best = None
    for _ in range(22):
        mid = (lo + hi) / 2
        got = assign(mid)
        if got is None:
            lo = mid
        else:
            best, hi = got, mid
        if hi - lo < 0.002 * hi:
            break
    if best is None:
        best = assign(hi * 1.0001)
    if best is None:  # pragma: no cover - bisection always finds the single-vehicle bound
        raise PlanError("The area could not be divided between the vehicles; use fewer vehicles.")
    return best


# ----------------------------------------------------------------------------------------------
# mission items
# ----------------------------------------------------------------------------------------------
def _build_mission(ctx: _Context, pieces: list[tuple[int, int, int]], *, sortie: int, vehicle: int,
                   name: str) -> tuple[Mission, float, list[_Node]]:
    p = ctx.params
    nodes = _apply_terrain(ctx, _route(ctx, pieces))
    terrain = ctx.dem is not None
    frame = MAV_FRAME.GLOBAL if terrain else MAV_FRAME.GLOBAL_RELATIVE_ALT
    hlon, hlat = ctx.proj.to_lonlat(*ctx.home_xy)
    home = HomePosition(lat_deg=round(float(hlat), 8), lon_deg=round(float(hlon), 8),
                        alt_amsl_m=round(ctx.home_ground_m, 2) if terrain else 0.0)
    xs = np.array([n.x for n in nodes]) if nodes else np.zeros(0)
    ys = np.array([n.y for n in nodes]) if nodes else np.zeros(0)
    lons, lats = ctx.proj.to_lonlat(xs, ys) if len(nodes) else (np.zeros(0), np.zeros(0))
    items: list[MissionItem] = [
        MissionItem(MAV_CMD.NAV_TAKEOFF, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=home.lat_deg, param6=home.lon_deg,
                    param7=round(ctx.alt_m, 2)),
        MissionItem(MAV_CMD.DO_CHANGE_SPEED, MAV_FRAME.MISSION, param1=1.0, param2=round(ctx.speed_mps, 2), param3=-1.0),
    ]

    def seq() -> int:
        return len(items) + 1  # wire seq of the next item (home = 0)

    legs: list[SurveyLeg] = []
    leg_z: dict[int, np.ndarray] = {}  # distance mode: altitudes of the leg's photos in this mission
    photo_z: dict[int, float] = {}  # hover mode: altitude per photo id
    open_leg: dict[str, Any] | None = None
    leg_nodes: list[_Node] = []
    for n, lon, lat in zip(nodes, lons, lats):
        wp = MissionItem(MAV_CMD.NAV_WAYPOINT, frame, param5=round(float(lat), 8), param6=round(float(lon), 8),
                         param7=round(n.z, 2))
        if n.role == "leg_start":
            open_leg = {"leg": n.leg, "start_seq": seq(), "lat": wp.param5, "lon": wp.param6, "photos": n.photo_ids}
            leg_nodes = [n]
            items.append(wp)
            items.append(MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=round(ctx.trigger_m, 3),
                                     param2=0.0, param3=1.0))
        elif n.role == "leg_end":
            items.append(wp)
            leg_nodes.append(n)
            items.append(MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=0.0))
            assert open_leg is not None
            legs.append(SurveyLeg(leg=open_leg["leg"], start_seq=open_leg["start_seq"], end_seq=seq() - 1,
                                  start_lat_deg=open_leg["lat"], start_lon_deg=open_leg["lon"],
                                  end_lat_deg=wp.param5, end_lon_deg=wp.param6, sortie=sortie, vehicle=vehicle))
            leg_z[open_leg["leg"]] = _photo_altitudes(ctx, open_leg["leg"], open_leg["photos"], leg_nodes)
            open_leg = None
        elif n.role == "photo":
            if open_leg is not None and open_leg["leg"] != n.leg:
                _close_hover_leg(open_leg, legs, sortie, vehicle)
                open_leg = None
            if open_leg is None:
                open_leg = {"leg": n.leg, "start_seq": seq(), "lat": wp.param5, "lon": wp.param6}
            items.append(wp)
            items.append(MissionItem(MAV_CMD.DO_DIGICAM_CONTROL, MAV_FRAME.MISSION, param5=1.0))
            items.append(MissionItem(MAV_CMD.NAV_LOITER_TIME, frame, param1=p.hover_hold_s, param5=wp.param5,
                                     param6=wp.param6, param7=wp.param7))
            photo_z[n.photo_ids[0]] = n.z
            open_leg["end_seq"] = seq() - 1
            open_leg["end_lat"], open_leg["end_lon"] = wp.param5, wp.param6
        else:
            if n.role == "terrain" and open_leg is not None and p.trigger_mode == "distance":
                leg_nodes.append(n)
            if (p.trigger_mode == "hover" and open_leg is not None
                    and (n.role != "terrain" or n.leg != open_leg["leg"])):
                _close_hover_leg(open_leg, legs, sortie, vehicle)
                open_leg = None
            items.append(wp)
    if p.trigger_mode == "hover" and open_leg is not None:
        _close_hover_leg(open_leg, legs, sortie, vehicle)
    items.append(MissionItem(MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_FRAME.MISSION))

    photos = _planned_photos(ctx, pieces, leg_z, photo_z, sortie, vehicle)
    mission = Mission(home=home, items=items, photos=photos, legs=legs, cruise_speed_mps=round(ctx.speed_mps, 2),
                      hover_speed_mps=round(ctx.speed_mps, 2), sortie=sortie, vehicle=vehicle, name=name)
    return mission, _sortie_time(ctx, nodes), nodes


def _close_hover_leg(open_leg: dict[str, Any], legs: list[SurveyLeg], sortie: int, vehicle: int) -> None:
    legs.append(SurveyLeg(leg=open_leg["leg"], start_seq=open_leg["start_seq"], end_seq=open_leg["end_seq"],
                          start_lat_deg=open_leg["lat"], start_lon_deg=open_leg["lon"],
                          end_lat_deg=open_leg["end_lat"], end_lon_deg=open_leg["end_lon"],
                          sortie=sortie, vehicle=vehicle))


def _photo_altitudes(ctx: _Context, leg_i: int, photo_ids: list[int], leg_nodes: list[_Node]) -> np.ndarray:
    """Altitudes of a distance-triggered leg's photos, interpolated on the profile actually flown."""
    leg = ctx.legs[leg_i]
    k0 = photo_ids[0] - leg.photo_ids[0]
    xs, ys = leg.px[k0:k0 + len(photo_ids)], leg.py[k0:k0 + len(photo_ids)]
    start = leg_nodes[0]
    if len(leg_nodes) < 2:
        return np.full(len(photo_ids), start.z)
    dist = np.cumsum([0.0] + [math.hypot(b.x - a.x, b.y - a.y) for a, b in zip(leg_nodes, leg_nodes[1:])])
    zs = np.array([n.z for n in leg_nodes])
    return np.interp(np.hypot(xs - start.x, ys - start.y), dist, zs)


def _planned_photos(ctx: _Context, pieces: list[tuple[int, int, int]], leg_z: dict[int, np.ndarray],
                    photo_z: dict[int, float], sortie: int, vehicle: int) -> list[PlannedPhoto]:
    xs, ys, zs, ids, leg_of = [], [], [], [], []
    for leg_i, k0, k1 in pieces:
        leg = ctx.legs[leg_i]
        pid = leg.photo_ids[k0:k1 + 1]
        xs.append(leg.px[k0:k1 + 1])
        ys.append(leg.py[k0:k1 + 1])
        zs.append(leg_z[leg_i] if leg_i in leg_z else np.array([photo_z[i] for i in pid]))
        ids.extend(pid)
        leg_of.extend([leg_i] * len(pid))
    if not ids:
        return []
    lons, lats = ctx.proj.to_lonlat(np.concatenate(xs), np.concatenate(ys))
    lats = np.round(np.asarray(lats), 8).tolist()
    lons = np.round(np.asarray(lons), 8).tolist()
    alts = np.round(np.concatenate(zs), 2).tolist()
    return [PlannedPhoto(photo_id=i, lat_deg=la, lon_deg=lo, alt_m=z, leg=lg, sortie=sortie, vehicle=vehicle)
            for i, la, lo, z, lg in zip(ids, lats, lons, alts, leg_of)]


# ----------------------------------------------------------------------------------------------
# fence
# ----------------------------------------------------------------------------------------------
def _fence_polygon(area_m: Any, nodes: list[_Node], home_xy: tuple[float, float], turnaround_m: float,
                   margin_m: float, max_vertices: int = 60) -> Polygon:
    outer = unary_union([Polygon(p.exterior) for p in getattr(area_m, "geoms", [area_m])])
    pieces = [outer.buffer(turnaround_m + margin_m, join_style="mitre", mitre_limit=3.0),
              Point(home_xy).buffer(margin_m)]
    path = [home_xy] + [(n.x, n.y) for n in nodes]
    if len(path) >= 2:
        pieces.append(LineString(path).buffer(margin_m / 2.0, join_style="mitre"))
    fence = unary_union(pieces)
    if not isinstance(fence, Polygon):
        fence = fence.convex_hull.buffer(margin_m, join_style="mitre")
    fence = Polygon(fence.exterior)
    tol = margin_m / 8.0
    simple = fence
    while len(simple.exterior.coords) - 1 > max_vertices:
        simple = fence.simplify(tol, preserve_topology=True)
        tol *= 1.6
    # simplification may cut inside; push back out so the fence still contains the whole path
    if not simple.buffer(1e-6).contains(MultiPoint(path)):
        simple = Polygon(simple.union(MultiPoint(path).convex_hull.buffer(margin_m / 2, join_style="mitre"))
                         .convex_hull.exterior)
    return shapely.geometry.polygon.orient(simple, 1.0)


def _fence_items(fence_ll: Polygon, exclusions_ll: list[Polygon]) -> list[MissionItem]:
    items: list[MissionItem] = []
    verts = list(fence_ll.exterior.coords)[:-1]
    for lon, lat in verts:
        items.append(MissionItem(MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MAV_FRAME.GLOBAL, param1=float(len(verts)),
                                 param5=round(lat, 8), param6=round(lon, 8), mission_type=MAV_MISSION_TYPE.FENCE))
    for ex in exclusions_ll:
        ev = list(ex.exterior.coords)[:-1]
        for lon, lat in ev:
            items.append(MissionItem(MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION, MAV_FRAME.GLOBAL,
                                     param1=float(len(ev)), param5=round(lat, 8), param6=round(lon, 8),
                                     mission_type=MAV_MISSION_TYPE.FENCE))
    return items


# ----------------------------------------------------------------------------------------------
# the planner
# ----------------------------------------------------------------------------------------------
def _to_m(geom: Any, proj: LocalProjection) -> Any:
    return shapely.transform(geom, lambda x, y: proj.to_xy(x, y), interleaved=False)


def _to_ll(geom: Any, proj: LocalProjection) -> Any:
    return shapely.transform(geom, lambda x, y: proj.to_lonlat(x, y), interleaved=False)


def plan_survey(area: SurveyArea, camera: Camera, params: SurveyParams, *, dem_path: str | None = None) -> SurveyPlan:
    """Plan a survey of ``area`` with ``camera``.

    Raises
    ------
    PlanError
        The survey cannot be flown as asked (altitude above the ceiling, overlaps out of range,
        battery too small, DEM not covering the area…).
    InputError
        The DEM cannot be read.
    """
    _check_params(params)
    if not params.camera_landscape:
        camera = camera.portrait()
    alt_m, gsd_cm = solve_altitude(camera, params)
    side_m, front_m = camera.footprint_m(alt_m)
    spacing_m = side_m * (1.0 - params.side_overlap_pct / 100.0)
    trigger_m = front_m * (1.0 - params.front_overlap_pct / 100.0)
    warnings = list(area.warnings)
    speed, w = cap_speed(params.speed_mps, trigger_m, camera.min_trigger_interval_s, gsd_cm, params.shutter_s,
                         params.trigger_mode == "hover")
    warnings.extend(w)

    c = area.polygon.centroid
    proj = LocalProjection.for_point(c.x, c.y)
    area_m = _to_m(area.polygon, proj)
    excl_m = [_to_m(e, proj) for e in area.exclusions]
    if area_m.area < 1.0:
        raise PlanError("The survey area is smaller than 1 m²; draw a bigger area.")
    if area_m.area > 400e6:
        raise PlanError(f"The survey area is {area_m.area / 1e6:.0f} km², more than the 400 km² one plan can hold; "
                        "split it into several areas.")
    margin = params.exclusion_margin_m
    blocked = unary_union(excl_m).buffer(margin, join_style="mitre") if excl_m else None
    clearance = blocked.buffer(max(1.0, margin * 0.2), join_style="mitre") if blocked is not None else None
    # legs end on the margin's edge; transits are checked against half the margin so they may leave from there
    obstacle = unary_union(excl_m).buffer(margin * 0.5, join_style="mitre") if excl_m else None

    sweep = dict(exclusion_margin_m=margin, reach_m=params.turnaround_m, along_reach_m=front_m / 2.0,
                 across_reach_m=side_m / 2.0)
    angle = (params.angle_deg % 180.0 if params.angle_deg is not None
             else auto_angle(area_m, spacing_m, excl_m, **sweep))
    segs = sweep_segments(area_m, angle, spacing_m, exclusions_m=excl_m, trigger_distance_m=trigger_m, **sweep)
    if params.crosshatch:
        segs += sweep_segments(area_m, angle + 90.0, spacing_m, exclusions_m=excl_m, trigger_distance_m=trigger_m,
                               pass_no=1, **sweep)
    if not segs:
        raise PlanError("No survey line fits in the area outside the no-fly zones; check the area and --exclude files.")

    home_xy: tuple[float, float] | None = None
    if params.home_lonlat is not None:
        hx, hy = proj.to_xy(*params.home_lonlat)
        home_xy = (float(hx), float(hy))
        if blocked is not None and blocked.contains(Point(home_xy)):
            raise PlanError("The launch point (--home) is inside a no-fly zone; choose another launch point.")
        dist_km = area_m.distance(Point(home_xy)) / 1000.0
        if dist_km > 30.0:
            raise PlanError(f"The launch point (--home) is {dist_km:.0f} km from the area; check it (the order is "
                            "LAT,LON) and launch near the area.")
        if dist_km > 1.0:
            warnings.append(f"The launch point is {dist_km:.1f} km from the area: check the radio range and "
                            "visual-line-of-sight rules before flying.")
    if params.entry != "auto":
        start_xy = corner_xy(segs, params.entry)
    elif home_xy is not None:
        start_xy = home_xy
    else:
        start_xy = corner_xy(segs, "sw")
    main = order_segments([s for s in segs if s.pass_no == 0], start_xy)
    ordered = main
    cross = [s for s in segs if s.pass_no == 1]
    if cross:
        ordered = main + order_segments(cross, (main[-1].bx, main[-1].by))
    if home_xy is None:
        verts = [(x, y) for poly in getattr(area_m, "geoms", [area_m]) for x, y in list(poly.exterior.coords)[:-1]]
        if blocked is not None:
            verts = [v for v in verts if not blocked.contains(Point(v))] or verts
        home_xy = min(verts, key=lambda v: math.hypot(v[0] - ordered[0].ax, v[1] - ordered[0].ay))

    step = trigger_m
    legs: list[_Leg] = []
    flat: list[tuple[int, int]] = []
    pid = 0
    for i, s in enumerate(ordered):
        photos = _photos_along(s, step)
        ids = list(range(pid, pid + len(photos)))
        pid += len(photos)
        legs.append(_Leg(i, s, photos, ids))
        flat.extend((i, k) for k in range(len(photos)))

    dem = None
    home_ground = 0.0
    if dem_path is not None:
        minx, miny, maxx, maxy = area.polygon.bounds
        hlon, hlat = proj.to_lonlat(*home_xy)
        bounds = (min(minx, hlon), min(miny, hlat), max(maxx, hlon), max(maxy, hlat))
        dem = Dem(dem_path, proj, bounds, margin_m=params.turnaround_m + params.fence_margin_m + 200.0)
        home_ground = float(dem.elevation_m(home_xy[0], home_xy[1])[0])

    kin = Kinematics(speed_mps=speed, accel_mps2=params.accel_mps2, climb_rate_mps=params.climb_rate_mps,
                     descent_rate_mps=params.descent_rate_mps, yaw_rate_dps=params.yaw_rate_dps)
    ctx = _Context(camera, params, proj, alt_m, trigger_m, speed, kin, blocked, clearance, obstacle, home_xy, home_ground,
                   dem, legs, flat)

    budget = params.battery_min * 60.0 * (1.0 - params.reserve_frac) if params.battery_min else None
    whole, whole_time, whole_nodes = _build_mission(ctx, _pieces(ctx, 0, len(flat) - 1), sortie=0, vehicle=0,
                                                    name="mission")
    vehicle_ranges = _split_vehicles(ctx, params.vehicles, budget)
    plans = [(v, _split_sorties(ctx, vs, ve, budget)) for v, (vs, ve) in enumerate(vehicle_ranges)]
    parts: list[Mission] = []
    part_times: list[float] = []
    part_nodes: list[_Node] = []
    vehicle_times: list[float] = []
    if len(plans) == 1 and len(plans[0][1]) == 1:
        parts, part_times, vehicle_times = [whole], [whole_time], [whole_time]
    else:
        for v, sortie_ranges in plans:
            vt = 0.0
            for k, (s, e) in enumerate(sortie_ranges):
                name = _part_name(params.vehicles, len(sortie_ranges), v, k)
                m, t, pn = _build_mission(ctx, _pieces(ctx, s, e), sortie=k, vehicle=v, name=name)
                part_nodes.extend(pn)
                parts.append(m)
                part_times.append(t)
                vt += t
            vehicle_times.append(vt)
    if len(parts) > 1 and sum(part_times) > 1.5 * whole_time:
        extra_h = (sum(part_times) - whole_time) / 3600.0
        warnings.append(f"The {len(parts)} parts spend {extra_h:.1f} h more than one continuous flight, mostly "
                        "flying to and from home; a launch point nearer the middle of the area (--home) saves much of it.")
    if dem is not None:
        steep = _steep_warning(ctx, whole_nodes)
        if steep:
            warnings.append(steep)

    fence_m = _fence_polygon(area_m, whole_nodes + part_nodes, home_xy, params.turnaround_m, params.fence_margin_m)
    fence_ll = _to_ll(fence_m, proj)
    hlon, hlat = proj.to_lonlat(*home_xy)
    rally = [MissionItem(MAV_CMD.NAV_RALLY_POINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=round(float(hlat), 8),
                         param6=round(float(hlon), 8), param7=round(alt_m, 2), mission_type=MAV_MISSION_TYPE.RALLY)]
    fence_items = _fence_items(fence_ll, list(area.exclusions))
    for m in [whole, *parts]:
        m.fence = list(fence_items)
        m.rally = list(rally)

    plan = SurveyPlan(mission=whole, parts=parts, camera=camera, params=params, area=area.polygon,
                      exclusions=list(area.exclusions), fence=fence_ll, angle_deg=round(angle, 3), alt_m=alt_m,
                      gsd_cm=gsd_cm, line_spacing_m=spacing_m, trigger_distance_m=trigger_m, footprint_side_m=side_m,
                      footprint_front_m=front_m, speed_mps=speed, terrain=dem is not None, warnings=warnings,
                      part_times_s=part_times)
    plan.summary = _summary(plan, area_m, whole_time, whole_nodes, vehicle_times, len(flat), budget)
    return plan


def _part_name(n_vehicles: int, n_sorties: int, v: int, k: int) -> str:
    if n_vehicles > 1 and n_sorties > 1:
        return f"vehicle_{v + 1}_sortie_{k + 1}"
    if n_vehicles > 1:
        return f"vehicle_{v + 1}"
    if n_sorties > 1:
        return f"sortie_{k + 1}"
    return "mission"


def _steep_warning(ctx: _Context, nodes: list[_Node]) -> str | None:
    worst = 0.0
    for a, b in zip(nodes, nodes[1:]):
        d = math.hypot(b.x - a.x, b.y - a.y)
        if d <= 0:
            continue
        dz = b.z - a.z
        rate = ctx.params.climb_rate_mps if dz > 0 else ctx.params.descent_rate_mps
        need = abs(dz) / d * ctx.speed_mps
        worst = max(worst, need / rate)
    if worst > 1.0:
        return (f"Terrain is steep for {ctx.speed_mps:.1f} m/s: the vehicle will slow to keep within its climb/descent "
                f"rates ({ctx.params.climb_rate_mps:g}/{ctx.params.descent_rate_mps:g} m/s); the time estimate includes this.")
    return None


def _summary(plan: SurveyPlan, area_m: Any, whole_time: float, nodes: list[_Node], vehicle_times: list[float],
             photo_count: int, budget: float | None) -> dict[str, Any]:
    m = plan.mission
    dist = 0.0
    prev = None
    for n in nodes:
        if prev is not None:
            dist += math.hypot(n.x - prev.x, n.y - prev.y)
        prev = n
    n_sorties = len({(p.vehicle, p.sortie) for p in plan.parts})
    return {
        "camera": plan.camera.name,
        "alt_m": round(plan.alt_m, 2),
        "gsd_cm": round(plan.gsd_cm, 3),
        "line_spacing_m": round(plan.line_spacing_m, 2),
        "trigger_distance_m": round(plan.trigger_distance_m, 2),
        "footprint_side_m": round(plan.footprint_side_m, 2),
        "footprint_front_m": round(plan.footprint_front_m, 2),
        "front_overlap_pct": plan.params.front_overlap_pct,
        "side_overlap_pct": plan.params.side_overlap_pct,
        "angle_deg": round(plan.angle_deg, 2),
        "speed_mps": round(plan.speed_mps, 2),
        "trigger_mode": plan.params.trigger_mode,
        "photo_count": photo_count,
        "legs": len(m.legs),
        "turns": max(0, len(m.legs) - 1),
        "distance_m": round(dist, 1),
        "time_s": round(whole_time, 1),
        "area_m2": round(area_m.area, 1),
        "area_ha": round(area_m.area / 1e4, 3),
        "terrain_following": plan.terrain,
        "altitude_frame": "AMSL (MAV_FRAME_GLOBAL)" if plan.terrain else "relative to home (MAV_FRAME_GLOBAL_RELATIVE_ALT)",
        "mission_items": len(m.items) + 1,
        "fence_items": len(m.fence),
        "home": {"lat_deg": m.home.lat_deg, "lon_deg": m.home.lon_deg, "alt_amsl_m": m.home.alt_amsl_m},
        "sorties": n_sorties,
        "vehicles": plan.vehicles,
        "battery_budget_s": round(budget, 1) if budget else None,
        "vehicle_times_s": [round(t, 1) for t in vehicle_times],
        "parts": [
            {"name": p.name, "vehicle": p.vehicle + 1, "sortie": p.sortie + 1, "time_s": round(t, 1),
             "photos": len(p.photos), "legs": len(p.legs), "mission_items": len(p.items) + 1}
            for p, t in zip(plan.parts, plan.part_times_s)
        ],
        "warnings": list(plan.warnings),
    }

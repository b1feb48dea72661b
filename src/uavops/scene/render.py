"""Turning a layout (plus an event, for the post image) into RGB tiles that look like an aerial photo.

A *draw list* holds every polygon to paint in z-order, each with a material (colour + texture
weights) or as a shadow; a tile is painted by rasterising the items that touch it into a material
label map and a shadow mask, then shading all pixels at once with numpy. Textures come from
world-anchored noise (``_noise``), so tiles join seamlessly and the output is independent of tiling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from shapely import contains_xy
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.prepared import prep

from ._noise import lattice_noise, pixel_noise
from .events import EventResult, wobble
from .layout import Building, Layout, Part, rect_coords

__all__ = ["DrawList", "Epoch", "build_draw_list", "epochs_for_seed", "render_mask_tile", "render_tile"]

SURF, SHADOW, UNSHADOW = 0, 1, 2
K_PLAIN, K_RUBBLE, K_TREE, K_WATER, K_CHAR = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Epoch:
    """Acquisition conditions of one image: sun, exposure, colour cast and season."""

    name: str
    sun_azimuth_deg: float
    sun_elevation_deg: float
    exposure: float
    tint: tuple[float, float, float]
    greenness: float          # 0 dry/yellow .. 1 lush
    salt: int


def epochs_for_seed(seed: int) -> tuple[Epoch, Epoch]:
    """Pre and post conditions: realistic non-damage differences, controlled by the seed."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 4242])
    az = float(rng.uniform(125, 235))
    el = float(rng.uniform(38, 62))
    green = float(rng.uniform(0.45, 0.9))
    pre = Epoch("pre", az, el, float(rng.uniform(0.96, 1.04)),
                tuple(float(x) for x in rng.uniform(0.97, 1.03, 3)), green, 101)  # type: ignore[arg-type]
    post = Epoch("post", az + float(rng.choice([-1, 1]) * rng.uniform(6, 18)),
                 float(np.clip(el + rng.uniform(-10, 8), 28, 68)), float(rng.uniform(0.9, 1.1)),
                 tuple(float(x) for x in rng.uniform(0.95, 1.05, 3)),  # type: ignore[arg-type]
                 float(np.clip(green + rng.uniform(-0.35, 0.2), 0.05, 1.0)), 202)
    return pre, post


class Materials:
    def __init__(self) -> None:
        self.rows: list[tuple[float, ...]] = []
        self.index: dict[tuple[float, ...], int] = {}

    def add(self, rgb: tuple[float, float, float], wc: float = 0.08, wm: float = 0.05, wf: float = 0.04,
            stripe_angle: float = 0.0, stripe_period_m: float = 0.0, stripe_amp: float = 0.0,
            kind: int = K_PLAIN) -> int:
        row = (float(rgb[0]), float(rgb[1]), float(rgb[2]), wc, wm, wf, stripe_angle, stripe_period_m, stripe_amp,
               float(kind))
        key = tuple(round(x, 4) for x in row)
        if key not in self.index:
            self.index[key] = len(self.rows)
            self.rows.append(row)
        return self.index[key]

    def table(self) -> np.ndarray:
        return np.asarray(self.rows, dtype=np.float32)


@dataclass
class DrawList:
    layer: list[int] = field(default_factory=list)
    mat: list[int] = field(default_factory=list)
    coords: list[list[np.ndarray]] = field(default_factory=list)
    line_m: list[float] = field(default_factory=list)
    bbox: list[tuple[float, float, float, float]] = field(default_factory=list)
    materials: Materials = field(default_factory=Materials)
    _bb: np.ndarray | None = None

    def add_coords(self, rings: list[np.ndarray], mat: int, layer: int = SURF, line_m: float = 0.0) -> None:
        allc = np.vstack(rings)
        pad = line_m
        self.layer.append(layer)
        self.mat.append(mat)
        self.coords.append([np.asarray(r, dtype=np.float64) for r in rings])
        self.line_m.append(line_m)
        self.bbox.append((allc[:, 0].min() - pad, allc[:, 1].min() - pad, allc[:, 0].max() + pad,
                          allc[:, 1].max() + pad))

    def add_geom(self, geom: BaseGeometry | None, mat: int, layer: int = SURF) -> None:
        if geom is None or geom.is_empty:
            return
        if geom.geom_type == "Polygon":
            rings = [np.asarray(geom.exterior.coords)[:-1]] + [np.asarray(i.coords)[:-1] for i in geom.interiors]
            if len(rings[0]) >= 3:
                self.add_coords(rings, mat, layer)
        elif hasattr(geom, "geoms"):
            for g in geom.geoms:  # type: ignore[attr-defined]
                self.add_geom(g, mat, layer)

    def bboxes(self) -> np.ndarray:
        if self._bb is None or len(self._bb) != len(self.bbox):
            self._bb = np.asarray(self.bbox, dtype=np.float64).reshape(-1, 4)
        return self._bb


# --- materials -----------------------------------------------------------------------------

def _ground_rgb(kind: str, tone: float, green: float) -> tuple[tuple[float, float, float], dict]:
    def veg(lush: tuple[float, float, float], dry: tuple[float, float, float]) -> tuple[float, float, float]:
        g = min(1.0, max(0.0, green + 0.15 * tone))
        return tuple(d + (l - d) * g for l, d in zip(lush, dry))  # type: ignore[return-value]

    t = 1.0 + 0.07 * tone
    table: dict[str, tuple[tuple[float, float, float], dict]] = {
        "background": (veg((118, 128, 78), (168, 152, 112)), dict(wc=0.16, wm=0.08, wf=0.07)),
        "grass": (veg((88, 118, 58), (160, 148, 98)), dict(wc=0.12, wm=0.1, wf=0.08)),
        "garden": (veg((70, 104, 48), (128, 118, 78)), dict(wc=0.08, wm=0.08, wf=0.08, stripe_period_m=0.9,
                                                         stripe_amp=0.18)),
        "field": (veg((96, 132, 62), (196, 174, 114)) if tone > -0.3 else (124, 100, 76),
                  dict(wc=0.1, wm=0.04, wf=0.05, stripe_period_m=0.75, stripe_amp=0.14)),
        "yard_soil": ((162 * t, 144 * t, 116 * t), dict(wc=0.1, wm=0.08, wf=0.08)),
        "yard_paved": ((150 * t, 146 * t, 138 * t), dict(wc=0.05, wm=0.04, wf=0.06)),
        "courtyard": (veg((122, 130, 92), (160, 150, 122)), dict(wc=0.14, wm=0.08, wf=0.07)),
        "concrete_yard": ((164 * t, 160 * t, 152 * t), dict(wc=0.08, wm=0.05, wf=0.05)),
        "parking": ((92, 93, 96), dict(wc=0.05, wm=0.04, wf=0.06)),
        "sidewalk": ((172, 167, 158), dict(wc=0.05, wm=0.04, wf=0.06)),
        "road": ((84, 85, 89), dict(wc=0.06, wm=0.04, wf=0.07)),
        "road_main": ((70, 72, 76), dict(wc=0.05, wm=0.03, wf=0.07)),
        "marking": ((214, 214, 204), dict(wc=0.02, wm=0.03, wf=0.05)),
        "bank": ((168, 158, 136), dict(wc=0.1, wm=0.12, wf=0.12)),
        "river": ((58, 82, 80), dict(wc=0.06, wm=0.05, wf=0.02, kind=K_WATER)),
        "flood_water": ((126, 106, 78), dict(wc=0.07, wm=0.04, wf=0.02, kind=K_WATER)),
        "mud": ((112, 94, 72), dict(wc=0.2, wm=0.16, wf=0.14)),
        "tailings_sludge": ((170, 166, 152), dict(wc=0.16, wm=0.12, wf=0.08)),
        "boulder": ((138, 132, 124), dict(wc=0.05, wm=0.15, wf=0.15)),
        "tailings_pond": ((128, 150, 146), dict(wc=0.05, wm=0.03, wf=0.02, kind=K_WATER)),
        "tailings_drained": ((186, 180, 162), dict(wc=0.12, wm=0.16, wf=0.1)),
        "dam": ((150, 140, 118), dict(wc=0.06, wm=0.08, wf=0.08)),
        "burn": ((48, 45, 42), dict(wc=0.25, wm=0.2, wf=0.1)),
        "ash": ((150, 148, 142), dict(wc=0.2, wm=0.2, wf=0.1)),
    }
    return table[kind]


def _mat(ml: Materials, kind: str, tone: float = 0.0, green: float = 0.7, angle: float = 0.0) -> int:
    rgb, kw = _ground_rgb(kind, tone, green)
    kw = dict(kw)
    if kw.get("stripe_amp"):
        kw["stripe_angle"] = angle
    return ml.add(rgb, **kw)


def _facet_shade(tilt_deg: float, out_dir: tuple[float, float], sun: np.ndarray) -> float:
    tau = math.radians(tilt_deg)
    n = np.array([math.sin(tau) * out_dir[0], math.sin(tau) * out_dir[1], math.cos(tau)])
    return float(np.clip(0.38 + 0.62 * max(0.0, float(n @ sun)) / max(sun[2], 0.35), 0.3, 1.3))


def _roof_items(dl: DrawList, b: Building, part: Part, sun: np.ndarray, colour: np.ndarray, burnt: float,
                rng: np.random.Generator) -> None:
    ml = dl.materials
    col = colour * (1.0 - 0.8 * burnt)
    metal = b.material.startswith("metal")
    tile = b.material in ("tile", "slate", "asbestos")
    period = 0.2 if metal else 0.33 if tile else 0.0
    amp = 0.12 if metal else 0.16 if tile else 0.0
    if part.roof == "tank":
        c = np.array([part.cx, part.cy])
        ang = np.linspace(0, 2 * math.pi, 32, endpoint=False)
        ring = lambda r, o=(0.0, 0.0): np.stack([c[0] + o[0] + r * np.cos(ang), c[1] + o[1] + r * np.sin(ang)], 1)
        dl.add_coords([ring(part.hl)], ml.add(tuple(col * 0.8), 0.03, 0.03, 0.03))
        sx, sy = sun[0], sun[1]
        dl.add_coords([ring(part.hl * 0.85, (sx * part.hl * 0.1, sy * part.hl * 0.1))], ml.add(tuple(col * 1.05), 0.03, 0.03, 0.03))
        dl.add_coords([ring(part.hl * 0.4, (sx * part.hl * 0.25, sy * part.hl * 0.25))], ml.add(tuple(col * 1.15), 0.02, 0.02, 0.03))
        return
    c, s = math.cos(part.ang), math.sin(part.ang)
    u, v = np.array([c, s]), np.array([-s, c])
    hl, hw = part.hl, part.hw
    ridge_u = hl >= hw
    if not ridge_u:
        u, v, hl, hw = v, -u, hw, hl
    ctr = np.array([part.cx, part.cy])
    P = lambda a, bb: ctr + u * a + v * bb
    edge = ml.add(tuple(col * 0.62), 0.03, 0.03, 0.05)
    ridge_ang = math.atan2(u[1], u[0])
    slope_ang = math.atan2(v[1], v[0])

    def facet(poly: list[np.ndarray], tilt: float, out: np.ndarray, s_ang: float) -> None:
        sh = _facet_shade(tilt, (float(out[0]), float(out[1])), sun)
        dl.add_coords([np.array(poly)], ml.add(tuple(col * sh), 0.05, 0.06, 0.06, s_ang, period, amp))

    if part.roof == "gable":
        dl.add_coords([np.array([P(-hl, -hw), P(hl, -hw), P(hl, hw), P(-hl, hw)])], edge)
        i = 0.12
        facet([P(-hl + i, -hw + i), P(hl - i, -hw + i), P(hl - i, 0), P(-hl + i, 0)], 28, -v,
              ridge_ang if metal else slope_ang)
        facet([P(-hl + i, 0), P(hl - i, 0), P(hl - i, hw - i), P(-hl + i, hw - i)], 28, v,
              ridge_ang if metal else slope_ang)
        dl.add_coords([np.array([P(-hl, 0), P(hl, 0)])], ml.add(tuple(col * 1.15), 0.02, 0.02, 0.04), line_m=0.18)
    elif part.roof == "hip":
        r = max(0.0, hl - hw)
        dl.add_coords([np.array([P(-hl, -hw), P(hl, -hw), P(hl, hw), P(-hl, hw)])], edge)
        facet([P(-hl, -hw), P(hl, -hw), P(r, 0), P(-r, 0)], 27, -v, ridge_ang if metal else slope_ang)
        facet([P(-hl, hw), P(hl, hw), P(r, 0), P(-r, 0)], 27, v, ridge_ang if metal else slope_ang)
        facet([P(hl, -hw), P(hl, hw), P(r, 0)], 27, u, slope_ang if metal else ridge_ang)
        facet([P(-hl, -hw), P(-hl, hw), P(-r, 0)], 27, -u, slope_ang if metal else ridge_ang)
        ridge_mat = ml.add(tuple(col * 1.12), 0.02, 0.02, 0.04)
        for a, bb in ((P(-r, 0), P(r, 0)), (P(r, 0), P(hl, hw)), (P(r, 0), P(hl, -hw)), (P(-r, 0), P(-hl, hw)),
                      (P(-r, 0), P(-hl, -hw))):
            dl.add_coords([np.array([a, bb])], ridge_mat, line_m=0.14)
    elif part.roof == "shed":
        sh = _facet_shade(10, (float(v[0]), float(v[1])), sun)
        dl.add_coords([np.array([P(-hl, -hw), P(hl, -hw), P(hl, hw), P(-hl, hw)])],
                      ml.add(tuple(col * sh), 0.05, 0.05, 0.06, ridge_ang, 0.2, 0.1))
    else:  # flat roof with parapet, hatches and plant
        dl.add_coords([np.array([P(-hl, -hw), P(hl, -hw), P(hl, hw), P(-hl, hw)])], ml.add(tuple(col * 1.18), 0.03, 0.03, 0.05))
        i = 0.4
        dl.add_coords([np.array([P(-hl + i, -hw + i), P(hl - i, -hw + i), P(hl - i, hw - i), P(-hl + i, hw - i)])],
                      ml.add(tuple(col), 0.1, 0.08, 0.07))
        for _ in range(int(rng.integers(1, 3 + int(hl // 10)))):
            a = float(rng.uniform(-hl + 2, hl - 2))
            bb = float(rng.uniform(-hw + 1.5, hw - 1.5))
            w, h = float(rng.uniform(0.5, 1.4)), float(rng.uniform(0.5, 1.2))
            box_pts = np.array([P(a - w, bb - h), P(a + w, bb - h), P(a + w, bb + h), P(a - w, bb + h)])
            dl.add_coords([box_pts + np.array([-sun[0], -sun[1]]) * 0.6], ml.add(tuple(col * 0.55), 0.02, 0.02, 0.04))
            dl.add_coords([box_pts], ml.add(tuple(np.array([178, 178, 172]) * (1 - 0.8 * burnt)), 0.02, 0.02, 0.04))


def _rubble_mat(ml: Materials, colour: np.ndarray, charred: bool = False) -> int:
    base = 0.45 * colour + 0.55 * np.array([150.0, 144.0, 134.0])
    if charred:
        base = base * 0.3
    return ml.add(tuple(base), 0.08, 0.1, 0.1, kind=K_CHAR if charred else K_RUBBLE)


def build_draw_list(layout: Layout, epoch: Epoch, event: EventResult | None, seed: int) -> DrawList:
    """Every polygon of one image (pre: ``event`` None or its pre-existing layers; post: with the event)."""
    dl = DrawList()
    ml = dl.materials
    green = epoch.greenness
    S = layout.size_m
    az, el = math.radians(epoch.sun_azimuth_deg), math.radians(epoch.sun_elevation_deg)
    sun = np.array([math.cos(el) * math.sin(az), -math.cos(el) * math.cos(az), math.sin(el)])
    shadow_vec = np.array([-math.sin(az), math.cos(az)]) / math.tan(el)
    post = epoch.name == "post" and event is not None
    covering = [g for g, k in (event.ground if post and event is not None else [])
                if k in ("flood_water", "mud", "tailings_sludge")]
    covered = prep(unary_union(covering)) if covering else None
    burnt_area = [g for g, k in (event.ground if post and event is not None else []) if k == "burn"]
    burnt = prep(unary_union(burnt_area)) if burnt_area else None
    bg = _mat(ml, "background", 0.0, green)
    assert bg == 0
    # ground patches
    for p in layout.patches:
        dl.add_geom(p.poly, _mat(ml, p.kind, p.tone, green, p.stripe_angle))
    # a burn scar chars the ground but leaves asphalt and pavements visible: paint it under the roads
    if post and event is not None:
        for geom, kind in event.ground:
            if kind == "burn":
                dl.add_geom(geom, _mat(ml, kind, 0.0, green))
    # roads: sidewalks first, then asphalt, then centre markings on main roads
    for r in layout.roads:
        dl.add_geom(r.poly.buffer(2.0, cap_style=2, join_style=2), _mat(ml, "sidewalk"))
    for r in layout.roads:
        if not r.main:
            dl.add_geom(r.poly, _mat(ml, "road"))
    # river with gravel banks
    if layout.river is not None:
        dl.add_geom(layout.river.buffer(layout.river_width_m / 2 + 6.0), _mat(ml, "bank"))
        dl.add_geom(layout.river.buffer(layout.river_width_m / 2), _mat(ml, "river"))
    mark = _mat(ml, "marking")
    for r in layout.roads:
        if r.main:
            dl.add_geom(r.poly, _mat(ml, "road_main"))
            a, b = np.array(r.a), np.array(r.b)
            length = float(np.linalg.norm(b - a))
            d = (b - a) / length
            for s0 in np.arange(0.0, length, 6.0):
                p0, p1 = a + d * s0, a + d * (s0 + 3.0)
                if -10 < p0[0] < S + 10 and -10 < p0[1] < S + 10:
                    if r.poly.contains(Point(*p0)) and r.poly.contains(Point(*p1)):
                        dl.add_coords([np.array([p0, p1])], mark, line_m=0.15)
    # cars (differ between epochs: some parked cars stay, others move)
    car_rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 31337])
    epoch_rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, epoch.salt])
    palette = np.array([[225, 225, 222], [190, 192, 196], [40, 40, 44], [150, 30, 32], [40, 60, 120],
                        [110, 112, 116], [230, 230, 230], [90, 30, 30]], dtype=np.float64)
    cars = []
    for r in layout.roads:
        a, b = np.array(r.a), np.array(r.b)
        length = float(np.linalg.norm(b - a))
        d = (b - a) / length
        nrm = np.array([-d[1], d[0]])
        n = int(length / 30)
        pos = car_rng.uniform(0, length, n)
        side = car_rng.choice([-1, 1], n)
        q = car_rng.random(n)
        cidx = car_rng.integers(0, len(palette), n)
        jitter = epoch_rng.uniform(-2.0, 2.0, n)
        for k in range(n):
            present = q[k] < 0.75 if epoch.name == "pre" else q[k] > 0.3
            if not present:
                continue
            moved = jitter[k] if 0.3 < q[k] < 0.75 else 0.0
            c = a + d * (pos[k] + (0 if q[k] < 0.75 and q[k] > 0.3 else moved)) + nrm * side[k] * r.width_m * 0.27
            if not (2 < c[0] < S - 2 and 2 < c[1] < S - 2) or not r.poly.contains(Point(*c)):
                continue
            cars.append((c, math.atan2(d[1], d[0]), palette[cidx[k]]))
    if covered is not None:
        cars = [c for c in cars if not covered.contains(Point(c[0][0], c[0][1]))]
    for c, ang, colr in cars:
        body = rect_coords(c[0], c[1], 2.25, 0.9, ang)
        dl.add_coords([body + shadow_vec * 1.3], 0, SHADOW)
        dl.add_coords([body], ml.add(tuple(colr), 0.01, 0.02, 0.03))
        dl.add_coords([rect_coords(c[0] + math.cos(ang) * 0.7, c[1] + math.sin(ang) * 0.7, 0.45, 0.75, ang)],
                      ml.add((38, 42, 48), 0.01, 0.02, 0.03))
    # pre-existing event structures (tailings pond and dam)
    if event is not None:
        for geom, kind in event.pre_ground:
            dl.add_geom(geom, _mat(ml, kind, 0.0, green))
    # event ground layers (post)
    if post:
        assert event is not None
        for geom, kind in event.ground:
            if kind != "burn":
                dl.add_geom(geom, _mat(ml, kind, 0.0, green, angle=0.3))
            if kind in ("mud", "tailings_sludge"):
                mrng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 98])
                minx, miny, maxx, maxy = geom.bounds
                bmat = _mat(ml, "boulder")
                wet = ml.add((86, 74, 60) if kind == "mud" else (150, 148, 138), 0.15, 0.2, 0.1)
                n_stones = int(geom.area / 60)
                px = mrng.uniform(minx, maxx, n_stones)
                py = mrng.uniform(miny, maxy, n_stones)
                inside = contains_xy(geom, px, py)
                kinds = mrng.random(n_stones)
                radii = mrng.exponential(0.35, n_stones) + 0.15
                angles = np.sort(mrng.uniform(0, 2 * np.pi, (n_stones, 6)), axis=1)
                jitter = mrng.uniform(0.6, 1.2, (n_stones, 6))
                for k in np.nonzero(inside)[0]:
                    if kinds[k] < 0.2:
                        patch = Point(px[k], py[k]).buffer(float(mrng.uniform(2, 6)), 8)
                        dl.add_geom(wobble(patch, 1.2, mrng, 1.5), wet)
                        continue
                    ring = np.stack([px[k] + radii[k] * jitter[k] * np.cos(angles[k]),
                                     py[k] + radii[k] * jitter[k] * np.sin(angles[k])], 1)
                    dl.add_coords([ring + shadow_vec * 0.3 * radii[k]], 0, SHADOW)
                    dl.add_coords([ring], bmat)
            if kind == "burn":
                brng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 99])
                minx, miny, maxx, maxy = geom.bounds
                for _ in range(int(geom.area / 400)):
                    p = Point(brng.uniform(minx, maxx), brng.uniform(miny, maxy))
                    if geom.contains(p):
                        dl.add_geom(wobble(p.buffer(float(brng.uniform(1, 4))), 0.8, brng, 1.0), _mat(ml, "ash"))
    # shadows of buildings and trees
    for b in layout.buildings:
        if post and b.grade == 3:
            continue  # a rubble heap shades itself (texture), it casts no building shadow
        for part in b.parts:
            h = part.height_m
            if part.roof == "tank":
                base = np.asarray(Point(part.cx, part.cy).buffer(part.hl, 16).exterior.coords)[:-1]
            else:
                base = part.corners()
            pts = np.vstack([base, base + shadow_vec * h]).astype(np.float32)
            hull = cv2.convexHull(pts)[:, 0, :].astype(np.float64)
            dl.add_coords([hull], 0, SHADOW)
    trees = layout.trees
    if post and len(trees) and event is not None and event.event in ("mudflow", "tailings") and covered is not None:
        trees = trees[[not covered.contains(Point(t[0], t[1])) for t in trees]]
    tree_burnt = np.zeros(len(trees), bool)
    if post and len(trees) and burnt is not None:
        tree_burnt = np.array([burnt.contains(Point(t[0], t[1])) for t in trees], bool)
    ang16 = np.linspace(0, 2 * math.pi, 20, endpoint=False)
    for x, y, r, h, tone in trees:
        off = shadow_vec * h * 0.75
        dl.add_coords([np.stack([x + off[0] + r * np.cos(ang16), y + off[1] + r * 0.95 * np.sin(ang16)], 1)], 0, SHADOW)
    # debris outside footprints (earthquake)
    if post and event is not None:
        for d in event.debris:
            dl.add_geom(d, _rubble_mat(ml, np.array([160.0, 150.0, 138.0])))
    # trees: crown with a lit side (concentric offset discs)
    for (x, y, r, h, tone), charred in zip(trees, tree_burnt):
        g = min(1.0, max(0.0, green + 0.2 * tone))
        col = np.array([58 + 30 * (1 - g), 84 + 14 * g, 44 + 8 * (1 - g)]) * (1 + 0.12 * tone)
        if charred:
            col = np.array([52.0, 48.0, 42.0]) * (1 + 0.1 * tone)
            r = r * 0.7
        for f, k in ((1.0, 0.78), (0.72, 0.95), (0.42, 1.12)):
            o = np.array([sun[0], sun[1]]) * r * (1 - f) * 0.8
            dl.add_coords([np.stack([x + o[0] + r * f * np.cos(ang16), y + o[1] + r * f * np.sin(ang16)], 1)],
                          ml.add(tuple(col * k), 0.05, 0.3, 0.14, kind=K_TREE), SURF)
            dl.add_coords([np.stack([x + o[0] + r * f * np.cos(ang16), y + o[1] + r * f * np.sin(ang16)], 1)],
                          0, UNSHADOW)
    # buildings
    for b in layout.buildings:
        brng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 555, b.id])
        colour = np.array(b.colour, dtype=np.float64)
        burnt = b.burnt if post else 0.0
        for part in b.parts:
            dl.add_geom(part.polygon(), 0, UNSHADOW)
        if post and b.grade == 3:
            rub = wobble(b.footprint.buffer(0.6), 0.7, brng, 1.0)
            dl.add_geom(rub, _rubble_mat(ml, colour, charred=burnt > 0.5))
            # surviving roof fragments, tilted slabs
            minx, miny, maxx, maxy = b.footprint.bounds
            for _ in range(int(brng.integers(1, 4))):
                fx, fy = brng.uniform(minx, maxx), brng.uniform(miny, maxy)
                if b.footprint.contains(Point(fx, fy)):
                    frag = rect_coords(fx, fy, float(brng.uniform(0.8, 2.5)), float(brng.uniform(0.6, 1.8)),
                                       float(brng.uniform(0, math.pi)))
                    dl.add_coords([frag], ml.add(tuple(colour * brng.uniform(0.55, 0.95) * (1 - 0.8 * burnt)),
                                                 0.04, 0.06, 0.08))
        else:
            for part in b.parts:
                _roof_items(dl, b, part, sun, colour, burnt, brng)
            if post and b.collapse is not None and not b.collapse.is_empty:
                dl.add_geom(b.collapse, _rubble_mat(ml, colour, charred=burnt > 0.5))
            if post and b.grade == 1 and event is not None and event.event == "earthquake":
                minx, miny, maxx, maxy = b.footprint.bounds
                for _ in range(int(brng.integers(2, 6))):
                    hx, hy = brng.uniform(minx, maxx), brng.uniform(miny, maxy)
                    if b.footprint.buffer(-0.6).contains(Point(hx, hy)):
                        dl.add_coords([rect_coords(hx, hy, float(brng.uniform(0.25, 0.7)), float(brng.uniform(0.2, 0.5)),
                                                   float(brng.uniform(0, 3.14)))], ml.add((45, 42, 40), 0.05, 0.1, 0.1))
                if brng.random() < 0.35:
                    c = b.footprint.centroid
                    dl.add_coords([rect_coords(c.x, c.y, 1.6, 1.1, float(brng.uniform(0, 3.14)))],
                                  ml.add((40, 90, 170), 0.02, 0.05, 0.05))
            if post and b.grade >= 1 and 0.1 < b.burnt < 0.6:
                c = b.footprint.centroid
                soot = wobble(c.buffer(math.sqrt(b.footprint.area) * 0.3), 1.0, brng, 1.0).intersection(b.footprint)
                dl.add_geom(soot, ml.add((38, 36, 34), 0.1, 0.15, 0.1))
        if post and b.mud_cover is not None and not b.mud_cover.is_empty:
            kind = "mud" if event is not None and event.event == "mudflow" else "tailings_sludge"
            dl.add_geom(b.mud_cover, _mat(ml, kind, 0.0, green, 0.3))
    return dl


# --- rasterisation -------------------------------------------------------------------------

def _rasterise(dl: DrawList, col0: int, row0: int, w: int, h: int, gsd_m: float) -> tuple[np.ndarray, np.ndarray]:
    lab = np.zeros((h, w), np.int32)
    shadow = np.zeros((h, w), np.uint8)
    x0, y0 = col0 * gsd_m, row0 * gsd_m
    x1, y1 = (col0 + w) * gsd_m, (row0 + h) * gsd_m
    bb = dl.bboxes()
    hit = np.nonzero((bb[:, 0] < x1) & (bb[:, 2] > x0) & (bb[:, 1] < y1) & (bb[:, 3] > y0))[0]
    off = np.array([col0 + 0.5, row0 + 0.5])
    for i in hit:
        layer = dl.layer[i]
        rings = [np.round((c / gsd_m - off) * 16.0).astype(np.int32) for c in dl.coords[i]]
        target = lab if layer == SURF else shadow
        value = dl.mat[i] if layer == SURF else (1 if layer == SHADOW else 0)
        if dl.line_m[i] > 0:
            th = max(1, int(round(dl.line_m[i] / gsd_m)))
            cv2.polylines(target, rings, False, value, th, cv2.LINE_8, 4)
        else:
            cv2.fillPoly(target, rings, value, cv2.LINE_8, 4)
    return lab, shadow


def render_tile(dl: DrawList, table: np.ndarray, epoch: Epoch, col0: int, row0: int, w: int, h: int,
                gsd_m: float, seed: int) -> np.ndarray:
    """RGB uint8 (h, w, 3) of the window at (col0, row0) of a raster with ``gsd_m`` metre pixels."""
    lab, shadow = _rasterise(dl, col0, row0, w, h, gsd_m)
    salt = (int(seed) * 7919) & 0xFFFFFF
    nc = 0.6 * lattice_noise(col0, row0, w, h, gsd_m, 5.0, salt + 1) + 0.5 * lattice_noise(
        col0, row0, w, h, gsd_m, 37.0, salt + 6)
    nm = lattice_noise(col0, row0, w, h, gsd_m, 0.45, salt + 2)
    nf = lattice_noise(col0, row0, w, h, gsd_m, max(0.09, 1.5 * gsd_m), salt + 3, cubic=False)
    cols = [np.ascontiguousarray(table[:, k]) for k in range(10)]
    mod = cols[3][lab]
    mod *= nc
    mod += 1.0
    tmp = cols[4][lab]
    tmp *= nm
    mod += tmp
    tmp = cols[5][lab]
    tmp *= nf
    mod += tmp
    if (cols[8] > 0).any():
        # stripe phase = 2π (X cos a + Y sin a) / period, split into a per-material offset at the tile
        # origin (float64) and a float32 part over the tile, so precision holds far from the origin
        with np.errstate(divide="ignore", invalid="ignore"):
            kx = np.where(cols[7] > 0, 2 * np.pi * np.cos(cols[6].astype(np.float64)) / cols[7], 0.0)
            ky = np.where(cols[7] > 0, 2 * np.pi * np.sin(cols[6].astype(np.float64)) / cols[7], 0.0)
        X0, Y0 = (col0 + 0.5) * gsd_m, (row0 + 0.5) * gsd_m
        off = np.mod(kx * X0 + ky * Y0, 2 * np.pi).astype(np.float32)
        xs = (np.arange(w, dtype=np.float32) * np.float32(gsd_m))[None, :]
        ys = (np.arange(h, dtype=np.float32) * np.float32(gsd_m))[:, None]
        phase = kx.astype(np.float32)[lab]
        phase *= xs
        tmp = ky.astype(np.float32)[lab]
        tmp *= ys
        phase += tmp
        phase += off[lab]
        np.sin(phase, out=phase)
        phase *= cols[8][lab]
        mod += phase
    rgb = table[:, :3][lab]
    rgb *= mod[..., None]
    special = cols[9] != K_PLAIN
    kind = cols[9][lab] if special.any() else None
    rub = ((kind == K_RUBBLE) | (kind == K_CHAR)) if kind is not None else None
    if rub is not None and rub.any():
        a = lattice_noise(col0, row0, w, h, gsd_m, 0.32, salt + 4)
        b = lattice_noise(col0, row0, w, h, gsd_m, 0.11, salt + 5)
        rr, cc = np.nonzero(rub)
        av, bv = a[rr, cc], b[rr, cc]
        base = table[lab[rr, cc], :3]
        dust = np.array([188.0, 178.0, 160.0], np.float32)
        brick = np.array([150.0, 88.0, 68.0], np.float32)
        mix = np.clip((av + 1) * 0.5, 0, 1)[:, None]
        col = base * (1 - mix) + dust * mix * 0.9
        col = np.where((av > 0.62)[:, None], 0.55 * brick + 0.45 * col, col)
        charr = kind[rr, cc] == K_CHAR
        col[charr] *= 0.35
        gap = np.clip((-0.6 - bv) * 4.0, 0.0, 1.0)  # dark voids between chunks, soft-edged
        shade = ((0.7 + 0.5 * (bv + 1) * 0.5) * (1.0 - 0.65 * gap))[:, None]
        rgb[rr, cc] = col * shade * mod[rr, cc][:, None]
    if kind is None:
        kind = np.zeros((1, 1), np.float32)
    water = kind == K_WATER
    if water.any():
        glint = lattice_noise(col0, row0, w, h, gsd_m, 0.9, salt + 7)
        rgb[water] *= (1.0 + 0.05 * glint[water])[:, None]
    if shadow.any():
        sh = cv2.GaussianBlur(shadow.astype(np.float32), (0, 0), max(0.6, 0.08 / gsd_m))
        factor = 1.0 - sh[..., None] * np.array([0.56, 0.53, 0.45], np.float32)
        rgb *= factor
    gain = np.float32(epoch.exposure) * np.asarray(epoch.tint, np.float32)
    grain = pixel_noise(col0, row0, w, h, salt + epoch.salt)
    grain *= 2.5
    grain += 0.5
    rgb *= gain
    rgb += grain[..., None]
    np.clip(rgb, 0, 255, out=rgb)
    return rgb.astype(np.uint8)


def render_mask_tile(layout: Layout, event: EventResult | None, col0: int, row0: int, w: int, h: int,
                     gsd_m: float, mask_list: DrawList | None = None) -> np.ndarray:
    """Damage mask (uint8): 4 on event extents, then each building footprint with its grade 0..3."""
    if mask_list is None:
        mask_list = build_mask_list(layout, event)
    lab, _ = _rasterise(mask_list, col0, row0, w, h, gsd_m)
    return lab.astype(np.uint8)


def build_mask_list(layout: Layout, event: EventResult | None) -> DrawList:
    dl = DrawList()
    if event is not None:
        for geom, _ in event.extents:
            dl.add_geom(geom, 4)
    for b in layout.buildings:
        dl.add_geom(b.footprint, b.grade)
    return dl

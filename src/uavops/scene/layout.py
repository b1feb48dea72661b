"""Procedural town layout in scene metres (x east, y south from the scene's top-left corner).

The layout is vector data only — roads, blocks, plots, buildings (made of rectangular parts with
roof types), trees, fields and a river — and depends on the seed, location and scene size but
never on the pixel size, so the same seed gives the same town at 2 cm or 5 cm per pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import unary_union

__all__ = ["Building", "Layout", "Part", "Patch", "Road", "make_layout", "rect_coords"]

# Roof palettes seen from the air in Central-Asian towns: painted corrugated metal (green, blue,
# red, grey), clay tile, slate/asbestos-cement, and bitumen/concrete for flat roofs.
ROOF_COLOURS = {
    "metal_green": (78, 118, 92), "metal_blue": (72, 104, 140), "metal_red": (150, 66, 52),
    "metal_grey": (150, 152, 150), "tile": (168, 92, 64), "slate": (118, 116, 112),
    "asbestos": (170, 168, 158), "metal_rust": (132, 86, 62),
}
FLAT_COLOURS = {"bitumen": (72, 72, 74), "concrete": (160, 158, 150), "gravel": (138, 132, 122),
                "membrane": (190, 190, 186)}


@dataclass
class Part:
    """One rectangular (or round, roof='tank') piece of a building; angles in radians."""

    cx: float
    cy: float
    hl: float
    hw: float
    ang: float
    roof: str
    height_m: float

    def corners(self) -> np.ndarray:
        return rect_coords(self.cx, self.cy, self.hl, self.hw, self.ang)

    def polygon(self) -> Polygon:
        if self.roof == "tank":
            return Point(self.cx, self.cy).buffer(self.hl, 24)
        return Polygon(self.corners())


@dataclass
class Building:
    id: int
    kind: str                      # house | shed | apartment | industrial | tank
    parts: list[Part]
    colour: tuple[int, int, int]
    material: str                  # key of ROOF_COLOURS / FLAT_COLOURS
    grade: int = 0                 # 0..3 index into DAMAGE_GRADES
    footprint: Polygon = field(default=None)  # type: ignore[assignment]
    # render state set by events
    mud_cover: Polygon | None = None
    burnt: float = 0.0             # 0 none .. 1 fully charred
    collapse: Polygon | None = None  # area of the footprint that collapsed (damaged/destroyed)

    def __post_init__(self) -> None:
        if self.footprint is None:
            self.footprint = unary_union([p.polygon() for p in self.parts]).buffer(0)

    @property
    def height_m(self) -> float:
        return max(p.height_m for p in self.parts)


@dataclass
class Road:
    a: tuple[float, float]
    b: tuple[float, float]
    width_m: float
    main: bool
    poly: Polygon = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.poly is None:
            self.poly = LineString([self.a, self.b]).buffer(self.width_m / 2, cap_style=2)


@dataclass
class Patch:
    """A ground surface area: kind picks the material (yard_soil, grass, field, parking, ...)."""

    poly: Polygon
    kind: str
    tone: float = 0.0              # per-patch colour variation in [-1, 1]
    stripe_angle: float = 0.0


@dataclass
class Layout:
    size_m: float
    roads: list[Road]
    patches: list[Patch]
    buildings: list[Building]
    trees: np.ndarray              # (n, 5): x, y, radius_m, height_m, tone
    river: LineString | None
    river_width_m: float
    industrial_centre: tuple[float, float] | None
    upslope: str                   # edge the terrain rises towards: "south", "north", "east", "west"


def rect_coords(cx: float, cy: float, hl: float, hw: float, ang: float) -> np.ndarray:
    c, s = math.cos(ang), math.sin(ang)
    u = np.array([c, s]) * hl
    v = np.array([-s, c]) * hw
    ctr = np.array([cx, cy])
    return np.array([ctr - u - v, ctr + u - v, ctr + u + v, ctr - u + v])


def _house(rng: np.random.Generator, bid: int, cx: float, cy: float, ang: float, max_l: float, max_w: float) -> Building:
    length = float(rng.uniform(min(8.0, max_l), max(min(8.0, max_l) + 0.1, min(15.0, max_l))))
    hi_w = min(11.0, max_w, length)
    width = float(rng.uniform(min(6.5, hi_w), max(min(6.5, hi_w) + 0.1, hi_w)))
    roof = str(rng.choice(["gable", "gable", "hip", "hip", "flat"], p=[0.3, 0.15, 0.25, 0.15, 0.15]))
    height = float(rng.uniform(3.5, 6.5))
    parts = [Part(cx, cy, length / 2, width / 2, ang, roof, height)]
    if rng.random() < 0.35 and roof != "flat":
        # L-shaped extension at one end, perpendicular
        el = float(rng.uniform(min(4.0, width), max(4.1, width)))
        ew = float(rng.uniform(3.0, 5.0))
        sgn = 1 if rng.random() < 0.5 else -1
        c, s = math.cos(ang), math.sin(ang)
        ex = cx + sgn * (length / 2 - ew / 2) * c - (width / 2 + el / 2 - 0.5) * (-s)
        ey = cy + sgn * (length / 2 - ew / 2) * s - (width / 2 + el / 2 - 0.5) * c
        parts.append(Part(ex, ey, el / 2, ew / 2, ang + math.pi / 2, "gable", height * 0.9))
    if roof == "flat":
        mat = str(rng.choice(list(FLAT_COLOURS)))
        colour = FLAT_COLOURS[mat]
    else:
        mat = str(rng.choice(list(ROOF_COLOURS), p=[0.2, 0.14, 0.1, 0.16, 0.14, 0.1, 0.1, 0.06]))
        colour = ROOF_COLOURS[mat]
    colour = tuple(int(np.clip(ch * rng.uniform(0.85, 1.12), 0, 255)) for ch in colour)
    return Building(bid, "house", parts, colour, mat)  # type: ignore[arg-type]


def make_layout(size_m: float, seed: int, salt: int = 0, event: str = "earthquake") -> Layout:
    """Lay out a town of ``size_m`` × ``size_m`` metres; deterministic for (size_m, seed, salt, event)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(salt) & 0xFFFFFFFF, int(round(size_m * 10))])
    S = float(size_m)
    ctr = np.array([S / 2, S / 2])
    theta = float(rng.uniform(-0.35, 0.35))
    u = np.array([math.cos(theta), math.sin(theta)])
    v = np.array([-math.sin(theta), math.cos(theta)])
    R = S * 0.75 + 60
    scene_box = box(-30, -30, S + 30, S + 30)

    def lines(lo: float, hi: float, gap: tuple[float, float]) -> list[tuple[float, float, bool]]:
        out, pos = [], lo + float(rng.uniform(0, gap[1]))
        while pos < hi:
            main = rng.random() < 0.28
            out.append((pos, 14.0 if main else float(rng.uniform(7.0, 9.0)), bool(main)))
            pos += float(rng.uniform(*gap))
        return out

    ulines = lines(-R, R, (75.0, 125.0))   # positions along u of roads running along v
    vlines = lines(-R, R, (60.0, 105.0))

    # river: a meandering line across the scene, roughly perpendicular to the upslope direction
    upslope = str(rng.choice(["south", "north", "east", "west"]))
    has_river = S >= 350 or event == "flood"
    river_w = float(rng.uniform(14.0, 26.0))
    n = 80
    xs = np.linspace(-40, S + 40, n)
    amp = float(rng.uniform(0.04, 0.1)) * S
    lam = float(rng.uniform(0.6, 1.3)) * S
    phase = float(rng.uniform(0, 2 * math.pi))
    off = float(rng.uniform(0.2, 0.8)) * S
    ys = off + amp * np.sin(2 * math.pi * xs / lam + phase) + 0.15 * amp * np.sin(2 * math.pi * xs / (lam / 3.7))
    pts = np.stack([xs, ys], axis=1) if upslope in ("south", "north") else np.stack([ys, xs], axis=1)
    river = LineString(pts)
    corridor = river.buffer(river_w / 2 + 22.0) if has_river else Polygon()

    roads: list[Road] = []
    for pos, w, main in ulines:
        a, b = ctr + u * pos - v * R, ctr + u * pos + v * R
        roads.append(Road(tuple(a), tuple(b), w, main))
    for pos, w, main in vlines:
        a, b = ctr + v * pos - u * R, ctr + v * pos + u * R
        roads.append(Road(tuple(a), tuple(b), w, main))
    for r in roads:
        r.poly = r.poly.intersection(scene_box)
        if not r.main:
            r.poly = r.poly.difference(corridor.buffer(-14.0))

    patches: list[Patch] = []
    buildings: list[Building] = []
    trees: list[tuple[float, float, float, float, float]] = []
    bid = 0

    def add_tree(x: float, y: float, r: float | None = None) -> None:
        rr = float(r if r is not None else rng.uniform(1.6, 3.8))
        trees.append((x, y, rr, rr * float(rng.uniform(1.8, 3.0)), float(rng.uniform(-1, 1))))

    # blocks
    blocks = []
    for i in range(len(ulines) - 1):
        for j in range(len(vlines) - 1):
            t0 = ulines[i][0] + ulines[i][1] / 2 + 2.5
            t1 = ulines[i + 1][0] - ulines[i + 1][1] / 2 - 2.5
            s0 = vlines[j][0] + vlines[j][1] / 2 + 2.5
            s1 = vlines[j + 1][0] - vlines[j + 1][1] / 2 - 2.5
            bc = ctr + u * (t0 + t1) / 2 + v * (s0 + s1) / 2
            if not (-80 < bc[0] < S + 80 and -80 < bc[1] < S + 80):
                continue
            blocks.append((float(bc[0]), float(bc[1]), (t1 - t0) / 2, (s1 - s0) / 2))

    industrial_centre = None
    forced_industrial = -1
    if event == "fire" and blocks:
        target = ctr + rng.uniform(-0.12, 0.12, 2) * S
        order = sorted(range(len(blocks)), key=lambda k: math.hypot(blocks[k][0] - target[0], blocks[k][1] - target[1]))
        for k in order:
            if not corridor.intersects(Polygon(rect_coords(blocks[k][0], blocks[k][1], blocks[k][2], blocks[k][3], theta))):
                forced_industrial = k
                break
        if forced_industrial < 0:
            forced_industrial = order[0]

    for k, (bx, by, hl, hw) in enumerate(blocks):
        block_poly = Polygon(rect_coords(bx, by, hl, hw, theta))
        d = math.hypot(bx - ctr[0], by - ctr[1]) / (S / 2)
        r = rng.random()
        if k == forced_industrial:
            zone = "industrial"
        elif corridor.buffer(-10.0).contains(Point(bx, by)):
            zone = "park"
        elif d < 0.55 and r < 0.3:
            zone = "apartments"
        elif r < 0.4 and d > 0.95:
            zone = "field"
        elif r > 0.93:
            zone = "industrial"
        elif r > 0.88:
            zone = "park"
        else:
            zone = "residential"
        if zone == "park":
            area = block_poly.difference(corridor.buffer(-12.0))
            patches.append(Patch(area, "grass", float(rng.uniform(-1, 1))))
            minx, miny, maxx, maxy = block_poly.bounds
            for _ in range(int(block_poly.area / 90)):
                x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
                if block_poly.contains(Point(x, y)) and not corridor.buffer(-10.0).contains(Point(x, y)):
                    add_tree(float(x), float(y))
            continue
        if zone == "field":
            patches.append(Patch(block_poly, "field", float(rng.uniform(-1, 1)),
                                 theta + (math.pi / 2 if rng.random() < 0.5 else 0.0)))
            continue
        if zone == "industrial":
            patches.append(Patch(block_poly, "concrete_yard", float(rng.uniform(-1, 1))))
            if k == forced_industrial:
                industrial_centre = (bx, by)
            nb = 1 if hl < 35 else int(rng.integers(2, 4))
            seg = 2 * hl / nb
            for m in range(nb):
                t = -hl + seg * (m + 0.5)
                c = np.array([bx, by]) + u * t + v * float(rng.uniform(-0.15, 0.15)) * hw
                L = min(seg / 2 - 4.0, float(rng.uniform(12, 28)))
                W = min(hw - 6.0, float(rng.uniform(9, 18)))
                if L < 5 or W < 4:
                    continue
                roof = str(rng.choice(["gable", "flat"], p=[0.55, 0.45]))
                mat = "metal_grey" if roof == "gable" else str(rng.choice(["bitumen", "membrane", "concrete"]))
                colour = ROOF_COLOURS.get(mat) or FLAT_COLOURS[mat]
                bid += 1
                buildings.append(Building(bid, "industrial", [Part(float(c[0]), float(c[1]), L, W, theta, roof,
                                                                   float(rng.uniform(6, 11)))], colour, mat))
            # storage tanks in a row along one side
            ntank = int(rng.integers(0, 4)) if event != "fire" or k != forced_industrial else 3
            for m in range(ntank):
                rad = float(rng.uniform(3.5, 6.0))
                c = np.array([bx, by]) + u * (-hl + 8 + m * 2.6 * rad + rad) + v * (hw - rad - 2.0)
                if Point(*c).buffer(rad).within(block_poly) and not any(
                        b.footprint.intersects(Point(*c).buffer(rad + 1)) for b in buildings[-4:]):
                    bid += 1
                    buildings.append(Building(bid, "tank", [Part(float(c[0]), float(c[1]), rad, rad, 0.0, "tank",
                                                                 float(rng.uniform(7, 12)))], (196, 196, 192), "tank"))
            continue
        if zone == "apartments":
            patches.append(Patch(block_poly, "courtyard", float(rng.uniform(-1, 1))))
            nslab = 1 if hw < 24 else 2
            for m in range(nslab):
                off_v = 0.0 if nslab == 1 else (-hw / 2 if m == 0 else hw / 2)
                L = min(hl - 6.0, float(rng.uniform(22, 45)))
                if L < 8:
                    continue
                c = np.array([bx, by]) + v * off_v * 0.9
                mat = str(rng.choice(["bitumen", "membrane", "gravel", "concrete"]))
                bid += 1
                buildings.append(Building(bid, "apartment", [Part(float(c[0]), float(c[1]), L, 6.5, theta, "flat",
                                                                  float(rng.uniform(14, 27)))], FLAT_COLOURS[mat], mat))
            # parking strip and trees
            pc = np.array([bx, by]) + u * (hl - 9) * (1 if rng.random() < 0.5 else -1)
            patches.append(Patch(Polygon(rect_coords(pc[0], pc[1], 7.0, max(3.0, hw - 6), theta)), "parking"))
            for _ in range(int(block_poly.area / 260)):
                x, y = rng.uniform(-hl, hl), rng.uniform(-hw, hw)
                p = np.array([bx, by]) + u * x + v * y
                if not any(b.footprint.buffer(2.5).contains(Point(*p)) for b in buildings[-3:]):
                    add_tree(float(p[0]), float(p[1]))
            continue
        # residential: one or two rows of plots, houses at the street front
        rows = [(-1, hw)] if hw < 22 else [(-1, hw / 2), (1, hw / 2)]
        for side, depth in rows:
            t = -hl
            while t < hl - 8:
                front = float(rng.uniform(15, 24))
                front = min(front, hl - t)
                if front < 8:
                    break
                pc_t = t + front / 2
                pc_s = (-hw + depth / 2) if side < 0 else (hw - depth / 2)
                if len(rows) == 1:
                    pc_s = 0.0
                centre = np.array([bx, by]) + u * pc_t + v * pc_s
                plot = Polygon(rect_coords(centre[0], centre[1], front / 2 - 0.2, depth / 2 - 0.2, theta))
                patches.append(Patch(plot, str(rng.choice(["yard_soil", "yard_soil", "grass", "yard_paved"])),
                                     float(rng.uniform(-1, 1))))
                street = -1.0 if (side < 0) else 1.0
                setback = float(rng.uniform(2.0, 5.0))
                hw_max = depth / 2 - setback - 1.0
                house_w = min(11.0, max(6.5, hw_max))
                hx = centre + v * street * (depth / 2 - setback - house_w / 2)
                bid += 1
                b = _house(rng, bid, float(hx[0]), float(hx[1]), theta, front - 3.0, house_w)
                if b.footprint.within(plot.buffer(0.5)):
                    buildings.append(b)
                else:
                    bid -= 1
                if rng.random() < 0.4 and depth > 18:
                    sx = centre - v * street * (depth / 2 - 3.5) + u * float(rng.uniform(-front / 4, front / 4))
                    bid += 1
                    buildings.append(Building(bid, "shed", [Part(float(sx[0]), float(sx[1]), float(rng.uniform(1.8, 3.2)),
                                                                 float(rng.uniform(1.5, 2.2)), theta, "shed", 2.6)],
                                              ROOF_COLOURS["metal_grey"], "metal_grey"))
                if rng.random() < 0.3 and depth > 16:
                    gc = centre - v * street * (depth / 4)
                    patches.append(Patch(Polygon(rect_coords(gc[0], gc[1], front / 3, depth / 7, theta)), "garden",
                                         float(rng.uniform(-1, 1)), theta))
                for _ in range(int(rng.integers(0, 5))):
                    p = centre + u * float(rng.uniform(-front / 2 + 2, front / 2 - 2)) - v * street * float(
                        rng.uniform(0, depth / 2 - 2))
                    if not any(bb.footprint.buffer(1.5).contains(Point(*p)) for bb in buildings[-3:]):
                        add_tree(float(p[0]), float(p[1]))
                t += front
    # street trees along main roads
    for road in roads:
        if not road.main:
            continue
        a, b = np.array(road.a), np.array(road.b)
        length = float(np.linalg.norm(b - a))
        d = (b - a) / length
        nrm = np.array([-d[1], d[0]])
        for s in np.arange(0, length, float(rng.uniform(9, 13))):
            for sgn in (-1, 1):
                p = a + d * s + nrm * sgn * (road.width_m / 2 + 1.6)
                if -5 < p[0] < S + 5 and -5 < p[1] < S + 5 and rng.random() < 0.8 \
                        and not corridor.buffer(-8).contains(Point(*p)):
                    add_tree(float(p[0]), float(p[1]), float(rng.uniform(1.8, 3.0)))

    # keep only buildings inside the scene (with their whole footprint) and clear of the river
    river_poly = river.buffer(river_w / 2 + 6.0) if has_river else Polygon()
    inside = box(1.0, 1.0, S - 1.0, S - 1.0)
    kept = [b for b in buildings if b.footprint.within(inside) and not b.footprint.intersects(river_poly)]
    # drop overlaps (later ones lose)
    final: list[Building] = []
    for b in kept:
        if not any(b.footprint.buffer(0.3).intersects(o.footprint) for o in final[-30:]):
            final.append(b)
    for i, b in enumerate(final, start=1):
        b.id = i
    tree_arr = np.array(trees, dtype=np.float64).reshape(-1, 5)
    if len(tree_arr):
        keep = np.ones(len(tree_arr), bool)
        for b in final:
            minx, miny, maxx, maxy = b.footprint.bounds
            near = (tree_arr[:, 0] > minx - 1) & (tree_arr[:, 0] < maxx + 1) & (tree_arr[:, 1] > miny - 1) & (
                tree_arr[:, 1] < maxy + 1)
            for idx in np.nonzero(near & keep)[0]:
                if b.footprint.distance(Point(tree_arr[idx, 0], tree_arr[idx, 1])) < 0.8:
                    keep[idx] = False
        tree_arr = tree_arr[keep]
    if has_river and len(tree_arr):
        water = river.buffer(river_w / 2 + 2.0)
        tree_arr = tree_arr[[not water.contains(Point(t[0], t[1])) for t in tree_arr]]
    return Layout(S, roads, patches, final, tree_arr, river if has_river else None, river_w, industrial_centre, upslope)


def rotate_about(poly: Polygon, angle_rad: float, origin: tuple[float, float]) -> Polygon:
    return affinity.rotate(poly, angle_rad, origin=origin, use_radians=True)

"""``make_scene``: a procedural pre/post raster pair with exact damage truth, written tile by tile.

Memory stays bounded whatever the size: the town is vector data (a few MB even for km² scenes)
and the rasters are painted and written one window at a time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, Resampling
from rasterio.transform import from_origin
from rasterio.windows import Window
from shapely.geometry import mapping
from shapely.geometry.polygon import orient
from shapely.ops import transform as shp_transform

from ..errors import SceneError
from ..files import atomic_path, atomic_write, ensure_out_dir, write_json
from ..geo import LocalProjection
from ..locations import Location, parse_home
from ..package import DAMAGE_GRADES
from ..progress import progress_bar
from .events import EventResult, apply_event, canonical_event
from .layout import Layout, make_layout
from .model import SCENE_FILES, Scene, load_scene
from .render import build_draw_list, build_mask_list, epochs_for_seed, render_mask_tile, render_tile

__all__ = ["GENERATOR_VERSION", "MASK_VALUES", "is_current_scene", "make_scene"]

#: Bumped whenever the same arguments would paint different pixels or truth, so caches of scenes
#: (evaluation, training, benchmarks) can tell a stale scene from a current one.
#: 2: mudflow/tailings boulders and wet patches, no cars or trees inside flows, collapsed buildings cast
#:    no shadow, chunkier rubble; the emptied tailings impoundment is part of the event extent.
GENERATOR_VERSION = "2"
#: damage_mask.tif values
MASK_VALUES = {0: "none / No visible damage", 1: "Possibly damaged", 2: "Damaged", 3: "Destroyed",
               4: "event extent (debris, water, mud, tailings, burn scar)"}
_MASK_COLOURS = {0: (0, 0, 0, 0), 1: (255, 230, 0, 255), 2: (255, 128, 0, 255), 3: (200, 0, 0, 255),
                 4: (60, 120, 255, 255)}
MAX_PIXELS = 60_000 * 60_000


def is_current_scene(out_dir: str | Path, **expected: Any) -> bool:
    """True when ``out_dir`` holds a complete scene of this generator version with the ``expected``
    scene.json values (e.g. ``seed=1031, gsd_cm=5.0``); a cache reuses it only then."""
    out = Path(out_dir)
    try:
        meta = json.loads((out / "scene.json").read_text())
    except (OSError, ValueError):
        return False
    if meta.get("generator_version") != GENERATOR_VERSION:
        return False
    if not all((out / SCENE_FILES[k]).is_file() for k in ("post", "pre", "mask", "buildings")):
        return False
    return all(meta.get(k) == v for k, v in expected.items())


def _rgb_profile(epsg: int, transform: Any, size_px: int, block: int) -> dict[str, Any]:
    return dict(driver="GTiff", dtype="uint8", count=3, width=size_px, height=size_px, crs=f"EPSG:{epsg}",
                transform=transform, tiled=True, blockxsize=block, blockysize=block, compress="deflate",
                zlevel=1, predictor=2, photometric="RGB", interleave="pixel", BIGTIFF="IF_SAFER")


def _feature_collection(features: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return {"type": "FeatureCollection", "name": name, "features": features}


def _round_coords(geom: dict[str, Any]) -> dict[str, Any]:
    def rnd(c: Any) -> Any:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round(float(c[0]), 8), round(float(c[1]), 8)]
        return [rnd(x) for x in c]

    return {"type": geom["type"], "coordinates": rnd(geom["coordinates"])}


def make_scene(event: str, location: str | Location, size_m: float = 600.0, gsd_cm: float = 3.0, seed: int = 1,
               out_dir: str | Path = "scene", *, tile_px: int = 1024, overviews: bool = True,
               progress: bool | None = False) -> Scene:
    """Generate a synthetic disaster scene and its truth into ``out_dir``.

    Parameters
    ----------
    event : earthquake | flood | mudflow | tailings | fire (aliases: sel, tailings_dam_failure, industrial_fire)
    location : a named site of :mod:`uavops.locations` or ``LAT,LON[,ALT]``; the scene is centred on it.
    size_m : side of the square scene in metres (50 … 3000).
    gsd_cm : pixel size in centimetres (1 … 50).
    seed : the same seed (and the other arguments) gives byte-identical files.

    Returns
    -------
    Scene
        The scene as :func:`load_scene` reads it back.

    Raises
    ------
    SceneError
        Unknown event, or a size/pixel size outside the supported range.
    """
    ev = canonical_event(event)
    loc = location if isinstance(location, Location) else parse_home(location)
    if not (math.isfinite(size_m) and 50.0 <= size_m <= 3000.0):
        raise SceneError(f"Scene size {size_m} m is outside 50–3000 m; choose a --size-m in that range.")
    if not (math.isfinite(gsd_cm) and 1.0 <= gsd_cm <= 50.0):
        raise SceneError(f"Pixel size {gsd_cm} cm is outside 1–50 cm; choose a --gsd-cm in that range.")
    gsd_m = gsd_cm / 100.0
    size_px = int(math.ceil(size_m / gsd_m - 1e-6))
    if size_px * size_px > MAX_PIXELS:
        raise SceneError(f"{size_m} m at {gsd_cm} cm is {size_px}×{size_px} pixels, more than this generator "
                         "writes; use a coarser --gsd-cm or a smaller --size-m.")
    size_m_eff = size_px * gsd_m
    out = ensure_out_dir(out_dir)
    proj = LocalProjection.for_point(loc.lon_deg, loc.lat_deg)
    e_c, n_c = proj.to_xy(loc.lon_deg, loc.lat_deg)
    left = math.floor((e_c - size_m_eff / 2) / gsd_m) * gsd_m
    top = math.floor((n_c + size_m_eff / 2) / gsd_m) * gsd_m
    left, top = round(left, 6), round(top, 6)
    transform = from_origin(left, top, gsd_m, gsd_m)

    salt = sum(ord(ch) * (i + 1) for i, ch in enumerate(loc.name.lower()))
    layout = make_layout(size_m_eff, seed, salt, ev)
    result = apply_event(layout, ev, seed)
    pre_epoch, post_epoch = epochs_for_seed(seed)
    pre_list = build_draw_list(layout, pre_epoch, result if result.pre_ground else None, seed)
    post_list = build_draw_list(layout, post_epoch, result, seed)
    mask_list = build_mask_list(layout, result)
    pre_table, post_table = pre_list.materials.table(), post_list.materials.table()

    block = 512 if size_px >= 512 else max(16, (size_px // 16) * 16)
    tile = max(block, (tile_px // block) * block)
    windows = [(c, r, min(tile, size_px - c), min(tile, size_px - r))
               for r in range(0, size_px, tile) for c in range(0, size_px, tile)]
    # GDAL would otherwise cache up to 5 % of RAM of written blocks; 256 MB keeps a km² scene bounded
    with rasterio.Env(GDAL_CACHEMAX=256), atomic_path(out / SCENE_FILES["pre"]) as pre_tmp, atomic_path(out / SCENE_FILES["post"]) as post_tmp, \
            atomic_path(out / SCENE_FILES["mask"]) as mask_tmp:
        prof = _rgb_profile(proj.epsg, transform, size_px, block)
        mprof = dict(prof, count=1, photometric="MINISBLACK", predictor=1)
        mprof.pop("interleave")
        with rasterio.open(pre_tmp, "w", **prof) as pre_ds, rasterio.open(post_tmp, "w", **prof) as post_ds, \
                rasterio.open(mask_tmp, "w", **mprof) as mask_ds, progress_bar(progress) as bar:
            task = bar.add_task(f"Painting {ev} scene", total=len(windows))
            for ds, name in ((pre_ds, "pre-event"), (post_ds, "post-event")):
                ds.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
                ds.update_tags(uavops_scene=name, generator_version=GENERATOR_VERSION)
            mask_ds.write_colormap(1, {k: _MASK_COLOURS.get(k, (0, 0, 0, 0)) for k in range(256)})
            mask_ds.update_tags(values="; ".join(f"{k}={v}" for k, v in MASK_VALUES.items()))
            for c0, r0, w, h in windows:
                win = Window(c0, r0, w, h)
                pre_ds.write(np.moveaxis(render_tile(pre_list, pre_table, pre_epoch, c0, r0, w, h, gsd_m, seed), -1, 0),
                             window=win)
                post_ds.write(np.moveaxis(render_tile(post_list, post_table, post_epoch, c0, r0, w, h, gsd_m, seed),
                                          -1, 0), window=win)
                mask_ds.write(render_mask_tile(layout, result, c0, r0, w, h, gsd_m, mask_list), 1, window=win)
                bar.advance(task)
        if overviews:
            factors = [f for f in (2, 4, 8, 16, 32) if size_px // f >= 256]
            if factors:
                for tmp in (pre_tmp, post_tmp):
                    with rasterio.open(tmp, "r+") as ds:
                        ds.build_overviews(factors, Resampling.average)
                with rasterio.open(mask_tmp, "r+") as ds:
                    ds.build_overviews(factors, Resampling.nearest)
    _write_truth(out, layout, result, proj, left, top, ev)
    counts = {g: sum(1 for b in layout.buildings if b.grade == i) for i, g in enumerate(DAMAGE_GRADES)}
    lon_min, lat_min = proj.to_lonlat(left, top - size_m_eff)
    lon_max, lat_max = proj.to_lonlat(left + size_m_eff, top)
    meta = {
        "format": "uavops-scene",
        "generator_version": GENERATOR_VERSION,
        "event": ev,
        "location": {"name": loc.name, "lat_deg": loc.lat_deg, "lon_deg": loc.lon_deg},
        "crs_epsg": proj.epsg,
        "gsd_cm": gsd_cm,
        "size_m": size_m_eff,
        "width_px": size_px,
        "height_px": size_px,
        "seed": int(seed),
        "ground_amsl_m": loc.ground_amsl_m,
        "bounds": {"left": left, "bottom": round(top - size_m_eff, 6), "right": round(left + size_m_eff, 6), "top": top},
        "bounds_wgs84": [round(lon_min, 8), round(lat_min, 8), round(lon_max, 8), round(lat_max, 8)],
        "sun": {"pre": {"azimuth_deg": round(pre_epoch.sun_azimuth_deg, 3),
                        "elevation_deg": round(pre_epoch.sun_elevation_deg, 3)},
                "post": {"azimuth_deg": round(post_epoch.sun_azimuth_deg, 3),
                         "elevation_deg": round(post_epoch.sun_elevation_deg, 3)}},
        "buildings": len(layout.buildings),
        "damage_counts": counts,
        "mask_values": {str(k): v for k, v in MASK_VALUES.items()},
        "files": dict(SCENE_FILES),
        "has_truth": True,
    }
    write_json(out / SCENE_FILES["meta"], meta)
    return load_scene(out)


def _write_truth(out: Path, layout: Layout, result: EventResult, proj: LocalProjection, left: float, top: float,
                 event: str) -> None:
    def to_wgs84(geom: Any) -> Any:
        g = shp_transform(lambda x, y, z=None: proj.to_lonlat(left + np.asarray(x), top - np.asarray(y)), geom)
        if g.geom_type == "Polygon":
            return orient(g, 1.0)
        if g.geom_type == "MultiPolygon":
            from shapely.geometry import MultiPolygon
            return MultiPolygon([orient(p, 1.0) for p in g.geoms])
        return g

    feats = []
    for b in layout.buildings:
        fp = to_wgs84(b.footprint)
        feats.append({"type": "Feature", "id": b.id,
                      "properties": {"building_id": b.id, "damage_gra": DAMAGE_GRADES[b.grade], "grade_code": b.grade,
                                     "obj_type": b.kind, "roof": b.parts[0].roof, "height_m": round(b.height_m, 2),
                                     "event_type": event},
                      "geometry": _round_coords(mapping(fp))})
    with atomic_write(out / SCENE_FILES["buildings"]) as fh:
        import json
        json.dump(_feature_collection(feats, "buildings"), fh, ensure_ascii=False)
        fh.write("\n")
    efeats = []
    for i, (geom, etype) in enumerate(result.extents, start=1):
        if geom.is_empty:
            continue
        g = to_wgs84(geom.buffer(0))
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            polys = [p for p in getattr(g, "geoms", []) if p.geom_type == "Polygon"]
            if not polys:
                continue
            from shapely.geometry import MultiPolygon
            g = MultiPolygon(polys)
        efeats.append({"type": "Feature", "id": i,
                       "properties": {"event_id": i, "event_type": etype, "event": event,
                                      "area_m2": round(float(geom.area), 1)},
                       "geometry": _round_coords(mapping(g))})
    with atomic_write(out / SCENE_FILES["events"]) as fh:
        import json
        json.dump(_feature_collection(efeats, "events"), fh, ensure_ascii=False)
        fh.write("\n")

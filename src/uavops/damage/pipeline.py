"""``uavops damage`` as a library call: inputs -> change map -> grades/polygons -> package folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from .. import __version__
from ..errors import InputError
from ..files import output_folder, write_json
from ..package import DAMAGE_GRADES, EVENT_TYPES, DamagePackageMeta, EventInfo, PackageFile, sha256_file
from .buildings import GradedBuilding, burn_grades, grade_buildings, read_footprints
from .delineation import burn_building_grades, delineate_extent_for_event
from .detector import ChangeMap, detect_changes
from .inputs import DEFAULT_WORK_GSD_M, ImagePair, load_pair
from .model import EXTENT_CLASS, load_model
from .outputs import grade_counts, write_change_mask, write_damage_cog, write_geojson
from .polygons import AreaPolygon, damage_polygons, extent_polygons, grid_geometry_to_output
from .report import Place, render_report
from .vegetation import unflag_standing_canopy

__all__ = ["EVENT_CHOICES", "DamageOptions", "DamageResult", "guess_event", "run_damage"]

EVENT_CHOICES = ("auto", "earthquake", "flood", "mudflow", "tailings_dam_failure", "fire", "industrial", "landslide")

_MEDIA = {".geojson": "application/geo+json", ".tif": "image/tiff; application=geotiff; profile=cloud-optimized",
          ".png": "image/png", ".json": "application/json", ".html": "text/html"}


@dataclass
class DamageOptions:
    event: str = "auto"
    producer: str | None = None
    platform: str | None = None
    obs_date: date | None = None
    source_id: str | None = None
    licence: str = "CC-BY-4.0"
    work_gsd_m: float = DEFAULT_WORK_GSD_M
    max_plain_side_px: int = 1000
    max_places: int = 6
    progress: bool | None = None


@dataclass
class DamageResult:
    out_dir: Path
    meta: DamagePackageMeta
    summary: dict[str, Any]
    change: ChangeMap
    pair: ImagePair
    buildings: list[GradedBuilding] = field(default_factory=list)
    areas: list[AreaPolygon] = field(default_factory=list)
    extents: list[AreaPolygon] = field(default_factory=list)


def guess_event(change: ChangeMap, post: np.ndarray | None = None) -> str:
    """Event type from what the changed ground looks like (water, mud, burn, rubble indices).

    ``post`` (the post image on the change map's grid) lets the colour of the extent tell a tailings flow
    from debris. The rules are physical: flood water is smooth, where mud carries boulders and debris
    (rubble index no higher than on the unchanged ground); a tailings flow is one large, even, grey-white
    sheet (most of the change is extent, of low saturation), where earthquake debris sits at the buildings.
    """
    assert change.single_image_indices is not None
    sel = (change.classes >= 1) & change.valid
    if sel.sum() < 20:
        return "other"
    means = change.single_image_indices[:, sel].astype(np.float32).mean(axis=1) / 255.0
    base = change.single_image_indices[:, change.valid & ~sel].astype(np.float32).mean(axis=1) / 255.0 \
        if (change.valid & ~sel).any() else np.zeros(4)
    lift = means - base
    extent = (change.classes == EXTENT_CLASS) & change.valid
    extent_share = float(extent.sum() / sel.sum())
    names = ("flood", "mudflow", "fire", "earthquake")
    k = int(np.argmax(lift))
    if extent_share < 0.2 and names[k] in ("flood", "mudflow"):
        return "earthquake" if lift[3] > 0 else names[k]
    if names[k] in ("flood", "mudflow"):
        # turbid flood water and mud share a colour; the texture tells them apart
        return "flood" if lift[3] <= 0.02 else "mudflow"
    if names[k] == "earthquake" and post is not None and extent_share >= 0.7:
        rgb = post[extent].astype(np.float32).mean(axis=0)
        saturation = float((rgb.max() - rgb.min()) / max(float(rgb.max()), 1.0))
        if saturation < 0.3:
            return "tailings_dam_failure"
    return names[k]


def _bbox_wgs84(pair: ImagePair) -> tuple[float, float, float, float]:
    g = pair.grid
    if not g.georeferenced:
        return (0.0, 0.0, 0.0, 0.0)
    assert g.transform is not None and g.crs is not None
    left, top = g.transform @ (0, 0)
    right, bottom = g.transform @ (g.width, g.height)
    b = transform_bounds(g.crs, CRS.from_epsg(4326), min(left, right), min(top, bottom), max(left, right),
                         max(top, bottom), densify_pts=21)
    return (round(b[0], 7), round(b[1], 7), round(b[2], 7), round(b[3], 7))


def _places(buildings: list[GradedBuilding], areas: list[AreaPolygon], n: int) -> list[Place]:
    sev = {g: i for i, g in enumerate(DAMAGE_GRADES)}
    cands: list[tuple[float, Place]] = []
    for b in buildings:
        if b.damage_gra != DAMAGE_GRADES[0]:
            cands.append((sev[b.damage_gra] + b.confidence,
                          Place(f"Building {b.footprint.building_id}", b.damage_gra, b.confidence, b.footprint.geometry_grid)))
    for a in areas:
        if a.damage_gra:
            cands.append((sev[a.damage_gra] + min(1.0, a.pixels / 5000.0),
                          Place(f"Damage area ({a.pixels} px)", a.damage_gra, a.confidence, a.geometry_grid)))
    cands.sort(key=lambda t: -t[0])
    return [p for _, p in cands[:n]]


def run_damage(post: str | Path, out_dir: str | Path, *, pre: str | Path | None = None,
               buildings: str | Path | None = None, options: DamageOptions | None = None) -> DamageResult:
    """Detect damage and write the package folder.

    Writes ``damage.geojson``, ``damage.tif``, ``event_extent.geojson``, ``summary.json``, ``report.html``,
    ``package.json`` and, for plain images, ``change_mask.png``.

    Raises
    ------
    InputError
        A file is missing or malformed, or the output folder cannot be written.
    DetectionError
        The images do not overlap or do not match, or the model is unusable.
    """
    opts = options or DamageOptions()
    if opts.event not in EVENT_CHOICES:
        raise InputError(f"Unknown event '{opts.event}'; use one of {', '.join(EVENT_CHOICES)}.")
    with output_folder(out_dir) as out:
        return _write_package(post, out, pre, buildings, opts)


def _write_package(post: str | Path, out: Path, pre: str | Path | None, buildings: str | Path | None,
                   opts: DamageOptions) -> DamageResult:
    model = load_model()
    pair = load_pair(post, pre, work_gsd_m=opts.work_gsd_m, max_plain_side_px=opts.max_plain_side_px)
    grid = pair.grid
    px_area = grid.pixel_area_m2
    unit = "m²" if px_area else "px"
    footprints = read_footprints(buildings, grid) if buildings is not None else []
    change = detect_changes(pair, model=model, progress=opts.progress)
    event = guess_event(change, pair.post) if opts.event == "auto" else opts.event
    graded = grade_buildings(footprints, change, grid, model.card.get("grader"))
    # After grading (the grader was fitted on the network's own map), before delineating: trees that lean
    # differently in two mosaics are not earthquake damage (uavops.damage.vegetation).
    canopy_px = unflag_standing_canopy(change.classes, pair.post, change.pre_registered, change.compared, grid.gsd_m,
                                       event)
    if canopy_px:
        change.notes.append(
            f"{canopy_px * (px_area or 1.0):,.0f} {unit} of standing tree canopy that differed between the images "
            f"was not flagged (trees lean differently in two mosaics; a green, leafy crown is not {event} damage)")
    # Extents as an analyst maps them (unburnt patches inside a scar, trees standing in a flood, the streets
    # crossing a burn scar or a flow): the polygons, damage.tif and the summary all use this one delineation.
    delineate_extent_for_event(change.classes, change.valid, grid, event)
    areas = [] if footprints else damage_polygons(change.classes, change.probs, grid)
    extents = extent_polygons(change.classes, change.probs, grid)

    obs_dt = pair.post_time
    obs_date = (opts.obs_date or (obs_dt.date() if obs_dt else datetime.now(timezone.utc).date())).isoformat()
    source_id = opts.source_id or Path(post).stem
    mode = "pre/post change" if pair.pre is not None else "post-only single-image cues"
    det_method = f"uavops-damage {__version__} model {model.version} ({mode})"
    common = {"event_type": event, "obs_date": obs_date, "det_method": det_method, "source_id": source_id}

    features: list[dict[str, Any]] = []
    for b in graded:
        geom = b.footprint.geometry_wgs84 if grid.georeferenced else grid_geometry_to_output(b.footprint.geometry_grid, grid)
        features.append({"geometry": geom, "properties": {
            "building_id": b.footprint.building_id, "damage_gra": b.damage_gra, "confidence": round(b.confidence, 3),
            "area_m2": round(b.area_m2, 1) if b.area_m2 is not None else None, **common}})
    for i, a in enumerate(areas, 1):
        features.append({"geometry": grid_geometry_to_output(a.geometry_grid, grid), "properties": {
            "area_id": i, "damage_gra": a.damage_gra, "confidence": round(a.confidence, 3),
            "area_m2": round(a.pixels * grid.pixel_area_m2, 1) if grid.pixel_area_m2 else None, **common}})
    n_feats = write_geojson(out / "damage.geojson", features, pixel_grid=not grid.georeferenced)
    ext_feats = [{"geometry": grid_geometry_to_output(e.geometry_grid, grid), "properties": {
        "extent_id": i, "event_type": event, "confidence": round(e.confidence, 3),
        "area_m2": round(e.pixels * grid.pixel_area_m2, 1) if grid.pixel_area_m2 else None,
        "obs_date": obs_date, "det_method": det_method, "source_id": source_id}} for i, e in enumerate(extents, 1)]
    write_geojson(out / "event_extent.geojson", ext_feats, pixel_grid=not grid.georeferenced)
    if graded:
        # With footprints, a building's pixels carry its grade (what the grader decided, not the raw pixels).
        burn_building_grades(change.classes, change.valid, burn_grades(graded, change.classes.shape))
    write_damage_cog(out / "damage.tif", change, grid)
    if not grid.georeferenced:
        write_change_mask(out / "change_mask.png", change, grid)

    damaged_px = int(((change.classes >= 1) & (change.classes <= 3)).sum())
    extent_px = int((change.classes == EXTENT_CLASS).sum())
    counts = grade_counts(b.damage_gra for b in graded) if graded else grade_counts(a.damage_gra for a in areas if a.damage_gra)
    valid_px = int(change.valid.sum())
    summary: dict[str, Any] = {
        "event_type": event,
        "obs_date": obs_date,
        "mode": mode,
        "units": "m2" if px_area else "px",
        "counts_per_grade": counts,
        "buildings_assessed": len(graded),
        "buildings_given": len(footprints),
        "damage_features": n_feats,
        "affected_area": round(damaged_px * (px_area or 1.0), 1),
        "event_extent_area": round(extent_px * (px_area or 1.0), 1),
        "assessed_area": round(valid_px * (px_area or 1.0), 1),
        "changed_fraction": round((damaged_px + extent_px) / max(valid_px, 1), 5),
        "compared_fraction": round(float(change.compared.sum()) / max(valid_px, 1), 4),
        "changed_fraction_where_compared": round(
            float(((change.classes >= 1) & change.compared).sum()) / max(int(change.compared.sum()), 1), 5)
        if change.compared.any() else None,
        "standing_canopy_unflagged_area": round(canopy_px * (px_area or 1.0), 1),
        "registration": None if change.registration is None else {
            "method": change.registration.method, "inliers": change.registration.inliers,
            "residual_shift_px": round(change.registration.residual_shift_px, 2)},
        "working_gsd_m": round(grid.gsd_m, 4) if grid.gsd_m else None,
        "det_method": det_method,
        "notes": change.notes,
    }
    write_json(out / "summary.json", summary)

    facts = [("Event", event), ("Observation date", obs_date), ("Method", det_method),
             ("Post image", Path(post).name), ("Pre image", Path(pre).name if pre else "none"),
             ("Buildings assessed", f"{len(graded)} of {len(footprints)}" if footprints else "no footprints given"),
             ("Affected area", f"{summary['affected_area']:,.0f} {unit}"),
             ("Event extent", f"{summary['event_extent_area']:,.0f} {unit}"),
             ("Co-registration", summary["registration"]["method"] if summary["registration"] else "n/a"),
             ("Working pixel", f"{grid.gsd_m * 100:.0f} cm" if grid.gsd_m else f"{grid.scale:.2f} input px")]
    render_report(out / "report.html", title=f"Damage assessment — {event} — {obs_date}", post=pair.post,
                  pre=change.pre_registered,
                  classes=change.classes, buildings=[(b.footprint.geometry_grid, b.damage_gra) for b in graded],
                  places=_places(graded, areas, opts.max_places), summary=summary, facts=facts, notes=change.notes)

    files = []
    for name, role in (("damage.geojson", "damage_geojson"), ("damage.tif", "damage_raster"),
                       ("change_mask.png", "change_mask"), ("event_extent.geojson", "other"),
                       ("summary.json", "summary"), ("report.html", "report")):
        p = out / name
        if p.exists() and (name != "change_mask.png" or not grid.georeferenced):
            files.append(PackageFile(path=name, role=role, media_type=_MEDIA[p.suffix], size_bytes=p.stat().st_size,
                                     sha256=sha256_file(p)))
    meta = DamagePackageMeta(
        event=EventInfo(type=event if event in EVENT_TYPES else "other"),
        bbox=_bbox_wgs84(pair),
        crs_epsg=grid.crs.to_epsg() if grid.crs is not None else None,
        acquisition_start=pair.post_time, acquisition_end=pair.post_time,
        platform=opts.platform, gsd_cm=round(grid.native_gsd_m * 100, 3) if grid.native_gsd_m else None,
        producer=opts.producer, licence=opts.licence, detector=det_method,
        summary={k: summary[k] for k in ("counts_per_grade", "buildings_assessed", "affected_area",
                                         "event_extent_area", "units")},
        files=files,
        pixel_grid=not grid.georeferenced, obs_date=obs_date, source_id=source_id,
        pre_acquisition=pair.pre_time.isoformat() if pair.pre_time else None,
    )
    write_json(out / "package.json", meta.model_dump(mode="json"))
    return DamageResult(out, meta, summary, change, pair, graded, areas, extents)

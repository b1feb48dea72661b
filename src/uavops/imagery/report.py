"""The quality report (quality.json) and photo footprints (footprints.geojson, WGS84)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..files import atomic_write
from ..geo import LocalProjection
from .adjust import AdjustmentResult
from .features import PairMatch

__all__ = ["ReportContext", "quality_report", "write_footprints"]


@dataclass
class ReportContext:
    photos_dir: Path
    proj: LocalProjection
    origin: np.ndarray
    used: list[Any]
    skipped: list[Any]
    corners: list[np.ndarray]
    adjustment: AdjustmentResult
    gsd_native_m: np.ndarray
    out_gsd_m: float
    width_px: int
    height_px: int
    union: Any
    matches: list[PairMatch]
    gains: np.ndarray
    render_reduce: int
    n_pairs_tried: int
    #: how the pairs were matched (uavops.imagery.chain): pose-free search vs guided by chained neighbours
    pair_methods: dict[str, int] = field(default_factory=dict)


def _rms(a: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(np.square(a)))) if len(a) else None


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None else round(float(v), nd)


def quality_report(ctx: ReportContext) -> dict[str, Any]:
    """Everything an operator or a later stage needs to judge the mosaic."""
    res = ctx.adjustment
    gps_err = np.linalg.norm(res.gps_residual_m, axis=1)
    ties_per_photo = np.zeros(len(ctx.used), int)
    for m in ctx.matches:
        ties_per_photo[m.i] += len(m.pts_i)
        ties_per_photo[m.j] += len(m.pts_j)
    photos = []
    for k, ph in enumerate(ctx.used):
        sel = (res.tie_pairs[:, 0] == k) | (res.tie_pairs[:, 1] == k) if len(res.tie_pairs) else np.zeros(0, bool)
        entry: dict[str, Any] = {
            "name": ph.meta.name, "status": "used", "lat_deg": ph.meta.lat_deg, "lon_deg": ph.meta.lon_deg,
            "rel_alt_m": ph.meta.rel_alt_m, "heading_deg": round(ph.yaw_deg, 1), "heading_source": ph.yaw_source,
            "camera": ph.intr.camera_name if ph.intr else None, "gsd_cm": _r(ctx.gsd_native_m[k] * 100, 2),
            "tie_points": int(ties_per_photo[k]),
            "tie_rmse_px": _r(_rms(res.tie_residual_px[sel]) if len(sel) else None, 2),
            "gps_residual_m": _r(float(gps_err[k]), 2),
            "gps_residual_en_m": [round(float(v), 2) for v in res.gps_residual_m[k]],
            "exposure_gain_bgr": [round(float(v), 3) for v in ctx.gains[k]],
        }
        entry.update(ph.extra)
        photos.append(entry)
    for ph in ctx.skipped:
        photos.append({"name": ph.meta.name, "status": "skipped", "reason": f"it {ph.skip_reason}",
                       "lat_deg": ph.meta.lat_deg, "lon_deg": ph.meta.lon_deg})
    gsd_cm = float(np.median(ctx.gsd_native_m)) * 100
    area_m2 = float(ctx.union.area)
    tie_px = res.tie_residual_px
    return {
        "uavops_version": __version__,
        "photos_dir": str(ctx.photos_dir),
        "photos_total": len(ctx.used) + len(ctx.skipped),
        "photos_used": len(ctx.used),
        "photos_skipped": len(ctx.skipped),
        "crs": f"EPSG:{ctx.proj.epsg}",
        "mosaic": {"width_px": ctx.width_px, "height_px": ctx.height_px, "gsd_cm": round(ctx.out_gsd_m * 100, 3),
                   "photo_resolution_used": f"1/{ctx.render_reduce}" if ctx.render_reduce > 1 else "full"},
        "gsd_native_cm": round(gsd_cm, 3),
        "area_m2": round(area_m2, 1),
        "area_ha": round(area_m2 / 1e4, 3),
        "pairs_tried": ctx.n_pairs_tried,
        "pairs_matched": len(ctx.matches),
        # before the GPS gate and the main-block choice; many pose-free searches mean wrong headings or thin overlap
        "pair_matching": dict(ctx.pair_methods),
        "tie_points": int(len(tie_px)),
        "tie_rmse_px": _r(_rms(tie_px), 3),
        "tie_rmse_cm": _r(_rms(res.tie_residual_m * 100), 2),
        "tie_p95_px": _r(float(np.percentile(tie_px, 95)) if len(tie_px) else None, 2),
        "gps_residual_rmse_m": _r(_rms(gps_err), 2),
        "gps_residual_max_m": _r(float(gps_err.max()) if len(gps_err) else None, 2),
        "adjustment_iterations": res.iterations,
        "photos": photos,
        "notes": ("Tie residuals are distances between the two projections of a tie point on the ground plane, "
                  "in native photo pixels and cm; GPS residuals are adjusted nadir points minus the photo's "
                  "GPS position. Heights above ground in a 2-D mosaic make trees and roofs lean, so their "
                  "ties are the largest residuals."),
    }


def write_footprints(path: Path, ctx: ReportContext) -> None:
    """Adjusted ground footprint of every used photo (and the GPS footprint-less entry of skipped ones)."""
    features = []
    for k, ph in enumerate(ctx.used):
        c = ctx.corners[k] + ctx.origin
        lon, lat = ctx.proj.to_lonlat(c[:, 0], c[:, 1])
        ring = [[round(float(x), 8), round(float(y), 8)] for x, y in zip(lon, lat)]
        ring.append(ring[0])
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"name": ph.meta.name, "status": "used", "index": k,
                                        "gsd_cm": round(float(ctx.gsd_native_m[k] * 100), 3),
                                        "heading_deg": round(ph.yaw_deg, 1),
                                        "time_utc": ph.meta.time_utc.isoformat() if ph.meta.time_utc else None}})
    for ph in ctx.skipped:
        if ph.meta.lat_deg is None or ph.meta.lon_deg is None:
            continue
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [ph.meta.lon_deg, ph.meta.lat_deg]},
                         "properties": {"name": ph.meta.name, "status": "skipped", "reason": f"it {ph.skip_reason}"}})
    doc = {"type": "FeatureCollection", "features": features}
    with atomic_write(path) as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")



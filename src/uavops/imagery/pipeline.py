"""``build_mosaic``: photos folder → georeferenced COG, footprints and quality report.

Stages (each with a progress bar): read metadata → load + detect features (reduced resolution)
→ match overlapping pairs (a spanning tree pose-free, the others guided through it: chain.py)
→ check headings → global adjustment → exposure gains → render tiles in parallel and write the COG. Photos that cannot be used are skipped with a reason (quality report), never
fatal, unless fewer than two usable photos remain.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, MosaicError
from ..files import output_folder
from ..geo import LocalProjection
from ..progress import progress_bar
from .adjust import adjust
from .captures import CapturePose, read_captures
from .chain import match_pairs_chained
from .exposure import compute_gains
from .features import Features, PairMatch, detect_features, match_pair, working_reduce
from .geometry import (
    Intrinsics,
    apply_h,
    footprint_corners,
    grid_convergence_deg,
    pose_homography,
    resolve_intrinsics,
)
from .orient import estimate_yaws, wrap_deg
from .photos import PhotoMeta, PhotoReadError, list_photos, read_image, read_photo_meta

__all__ = ["MosaicOptions", "MosaicResult", "build_mosaic", "MOSAIC_NAME", "FOOTPRINTS_NAME", "QUALITY_NAME"]

log = logging.getLogger(__name__)

MOSAIC_NAME = "mosaic.tif"
FOOTPRINTS_NAME = "footprints.geojson"
QUALITY_NAME = "quality.json"
THUMB_LONG_PX = 320
# pairs whose (heading-free) footprint circles share less than this fraction are not matched
MIN_PAIR_OVERLAP = 0.25
# photos decoded ahead, per worker thread, while the run sets up (native resolution only)
PREFETCH_PER_THREAD = 2


@dataclass(frozen=True)
class MosaicOptions:
    """How to build the mosaic.

    gsd_cm : output pixel size (cm); None = native (median of the photos' ground sample distance).
    camera : camera preset name overriding EXIF make/model (``uavops cameras`` lists them).
    captures : capture log of ``uavops fly``; its poses fill in photos without GPS.
    alt_agl_m : height above ground when neither XMP nor the capture log gives it.
    gps_sigma_m : assumed standard deviation of single GPS fixes (weights the GPS anchoring).
    memory_mb : budget for decoded photos kept between tiles.
    threads : worker threads for decoding, features and matching.
    blend_m : width of the soft transition across seams (0: hard seams, for comparison only).
    exposure_compensation : equalise brightness between photos (off only for comparison).
    """

    gsd_cm: float | None = None
    camera: str | None = None
    captures: Path | None = None
    alt_agl_m: float | None = None
    gps_sigma_m: float = 3.0
    memory_mb: int = 2500
    threads: int = 2
    blend_m: float = 1.5
    progress: bool | None = None
    jpeg_quality: int = 90
    exposure_compensation: bool = True


@dataclass
class MosaicResult:
    """Paths written and the quality report (the same dict as quality.json)."""

    mosaic_path: Path
    footprints_path: Path
    quality_path: Path
    quality: dict[str, object]


@dataclass
class _Photo:
    meta: PhotoMeta
    intr: Intrinsics | None = None
    xy: np.ndarray | None = None
    yaw_deg: float = 0.0
    yaw_source: str = "xmp"
    h0: np.ndarray | None = None
    feats: Features | None = None
    thumb: np.ndarray | None = None
    thumb_scale: float = 1.0
    skip_reason: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def _apply_captures(metas: list[PhotoMeta], rows: list[CapturePose]) -> list[PhotoMeta]:
    """Take poses from the capture log for photos without GPS; fill only the missing fields of others.

    Rows are matched by file name, else by index in name order (0- or 1-based, as the log counts).
    """
    by_name = {r.name.lower(): r for r in rows if r.name}
    indices = [r.index for r in rows if r.index is not None and not r.name]
    base = 0 if indices and min(indices) == 0 else 1
    by_index = {r.index - base: r for r in rows if r.index is not None and not r.name}
    if not by_name and not by_index:
        by_index = {k: r for k, r in enumerate(rows)}
    out = []
    for k, m in enumerate(metas):
        r = by_name.get(m.name.lower()) or by_index.get(k)
        if r is None:
            out.append(m)
            continue
        pitch, roll = r.pitch_deg, r.roll_deg
        if pitch is None:
            pitch, roll = -90.0, 0.0
        elif pitch > -45.0:  # body attitude of a body-fixed nadir camera (uavops' convention)
            pitch = pitch - 90.0
        if m.has_position:
            out.append(m.with_pose(rel_alt_m=m.rel_alt_m if m.rel_alt_m is not None else r.rel_alt_m,
                                   yaw_deg=m.yaw_deg if m.yaw_deg is not None else r.yaw_deg,
                                   pitch_deg=m.pitch_deg if m.pitch_deg is not None else pitch,
                                   roll_deg=m.roll_deg if m.roll_deg is not None else (roll or 0.0)))
            continue
        out.append(m.with_pose(lat_deg=r.lat_deg, lon_deg=r.lon_deg,
                               rel_alt_m=r.rel_alt_m if r.rel_alt_m is not None else m.rel_alt_m,
                               alt_amsl_m=r.alt_amsl_m if r.alt_amsl_m is not None else m.alt_amsl_m,
                               yaw_deg=r.yaw_deg if r.yaw_deg is not None else m.yaw_deg,
                               pitch_deg=pitch, roll_deg=roll if roll is not None else 0.0))
    return out


def _components(n: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(k)
    return sorted(groups.values(), key=len, reverse=True)


def _summary(skipped: list[_Photo]) -> str:
    if not skipped:
        return ""
    parts = [f"{p.meta.name} {p.skip_reason}" for p in skipped[:3]]
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    return " (" + "; ".join(parts) + more + ")"


def build_mosaic(photos_dir: Path, out_dir: Path, options: MosaicOptions | None = None,
                 on_warning: Callable[[str], None] | None = None) -> MosaicResult:
    """Build ``out_dir/mosaic.tif`` (COG), ``footprints.geojson`` and ``quality.json``.

    Raises
    ------
    InputError
        The folder does not exist, holds no photos, or the output folder cannot be written.
    MosaicError
        Fewer than two usable photos, photos of two separate places, or the photos cannot be tied.
    """
    opts = options or MosaicOptions()
    warn = on_warning or (lambda msg: log.warning(msg))
    photos_dir = Path(photos_dir)
    if not photos_dir.exists():
        raise InputError(f"The photo folder {photos_dir} does not exist; check the path.")
    if not photos_dir.is_dir():
        raise InputError(f"{photos_dir} is a file, not a folder; give the folder that holds the photos.")
    paths = list_photos(photos_dir)
    if not paths:
        raise InputError(f"The folder {photos_dir} holds no JPEG or TIFF photos; give the folder with the survey photos.")
    if opts.gsd_cm is not None and not (opts.gsd_cm > 0 and math.isfinite(opts.gsd_cm)):
        raise InputError(f"--gsd must be a positive number of cm per pixel, not {opts.gsd_cm}.")
    if opts.camera:
        from ..plan.camera import get_camera

        get_camera(opts.camera)  # unknown names fail now, with suggestions
    # at native resolution every photo is decoded whole: start on the first ones now, so a spare core
    # decodes while this thread imports, reads metadata and sets up the site frame
    # (only when the photos will be kept decoded: JPEGs are 5-10x smaller than their pixels; a survey too
    # big for the memory budget is decoded at reduced size for matching, so a whole decode now is waste)
    fits = 10 * sum(p.stat().st_size for p in paths) <= opts.memory_mb * 1024 * 1024
    first = paths[:PREFETCH_PER_THREAD * max(1, opts.threads)] if opts.gsd_cm is None and fits else []
    with output_folder(out_dir) as out, _Prefetch(first) as prefetch:
        return _build(photos_dir, paths, out, opts, warn, prefetch)


class _Prefetch:
    """Full-resolution decoding of a few photos on one spare thread; ``take`` hands one over."""

    def __init__(self, paths: list[Path]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1) if paths else None
        self._futures = {p: self._pool.submit(read_image, p, 1) for p in paths} if self._pool else {}

    def take(self, path: Path) -> np.ndarray | None:
        """The decoded photo, or None if it was not prefetched. Raises PhotoReadError as read_image does."""
        fut = self._futures.pop(path, None)
        return fut.result() if fut is not None else None

    def close(self) -> None:
        for fut in self._futures.values():
            fut.cancel()
        self._futures.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> _Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _build(photos_dir: Path, paths: list[Path], out_dir: Path, opts: MosaicOptions,
           warn: Callable[[str], None], prefetch: _Prefetch) -> MosaicResult:
    import time

    from . import report
    from .cog import WINDOW_PX, GeoRef, iter_windows, write_cog
    from .render import PhotoCache, RenderPhoto, TileRenderer

    timings: dict[str, float] = {}
    t_stage = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - t_stage[0], 3)
        t_stage[0] = now

    with progress_bar(opts.progress) as bar:
        # 1. metadata ---------------------------------------------------------------------------
        task = bar.add_task("Reading photos", total=len(paths))
        photos: list[_Photo] = []
        for p in paths:
            try:
                photos.append(_Photo(meta=read_photo_meta(p)))
            except PhotoReadError as exc:
                photos.append(_Photo(meta=PhotoMeta(path=p, width_px=0, height_px=0), skip_reason=str(exc)))
            bar.advance(task)
        if opts.captures is not None:
            rows = read_captures(Path(opts.captures))
            ok_idx = [k for k, ph in enumerate(photos) if ph.skip_reason is None]
            metas = _apply_captures([photos[k].meta for k in ok_idx], rows)
            for k, m in zip(ok_idx, metas):
                photos[k].meta = m
        for ph in photos:
            if ph.skip_reason is None and not ph.meta.has_position:
                ph.skip_reason = ("has no GPS position (no EXIF GPS" +
                                  (" and no row in the capture log)" if opts.captures else "; give --captures)"))
            if ph.skip_reason is None:
                alt = opts.alt_agl_m if opts.alt_agl_m is not None else ph.meta.rel_alt_m
                if alt is None:
                    ph.skip_reason = "has no height above ground (no DJI RelativeAltitude; give --alt-agl)"
                elif not alt > 1.0:
                    ph.skip_reason = f"was taken {alt:.1f} m above the take-off point, too low to map"
                elif ph.meta.pitch_deg is not None and ph.meta.pitch_deg > -45.0:
                    ph.skip_reason = f"looks {ph.meta.pitch_deg:.0f}° from horizontal, not down at the ground"
        usable = [ph for ph in photos if ph.skip_reason is None]
        skipped = [ph for ph in photos if ph.skip_reason is not None]
        if len(usable) < 2:
            raise MosaicError(f"Only {len(usable)} of {len(photos)} photos in {photos_dir} can be used{_summary(skipped)}; "
                              "a mosaic needs at least two overlapping photos with GPS positions.")

        # 2. site frame and initial footprints ------------------------------------------------------
        lon0 = float(np.median([ph.meta.lon_deg for ph in usable]))
        lat0 = float(np.median([ph.meta.lat_deg for ph in usable]))
        proj = LocalProjection.for_point(lon0, lat0)
        ex, ny = proj.to_xy(np.array([ph.meta.lon_deg for ph in usable]), np.array([ph.meta.lat_deg for ph in usable]))
        origin = np.array([round(float(np.median(ex))), round(float(np.median(ny)))])
        conv_deg = grid_convergence_deg(proj.epsg, lon0, lat0)  # headings are true, the grid is UTM
        for k, ph in enumerate(usable):
            ph.xy = np.array([ex[k], ny[k]]) - origin
            ph.intr = resolve_intrinsics(ph.meta, opts.camera)
            if ph.meta.yaw_deg is None:
                ph.yaw_source = "estimated"
            ph.yaw_deg = float(ph.meta.yaw_deg) if ph.meta.yaw_deg is not None else 0.0
        alt_of = [float(opts.alt_agl_m if opts.alt_agl_m is not None else ph.meta.rel_alt_m) for ph in usable]

        def make_h0(k: int) -> np.ndarray:
            ph = usable[k]
            assert ph.intr is not None and ph.xy is not None
            pitch = ph.meta.pitch_deg if ph.meta.pitch_deg is not None else -90.0
            roll = ph.meta.roll_deg if ph.meta.roll_deg is not None else 0.0
            return pose_homography(ph.intr, float(ph.xy[0]), float(ph.xy[1]), alt_of[k], ph.yaw_deg - conv_deg, pitch, roll)

        for k, ph in enumerate(usable):
            ph.h0 = make_h0(k)
        gsd_native = np.array([alt_of[k] / usable[k].intr.focal_px for k in range(len(usable))])  # type: ignore[union-attr]
        foot_m = np.array([max(ph.meta.width_px, ph.meta.height_px) * gsd_native[k] for k, ph in enumerate(usable)])

        # separate places: cameras farther apart than a few footprints belong to different surveys
        from .neighbours import pairs_within_self

        pos = np.array([ph.xy for ph in usable])
        link_m = max(3.0 * float(np.median(foot_m)), 100.0)
        comps = _components(len(usable), pairs_within_self(pos, link_m))
        if len(comps) > 1:
            big = [c for c in comps if len(c) >= 2]
            if len(big) > 1:
                ca, cb = pos[big[0]].mean(axis=0), pos[big[1]].mean(axis=0)
                dist_km = float(np.linalg.norm(ca - cb)) / 1000.0
                raise MosaicError(f"The photos in {photos_dir} come from {len(big)} separate places "
                                  f"({dist_km:.1f} km apart); put each survey's photos in its own folder.")
            keep = set(comps[0])
            for k, ph in enumerate(usable):
                if k not in keep:
                    d = float(np.min(np.linalg.norm(pos[list(keep)] - pos[k], axis=1)))
                    ph.skip_reason = f"was taken {d:.0f} m from the other photos and overlaps none of them"
            skipped += [ph for k, ph in enumerate(usable) if k not in keep]
            usable = [ph for k, ph in enumerate(usable) if k in keep]
            alt_of = [alt_of[k] for k in sorted(keep)]
            gsd_native = gsd_native[sorted(keep)]
            if len(usable) < 2:
                raise MosaicError(f"Only one photo in {photos_dir} can be used{_summary(skipped)}; a mosaic needs at least two.")

        out_gsd_m = opts.gsd_cm / 100.0 if opts.gsd_cm is not None else float(np.median(gsd_native))
        render_reduce = 1
        for f in (8, 4, 2):
            if float(np.median(gsd_native)) * f <= out_gsd_m * 1.01:
                render_reduce = f
                break

        # 3. load + features --------------------------------------------------------------------------
        n = len(usable)
        full_bytes = sum(ph.meta.width_px * ph.meta.height_px * 3 for ph in usable) // (render_reduce ** 2)
        keep_decoded = full_bytes <= opts.memory_mb * 1024 * 1024
        budget = opts.memory_mb * 1024 * 1024
        cache = PhotoCache(lambda idx: read_image(usable[idx].meta.path, render_reduce), budget)

        def load(k: int) -> tuple[int, str | None]:
            ph = usable[k]
            red = working_reduce(ph.meta.width_px, ph.meta.height_px)
            try:
                if keep_decoded and render_reduce <= red:
                    big_img = prefetch.take(ph.meta.path) if render_reduce == 1 else None
                    if big_img is None:
                        big_img = read_image(ph.meta.path, render_reduce)
                    f = red // render_reduce
                    # crop to a multiple of f: an exact integer INTER_AREA takes OpenCV's fast path (3x
                    # faster) and keeps the scale exactly f on both axes, as the features assume
                    hh, ww = big_img.shape[0] // f, big_img.shape[1] // f
                    work = cv2.resize(big_img[:hh * f, :ww * f], (ww, hh), interpolation=cv2.INTER_AREA) if f > 1 else big_img
                    cache.put(k, big_img)
                else:
                    work = read_image(ph.meta.path, red)
            except PhotoReadError as exc:
                return k, str(exc)
            if abs(work.shape[1] * red - ph.meta.width_px) > red or abs(work.shape[0] * red - ph.meta.height_px) > red:
                return k, (f"has {work.shape[1] * red}×{work.shape[0] * red} pixels but its header says "
                           f"{ph.meta.width_px}×{ph.meta.height_px}")
            scale_full = ph.meta.width_px / work.shape[1]
            ph.feats = detect_features(work, scale_full)
            t = THUMB_LONG_PX / max(work.shape[:2])
            thumb = cv2.resize(work, (max(1, round(work.shape[1] * t)), max(1, round(work.shape[0] * t))),
                               interpolation=cv2.INTER_AREA)
            ph.thumb = cv2.GaussianBlur(thumb, (5, 5), 0)
            ph.thumb_scale = ph.meta.width_px / thumb.shape[1]
            return k, None

        task = bar.add_task("Loading photos", total=n)
        bad: dict[int, str] = {}
        with ThreadPoolExecutor(max_workers=max(1, opts.threads)) as pool:
            loaded = pool.map(load, range(n))  # submits every photo now
            # the main thread would only wait here: import what the next steps need meanwhile
            # (0.1 s of start-up that now overlaps the decoding, which releases the GIL)
            import shapely.geometry
            import shapely.ops
            import shapely.strtree  # noqa: F401

            for k, err in loaded:
                if err:
                    bad[k] = err
                bar.advance(task)

        prefetch.close()  # photos skipped before loading are not kept decoded
        lap("load_features")
        for k, reason in bad.items():
            usable[k].skip_reason = reason
        if n - len(bad) < 2:  # nothing to tie together: say which photos could not be read, not "no overlap"
            unusable = [usable[k] for k in sorted(bad)] + skipped
            raise MosaicError(f"Only {n - len(bad)} of {len(photos)} photos in {photos_dir} can be used"
                              f"{_summary(unusable)}; a mosaic needs at least two readable photos with GPS positions.")

        # 4. candidate pairs from initial footprints, then matching --------------------------------------
        from shapely.geometry import Polygon
        from shapely.strtree import STRtree

        polys = [Polygon(footprint_corners(ph.h0, ph.meta.width_px, ph.meta.height_px)) for ph in usable]  # type: ignore[arg-type]
        gate_m = 3.0 * opts.gps_sigma_m + 10.0
        # headings may be wrong (see orient.py): pair photos by footprint circles, not rotated rectangles
        circles = [polys[k].centroid.buffer(0.5 * min(ph.meta.width_px, ph.meta.height_px) * gsd_native[k] + 0.5 * gate_m)
                   for k, ph in enumerate(usable)]
        tree = STRtree(circles)
        pairs = []
        for a in range(n):
            if a in bad:
                continue
            for b in tree.query(circles[a]):
                b = int(b)
                if b > a and b not in bad and circles[a].intersection(circles[b]).area > MIN_PAIR_OVERLAP * circles[a].area:
                    pairs.append((a, b))
        # large surveys keep fewer ties per pair so the adjustment's sparse system stays small
        max_ties = 200 if n <= 150 else 80
        ransac_px = [max(2.0 * (usable[k].feats.scale if usable[k].feats else 1.0), 0.2 / gsd_native[k]) for k in range(n)]

        def do_match(ab: tuple[int, int], hint: np.ndarray | None = None) -> PairMatch | None:
            a, b = ab
            fa, fb = usable[a].feats, usable[b].feats
            assert fa is not None and fb is not None
            return match_pair(a, b, fa, fb, usable[a].h0, usable[b].h0,  # type: ignore[arg-type]
                              (usable[a].meta.width_px, usable[a].meta.height_px), gate_m,
                              max(ransac_px[a], ransac_px[b]), max_ties=max_ties, hint=hint)

        task = bar.add_task("Matching photos", total=len(pairs))
        centres = np.array([[c.centroid.x, c.centroid.y] for c in circles])
        pair_methods: dict[str, int] = {}
        matches = match_pairs_chained(pairs, centres, do_match, threads=opts.threads,
                                      on_pair=lambda: bar.advance(task), stats=pair_methods)

        lap("match")

        # 5. headings ------------------------------------------------------------------------------------
        est = estimate_yaws(matches, [(ph.meta.width_px, ph.meta.height_px) for ph in usable],
                            np.array([ph.xy for ph in usable]))
        for k, ph in enumerate(usable):
            if est[k] is None:
                continue
            est_true = float(wrap_deg(est[k] + conv_deg))
            if ph.yaw_source == "estimated" or abs(float(wrap_deg(est_true - ph.yaw_deg))) > 30.0:
                ph.extra["heading_recorded_deg"] = ph.meta.yaw_deg
                ph.extra["heading_from_photos_deg"] = round(est_true, 1)
                ph.yaw_deg = est_true
                ph.yaw_source = "photos"
                ph.h0 = make_h0(k)

        # a pair whose matches put the two photos much farther apart than GPS allows matched a
        # repeated pattern (or the sky in a puddle): drop it before it can bend the block
        pair_gate_m = 3.0 * opts.gps_sigma_m + 3.0
        kept_matches = []
        for m in matches:
            off = apply_h(usable[m.i].h0, m.pts_i) - apply_h(usable[m.j].h0, m.pts_j)  # type: ignore[arg-type]
            if float(np.linalg.norm(np.median(off, axis=0))) <= pair_gate_m:
                kept_matches.append(m)
        matches = kept_matches

        # 6. keep the largest tied group --------------------------------------------------------------
        comps = _components(n, [(m.i, m.j) for m in matches])
        groups = [c for c in comps if not (len(c) == 1 and c[0] in bad)]
        main = groups[0] if groups else []
        main_set = set(main)
        for k, ph in enumerate(usable):
            if k not in main_set and ph.skip_reason is None:
                ph.skip_reason = ("shares no tie points with the other photos (too little overlap or texture)"
                                  if not any(k in (m.i, m.j) for m in matches) else
                                  "is tied only to a group of photos separate from the main block")
        if len(main) < 2:
            skipped_all = skipped + [ph for ph in usable if ph.skip_reason is not None]
            raise MosaicError(f"The photos in {photos_dir} could not be tied together{_summary(skipped_all)}; "
                              "they need about 60 % overlap and ground texture.")
        remap = {old: new for new, old in enumerate(main)}
        skipped += [ph for k, ph in enumerate(usable) if k not in main_set]
        matches = [PairMatch(i=remap[m.i], j=remap[m.j], pts_i=m.pts_i, pts_j=m.pts_j, n_matches=m.n_matches,
                             ransac_rmse_px=m.ransac_rmse_px, h_ij=m.h_ij)
                   for m in matches if m.i in main_set and m.j in main_set]
        used = [usable[k] for k in main]
        gsd_used = gsd_native[main]
        kept_cache = PhotoCache(lambda idx: read_image(used[idx].meta.path, render_reduce), budget)
        kept_cache.take_over(cache, remap)
        cache = kept_cache

        # 7. adjustment -----------------------------------------------------------------------------------
        task = bar.add_task("Adjusting", total=1)
        gps_xy = np.array([ph.xy for ph in used])
        res = adjust([ph.h0 for ph in used], [(ph.meta.width_px, ph.meta.height_px) for ph in used], gps_xy,  # type: ignore[misc]
                     gsd_used, matches, gps_sigma_m=opts.gps_sigma_m)
        bar.advance(task)
        lap("adjust")
        if opts.exposure_compensation:
            gains = compute_gains(len(used), matches, [ph.thumb for ph in used], [ph.thumb_scale for ph in used])  # type: ignore[misc]
        else:
            gains = np.ones((len(used), 3))

        # 8. output grid ------------------------------------------------------------------------------------
        from shapely.ops import unary_union

        corners = [footprint_corners(res.h[k], ph.meta.width_px, ph.meta.height_px) for k, ph in enumerate(used)]
        feet = [Polygon(c) for c in corners]
        union = unary_union(feet)
        xmin, ymin, xmax, ymax = union.bounds
        g = out_gsd_m
        x0 = math.floor((xmin + origin[0]) / g) * g - origin[0]
        y1 = math.ceil((ymax + origin[1]) / g) * g - origin[1]
        width = int(math.ceil((xmax - x0) / g))
        height = int(math.ceil((y1 - ymin) / g))
        if width * height > 4e9:
            raise MosaicError(f"At {g * 100:.1f} cm/px the mosaic would be {width}×{height} pixels; choose a larger --gsd.")
        rings = []
        for geom in getattr(union, "geoms", [union]):
            rings.append(np.asarray(geom.exterior.coords))
            rings.extend(np.asarray(r.coords) for r in geom.interiors)
        rphotos = []
        for k, ph in enumerate(used):
            c = corners[k]
            centre = apply_h(res.h[k], np.array([[ph.meta.width_px / 2 - 0.5, ph.meta.height_px / 2 - 0.5]]))[0]
            rphotos.append(RenderPhoto(index=k, h_full=res.h[k], width_px=ph.meta.width_px, height_px=ph.meta.height_px,
                                       centre_xy=centre, bbox=(c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max()),
                                       gain=gains[k]))
        renderer = TileRenderer(rphotos, x0, y1, g, render_reduce, cache, opts.blend_m, rings)

        geo = GeoRef(x0=x0 + float(origin[0]), y0=y1 + float(origin[1]), pixel_x=g, pixel_y=g, epsg=int(proj.epsg))
        windows = list(iter_windows(width, height, WINDOW_PX, strip_rows=4))
        task = bar.add_task("Writing mosaic", total=len(windows) + 1)

        def render_bgr(col0: int, row0: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
            bgr, mask, _ = renderer.render(col0, row0, w, h)
            return bgr, mask

        lap("gains_grid")
        mosaic_path = out_dir / MOSAIC_NAME
        write_cog(mosaic_path, width, height, geo, render_bgr, windows,
                  on_window=lambda: bar.advance(task), jpeg_quality=opts.jpeg_quality, threads=opts.threads,
                  on_stage=lambda name: lap("render_tiles"))
        bar.advance(task)
        lap("cog")

    # 9. footprints + quality -----------------------------------------------------------------------------
    ctx = report.ReportContext(photos_dir=photos_dir, proj=proj, origin=origin, used=used, skipped=skipped,
                               corners=corners, adjustment=res, gsd_native_m=gsd_used, out_gsd_m=g,
                               width_px=width, height_px=height, union=union, matches=matches, gains=gains,
                               render_reduce=render_reduce, n_pairs_tried=len(pairs),
                               pair_methods=pair_methods)
    footprints_path = out_dir / FOOTPRINTS_NAME
    report.write_footprints(footprints_path, ctx)
    quality = report.quality_report(ctx)
    quality["timings_s"] = timings
    quality["photo_decodes_for_render"] = cache.loads
    quality_path = out_dir / QUALITY_NAME
    from ..files import write_json

    write_json(quality_path, quality)
    for ph in skipped:
        warn(f"Skipped {ph.meta.name}: it {ph.skip_reason}.")
    return MosaicResult(mosaic_path=mosaic_path, footprints_path=footprints_path, quality_path=quality_path,
                        quality=quality)

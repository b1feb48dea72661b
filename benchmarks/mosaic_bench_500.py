"""Benchmark: ``uavops mosaic`` on a large synthetic survey (default 500 photos × 20 MP).

The photos are rendered once by the virtual camera (``uavops.scene``) into a cache folder — a
serpentine survey over a synthetic scene, DJI Phantom 4 Pro geometry (5472×3648 px), GPS noise
σ = 2 m — then ``uavops mosaic`` runs in a subprocess whose wall time and peak resident memory
(``RUSAGE_CHILDREN``) are printed. Target (issue 6): peak memory ≤ 6 GB.

    python benchmarks/mosaic_bench_500.py [--photos 500] [--cache /tmp/uavops_bench500] [--gsd CM]

Generating 500 photos takes a while (each is a 20 MP render + JPEG encode); they are kept in the
cache folder and reused by later runs with the same --photos and scene generator version (photos of an
older generator are painted again, as the damage benchmarks do with their scenes).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np


def generate(cache: Path, n_photos: int, seed: int = 11) -> Path:
    from uavops.geo import LocalProjection
    from uavops.plan.camera import get_camera
    from uavops.scene import load_scene, make_scene
    from uavops.scene.camera import CameraPose, gimbal_angles, render_photo, write_photo
    from uavops.scene.generator import GENERATOR_VERSION, is_current_scene

    photos = cache / f"photos_{n_photos}"
    done = photos / "DONE"
    stamp = f"scene generator {GENERATOR_VERSION}, seed {seed}\n"
    if done.exists() and done.read_text() == stamp:
        return photos
    if photos.exists():  # photos of another generator version (or an unfinished run): paint them again
        shutil.rmtree(photos)
    photos.mkdir(parents=True, exist_ok=True)
    cam = get_camera("DJI Phantom 4 Pro")
    agl = 80.0
    across, along = cam.footprint_m(agl)
    spacing, step = across * 0.35, along * 0.25  # 65 % side, 75 % front overlap
    per_line = max(2, int(round(math.sqrt(n_photos * spacing / step))))
    n_lines = math.ceil(n_photos / per_line)
    size_m = max(spacing * n_lines, step * per_line) + 2 * across + 40
    scene_dir = cache / f"scene_{int(size_m)}"
    scene = load_scene(scene_dir) if is_current_scene(scene_dir, seed=seed, gsd_cm=10.0) else make_scene(
        "earthquake", "Bishkek", size_m=min(size_m, 3000.0), gsd_cm=10.0, seed=seed, out_dir=scene_dir)
    proj = LocalProjection(scene.crs_epsg)
    left, bottom, right, top = scene.bounds
    cx, cy = (left + right) / 2, (bottom + top) / 2
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 5, 1, 6, 0, tzinfo=timezone.utc)
    k = 0
    started = time.perf_counter()
    for line in range(n_lines):
        off = (line - (n_lines - 1) / 2) * spacing
        order = range(per_line) if line % 2 == 0 else range(per_line - 1, -1, -1)
        yaw = 0.0 if line % 2 == 0 else 180.0
        for s in order:
            if k >= n_photos:
                break
            path = photos / f"DJI_{k + 1:04d}.JPG"
            if not path.exists():
                x, y = cx + off, cy + (s - (per_line - 1) / 2) * step
                lon, lat = proj.to_lonlat(x, y)
                pose = CameraPose(lat, lon, scene.ground_amsl_m + agl, rng.normal(0, 1.0), rng.normal(0, 1.0),
                                  yaw + rng.normal(0, 2.0))
                img = render_photo(scene, pose, cam, distortion=False, rng=seed * 10000 + k)
                nlon, nlat = proj.to_lonlat(x + rng.normal(0, 2.0), y + rng.normal(0, 2.0))
                noisy = CameraPose(nlat, nlon, pose.alt_amsl_m, pose.roll_deg, pose.pitch_deg, pose.yaw_deg)
                write_photo(path, img, noisy, cam, t0 + timedelta(seconds=2 * k), rel_alt_m=agl,
                            gimbal=gimbal_angles(pose), image_no=k + 1)
            k += 1
            if k % 25 == 0:
                print(f"  generated {k}/{n_photos} photos ({time.perf_counter() - started:.0f} s)", flush=True)
    done.write_text(stamp)
    return photos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=500)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/uavops_bench500"))
    ap.add_argument("--gsd", type=float, default=None, help="output GSD in cm (default native)")
    ap.add_argument("--memory-mb", type=int, default=2500, help="uavops --memory-mb (decoded photo cache)")
    args = ap.parse_args()
    print(f"generating/reusing {args.photos} synthetic 20 MP photos in {args.cache} …", flush=True)
    t = time.perf_counter()
    photos = generate(args.cache, args.photos)
    print(f"photos ready in {time.perf_counter() - t:.0f} s", flush=True)
    out = args.cache / f"mosaic_{args.photos}"
    cmd = [sys.executable, "-m", "uavops.cli.main", "mosaic", str(photos), "--out", str(out), "--json",
           "--no-progress", "--memory-mb", str(args.memory_mb)]
    if args.gsd:
        cmd += ["--gsd", str(args.gsd)]
    helper = ("import resource, subprocess, sys, time, json\n"
              "t0 = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
              "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
              "print(json.dumps({'wall': time.perf_counter() - t0, 'rss_kb': ru.ru_maxrss, 'cpu': ru.ru_utime + ru.ru_stime,"
              " 'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-2000:]}))\n")
    res = json.loads(subprocess.run([sys.executable, "-c", helper, *cmd], capture_output=True, text=True,
                                    check=True).stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        print(f"uavops mosaic failed (exit {res['rc']}):\n{res['err']}")
        return 1
    q = json.loads(res["out"])
    print(f"uavops mosaic: {args.photos} photos, time {res['wall']:.0f} s (cpu {res['cpu']:.0f} s), "
          f"peak memory {res['rss_kb'] / 1024:.0f} MB (target ≤ 6144 MB)")
    print(f"  {q['photos_used']} used, tie RMSE {q['tie_rmse_px']} px, GPS residual RMSE {q['gps_residual_rmse_m']} m, "
          f"mosaic {q['mosaic']['width_px']}×{q['mosaic']['height_px']} px at {q['mosaic']['gsd_cm']} cm, "
          f"{q['area_ha']} ha")
    qual = json.loads((out / "quality.json").read_text())
    print(f"  stage timings: {qual.get('timings_s')}; photo decodes while rendering: {qual.get('photo_decodes_for_render')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

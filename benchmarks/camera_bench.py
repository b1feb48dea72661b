"""Virtual camera and scene generator speed, on one core.

    /work/venv/bin/python benchmarks/camera_bench.py [--scene DIR] [--size-m 300] [--gsd-cm 3] [--repeat 5]

Prints the time to render one 20 MP (DJI Phantom 4 Pro, 5472×3648) photo with distortion and
radiometry, split into the scene window read and the rest, and the generator's throughput.
CPU time is reported next to wall time because the machine may be shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scene", type=Path, default=None, help="Existing scene folder (default: make one)")
    ap.add_argument("--size-m", type=float, default=300.0)
    ap.add_argument("--gsd-cm", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    cv2.setNumThreads(1)

    from uavops.plan.camera import get_camera
    from uavops.scene import load_scene, make_scene
    from uavops.scene import model as scene_model
    from uavops.scene.camera import CameraPose, render_photo

    if args.scene is None:
        out = Path(tempfile.mkdtemp(prefix="camera_bench_"))
        t0, c0 = time.perf_counter(), time.process_time()
        scene = make_scene("earthquake", "almaty", args.size_m, args.gsd_cm, 1, out)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        mpx = 2 * scene.width_px * scene.height_px / 1e6
        print(f"scene {args.size_m:.0f} m at {args.gsd_cm} cm: {scene.width_px}x{scene.height_px} px, pre+post "
              f"{mpx:.0f} Mpx + mask + overviews in {wall:.1f} s wall / {cpu:.1f} s CPU ({mpx / cpu:.1f} Mpx/s CPU)")
    else:
        scene = load_scene(args.scene)
    cam = get_camera("DJI Phantom 4 Pro")
    left, bottom, right, top = scene.bounds
    lon, lat = scene.projection.to_lonlat((left + right) / 2, (bottom + top) / 2)
    alt = min(80.0, 0.8 * cam.alt_for_gsd(scene.gsd_cm) * 1.0 + 20)
    poses = [CameraPose(float(lat), float(lon), scene.ground_amsl_m + alt, r, p, y)
             for r, p, y in ((0, 0, 0), (2, -3, 37), (-4, 5, 200), (1, 1, 91), (0, 8, 300))]

    read_times: list[float] = []
    orig_read = scene_model.Scene.read

    def timed_read(self, *a, **k):  # type: ignore[no-untyped-def]
        t = time.process_time()
        try:
            return orig_read(self, *a, **k)
        finally:
            read_times.append(time.process_time() - t)

    scene_model.Scene.read = timed_read  # type: ignore[method-assign]
    render_photo(scene, poses[0], cam, rng=0)  # warm caches (noise pattern, GDAL blocks)
    read_times.clear()
    walls, cpus = [], []
    for i in range(args.repeat):
        pose = poses[i % len(poses)]
        t0, c0 = time.perf_counter(), time.process_time()
        img = render_photo(scene, pose, cam, rng=i)
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - t0)
    assert img.shape == (3648, 5472, 3) and img.dtype == np.uint8
    print(f"20 MP photo at {alt:.0f} m AGL ({cam.gsd_cm(alt):.2f} cm/px) from a {scene.gsd_cm:.1f} cm scene, "
          f"distortion + radiometry, 1 thread:")
    print(f"  median {statistics.median(cpus):.3f} s CPU ({statistics.median(walls):.3f} s wall), "
          f"of which scene window read {statistics.median(read_times):.3f} s CPU; "
          f"min {min(cpus):.3f} s, max {max(cpus):.3f} s")
    t0 = time.process_time()
    render_photo(scene, poses[0], cam, distortion=False, radiometry=False)
    print(f"  geometry only (no distortion/radiometry): {time.process_time() - t0:.3f} s CPU")


if __name__ == "__main__":
    main()

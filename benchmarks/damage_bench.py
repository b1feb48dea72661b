#!/usr/bin/env python
"""Speed and memory of ``uavops damage`` on a 10 000 x 10 000 px pre/post pair.

    python benchmarks/damage_bench.py [--cache /tmp/uavops-bench] [--size-px 10000]

The pair is a generated scene (300 m at 3 cm/px = 10 000 px square, tiled GeoTIFFs), made once and
cached. The damage run happens in a child process so its peak resident memory (ru_maxrss) is
measured alone. Target: < 60 s on 2 cores, memory bounded (decimated windowed reads, tiled cues,
tiled COG writes).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time, json
sys.path.insert(0, {src!r})
from uavops.damage import DamageOptions, run_damage
t = time.time()
res = run_damage({post!r}, {out!r}, pre={pre!r}, buildings={b!r}, options=DamageOptions(event="auto", progress=False))
print(json.dumps({{"seconds": round(time.time() - t, 2), "working_px": list(res.change.classes.shape),
                   "buildings": res.summary["buildings_assessed"], "counts": res.summary["counts_per_grade"]}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/uavops-bench"))
    ap.add_argument("--size-px", type=int, default=10_000)
    ap.add_argument("--gsd-cm", type=float, default=3.0)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from uavops.scene import is_current_scene, make_scene

    size_m = args.size_px * args.gsd_cm / 100.0
    scene = args.cache / f"scene_{args.size_px}"
    if not is_current_scene(scene, seed=4242, gsd_cm=args.gsd_cm):
        t = time.time()
        make_scene(event="earthquake", location="almaty", size_m=size_m, gsd_cm=args.gsd_cm, seed=4242, out_dir=scene)
        print(f"scene made in {time.time() - t:.0f} s", flush=True)
    import rasterio

    with rasterio.open(scene / "post.tif") as ds:
        print(f"input: {ds.width} x {ds.height} px, {ds.count} bands, {ds.res[0] * 100:.1f} cm/px, "
              f"block {ds.block_shapes[0]}", flush=True)
    code = CHILD.format(src=str(ROOT / "src"), post=str(scene / "post.tif"), pre=str(scene / "pre.tif"),
                        b=str(scene / "buildings.geojson"), out=str(args.cache / "out"))
    t = time.time()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.time() - t
    if proc.returncode != 0:
        print(proc.stderr)
        raise SystemExit(proc.returncode)
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    print(json.dumps({"input_px": [args.size_px, args.size_px], "wall_s_incl_startup": round(wall, 2),
                      "run_damage_s": child["seconds"], "peak_rss_mb": round(peak_mb, 1),
                      "working_px": child["working_px"], "buildings_assessed": child["buildings"],
                      "target_s": 60, "meets_target": child["seconds"] < 60}, indent=2))


if __name__ == "__main__":
    main()

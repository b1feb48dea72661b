"""Full ``uavops demo`` on a training scenario: stage times and peak memory.

Targets (issue 9): whole chain < 5 minutes on 2 cores, peak memory < 4 GB.

    python benchmarks/demo_bench.py [--scenario almaty-mudflow] [--backend builtin|ardupilot] [--out DIR]

The demo runs in a child process so its peak resident memory can be read from
``getrusage(RUSAGE_CHILDREN)`` without this script's own imports counting.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="almaty-mudflow")
    ap.add_argument("--backend", default="builtin", choices=["builtin", "ardupilot"])
    ap.add_argument("--sitl-bin", default=None)
    ap.add_argument("--out", default=None, help="keep outputs here (default: a temporary folder)")
    ap.add_argument("extra", nargs="*", help="more `uavops demo` options, after --")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="uavops-demo-bench-"))
    cmd = [sys.executable, "-m", "uavops.cli.main", "demo", "--scenario", args.scenario, "--backend", args.backend,
           "--out", str(out), "--json", *args.extra]
    if args.sitl_bin:
        cmd += ["--sitl-bin", args.sitl_bin]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        print(f"demo failed with exit code {proc.returncode}")
        return 1
    summary = json.loads(proc.stdout)
    print(f"uavops demo — scenario {args.scenario}, backend {args.backend}, outputs in {out}")
    print(f"{'stage':<10}{'seconds':>10}{'peak RSS MB':>14}")
    for stage in summary["stages"]:
        print(f"{stage['name']:<10}{stage['seconds']:>10.1f}{stage['peak_rss_mb']:>14.0f}")
    print(f"{'total':<10}{wall_s:>10.1f}{peak_mb:>14.0f}")
    print(f"photos {summary['photos']} (planned {summary['photos_expected']}), area {summary['area_ha']} ha, "
          f"GSD {summary['plan_gsd_cm']} cm, damaged {summary['damaged_buildings']}, "
          f"destroyed {summary['destroyed_buildings']}")
    print(f"target: total < 300 s -> {'met' if wall_s < 300 else 'NOT met'}; "
          f"peak < 4096 MB -> {'met' if peak_mb < 4096 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: ``uavops mosaic`` against ``cv2.Stitcher`` (SCANS mode) on the same photos.

Each contender runs in its own subprocess, so its peak memory is that child's maximum resident set
size (``resource.getrusage(RUSAGE_CHILDREN)`` read before/after, Linux reports kilobytes); time is
wall-clock including JPEG decoding. Stitcher gets full-resolution photos (its default compositing
resolution) and gives no georeference; uavops writes the georeferenced COG at native GSD plus
footprints and quality report.

    python benchmarks/mosaic_bench.py [PHOTOS_DIR] [--gsd CM] [--repeat N]

Default photos: ../shared/data/odm_brighton_beach/images (18 DJI Phantom 3 photos).
Targets (issue 6): uavops ≤ 0.7 × Stitcher's time and ≤ its peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "odm_brighton_beach" / "images"

STITCHER_CODE = r"""
import sys, cv2, glob, os
paths = sorted(p for p in glob.glob(os.path.join(sys.argv[1], '*')) if p.lower().endswith(('.jpg', '.jpeg', '.tif', '.tiff')))
imgs = [cv2.imread(p) for p in paths]
st = cv2.Stitcher.create(cv2.Stitcher_SCANS)
status, pano = st.stitch(imgs)
ok = status == cv2.Stitcher_OK
if ok:
    cv2.imwrite(sys.argv[2], pano)
print('STATUS', int(status), pano.shape if ok else None)
"""


def _run_measured(cmd: list[str]) -> tuple[float, float, int, str]:
    """Run ``cmd`` in a fresh helper process so RUSAGE_CHILDREN covers exactly that command."""
    helper = (
        "import resource, subprocess, sys, time, json\n"
        "t0 = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t0\n"
        "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'wall': wall, 'rss_kb': ru.ru_maxrss, 'cpu': ru.ru_utime + ru.ru_stime, 'rc': p.returncode,"
        " 'tail': (p.stdout + p.stderr)[-600:]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", helper, *cmd], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return d["wall"], d["rss_kb"] / 1024.0, d["rc"], d["tail"] + f"\n(cpu {d['cpu']:.1f} s)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photos", nargs="?", type=Path, default=DEFAULT_PHOTOS)
    ap.add_argument("--gsd", type=float, default=None, help="uavops output GSD in cm (default native)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (the best time is reported)")
    ap.add_argument("--skip-stitcher", action="store_true")
    args = ap.parse_args()
    if not args.photos.is_dir():
        print(f"photos folder {args.photos} not found", file=sys.stderr)
        return 2
    n = len([p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff")])
    print(f"photos: {args.photos} ({n} files); cpus: {os.cpu_count()}; load avg: {os.getloadavg()}")
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        uav_cmd = [sys.executable, "-m", "uavops.cli.main", "mosaic", str(args.photos), "--out", str(Path(tmp) / "m"),
                   "--json", "--no-progress"]
        if args.gsd:
            uav_cmd += ["--gsd", str(args.gsd)]
        contenders = [("uavops mosaic", uav_cmd)]
        if not args.skip_stitcher:
            contenders.append(("cv2.Stitcher SCANS", [sys.executable, "-c", STITCHER_CODE, str(args.photos),
                                                      str(Path(tmp) / "pano.jpg")]))
        # rounds interleave the contenders, so a slow spell of this shared machine hits both alike
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in contenders}
        tails: dict[str, str] = {}
        failed: set[str] = set()
        for _ in range(args.repeat):
            for name, cmd in contenders:
                if name in failed:
                    continue
                wall, rss, rc, tail = _run_measured(cmd)
                if rc != 0:
                    print(f"{name}: FAILED (exit {rc})\n{tail}")
                    failed.add(name)
                    continue
                runs[name].append((wall, rss))
                tails[name] = tail
                if name.startswith("uavops"):
                    try:
                        q = json.loads((Path(tmp) / "m" / "quality.json").read_text())
                        tails[name] += (f"\n  {q.get('photos_used')} photos used, tie RMSE {q.get('tie_rmse_px')} px, "
                                        f"mosaic {q['mosaic']['width_px']}×{q['mosaic']['height_px']} px at "
                                        f"{q['mosaic']['gsd_cm']} cm, {q.get('crs')}; stages {q.get('timings_s')}")
                    except (OSError, ValueError, KeyError):
                        pass
        for name, _ in contenders:
            if not runs[name] or name in failed:
                continue
            walls = sorted(w for w, _ in runs[name])
            results[name] = (walls[0], max(r for _, r in runs[name]))
            print(f"{name:22s} time {walls[0]:7.2f} s best, {walls[len(walls) // 2]:6.2f} s median of {len(walls)}"
                  f"   peak memory {results[name][1]:7.0f} MB")
            lines = tails[name].strip().splitlines()
            print("\n".join("  " + ln.strip() for ln in lines[-2:] if ln.strip()))
    if len(results) == 2:
        (tu, mu), (ts, ms) = results["uavops mosaic"], results["cv2.Stitcher SCANS"]
        per_round = sorted(a[0] / b[0] for a, b in zip(runs["uavops mosaic"], runs["cv2.Stitcher SCANS"]))
        print(f"ratios uavops/Stitcher: time {tu / ts:.2f} best/best, {per_round[len(per_round) // 2]:.2f} median "
              f"of rounds (target ≤ 0.70); memory {mu / ms:.2f} (target ≤ 1.00)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Mission upload speed: uavops (upload + verification download) vs MAVProxy's `wp load` (upload only).

Both upload the same 300-item mission to the same simulated vehicle in the same run, one after
the other. uavops's time includes downloading the mission back and comparing every item;
MAVProxy's is its own "Loaded N waypoints in X s" figure (COUNT sent to last item sent) and the
wall time between its "Loaded … from FILE" and "Loaded … in" lines.

Usage::

    /work/venv/bin/python benchmarks/upload_bench.py [--items 300] [--speedup 1] [--backend builtin|ardupilot]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from uavops.link import GroundLink
from uavops.locations import get_location
from uavops.mission import MAV_CMD, HomePosition, Mission, MissionItem


def make_mission(n_items: int) -> Mission:
    home = get_location("almaty")
    items = [MissionItem(MAV_CMD.NAV_TAKEOFF, param7=40.0)]
    for i in range(n_items - 1):
        items.append(MissionItem(MAV_CMD.NAV_WAYPOINT, param5=home.lat_deg + 0.0005 + (i // 20) * 1e-4,
                                 param6=home.lon_deg + (i % 20) * 1e-4, param7=50.0 + i % 7))
    return Mission(home=HomePosition(home.lat_deg, home.lon_deg, home.ground_amsl_m), items=items)


@contextmanager
def vehicle(backend: str, speedup: float, workdir: Path) -> Iterator[str]:
    home = get_location("almaty")
    if backend == "builtin":
        from uavops.sim import SimConfig, start_sim
        from uavops.sim.profiles import find_profile

        cfg = SimConfig(home=home, speedup=speedup, seed=1, tcp_port=0, udp_out=None,
                        params_file=find_profile(), eeprom_dir=workdir / "eeprom", ekf_settle_s=2.0)
        with start_sim(cfg) as sim:
            yield sim.tcp_url
    else:
        from uavops.sim.sitl import SitlConfig, SitlProcess

        binary = os.environ.get("UAVOPS_SITL_BIN")
        if not binary:
            raise SystemExit("--backend ardupilot needs UAVOPS_SITL_BIN")
        with SitlProcess(SitlConfig(binary=Path(binary), home=home, speedup=speedup, workdir=workdir / "sitl")) as p:
            yield p.tcp_url


def bench_uavops(url: str, mission: Mission, hb_hz: float, rounds: int) -> list[tuple[float, float, float]]:
    out = []
    with GroundLink(url, gcs_heartbeat_hz=hb_hz) as link:
        time.sleep(1.0)  # let the stream requests settle, as MAVProxy gets to as well
        for _ in range(rounds):
            t0 = time.perf_counter()
            res = link.mission.upload_verified(mission.wire_items())
            out.append((time.perf_counter() - t0, res.upload_s, res.verify_s))
            assert res.ok
            time.sleep(0.3)
    return out


def bench_mavproxy(url: str, mission: Mission, workdir: Path, rounds: int, timeout_s: float = 300.0,
                   verbose: bool = False) -> list[float]:
    from uavops.plan.formats import write_waypoints

    wp_file = workdir / "bench.waypoints"
    write_waypoints(mission, wp_file)
    exe = shutil.which("mavproxy.py") or str(Path(sys.executable).parent / "mavproxy.py")
    proc = subprocess.Popen([sys.executable, exe, f"--master={url}", "--source-system=254",
                             f"--state-basedir={workdir}", f"--logfile={workdir / 'mav.tlog'}"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=workdir, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[tuple[float, str]] = []
    done = threading.Event()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter(), line.rstrip()))
            if verbose:
                print("  mavproxy:", line.rstrip(), file=sys.stderr)
            if re.search(r"Loaded \d+ waypoints in", line):
                done.set()

    threading.Thread(target=reader, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while not any("Detected vehicle" in ln or "online system" in ln for _, ln in lines):
            if time.monotonic() > deadline:
                raise SystemExit("MAVProxy did not see the vehicle:\n" + "\n".join(ln for _, ln in lines[-20:]))
            time.sleep(0.1)
        time.sleep(1.0)
        assert proc.stdin is not None
        owns = []
        for _ in range(rounds):
            done.clear()
            proc.stdin.write(f"wp load {wp_file}\n")
            proc.stdin.flush()
            if not done.wait(timeout_s):
                raise SystemExit("MAVProxy did not finish the upload:\n" + "\n".join(ln for _, ln in lines[-20:]))
            time.sleep(0.3)
        for _, ln in lines:
            m = re.search(r"Loaded \d+ waypoints in ([\d.]+)s", ln)
            if m:
                owns.append(float(m.group(1)))
        return owns
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--speedup", type=float, default=1.0)
    ap.add_argument("--backend", choices=["builtin", "ardupilot"], default="builtin")
    ap.add_argument("--rounds", type=int, default=5, help="uploads per tool; medians are compared")
    args = ap.parse_args()
    mission = make_mission(args.items)
    with tempfile.TemporaryDirectory() as tmp, vehicle(args.backend, args.speedup, Path(tmp)) as url:
        print(f"vehicle at {url}; uploading with uavops", file=sys.stderr)
        ours = bench_uavops(url, mission, max(1.0, args.speedup), args.rounds)
        print("uploading with MAVProxy", file=sys.stderr)
        theirs = bench_mavproxy(url, mission, Path(tmp), args.rounds)
    med = statistics.median
    total, up, ver = med(r[0] for r in ours), med(r[1] for r in ours), med(r[2] for r in ours)
    mp = med(theirs)
    print(f"vehicle: {args.backend} simulator, speed-up {args.speedup:g}, {args.items} mission items + home, "
          f"median of {args.rounds} uploads each")
    print(f"uavops   upload+verify: {total:7.3f} s  (upload {up:.3f} s, verification download {ver:.3f} s)")
    print(f"MAVProxy wp load:       {mp:7.3f} s  (its own 'Loaded N waypoints in' figure, upload only)")
    print(f"ratio uavops / MAVProxy: {total / mp:.2f}x (target <= 1.0x, verification included)")
    print("all rounds: uavops " + ", ".join(f"{r[0]:.3f}" for r in ours) + "; MAVProxy "
          + ", ".join(f"{t:.3f}" for t in theirs))


if __name__ == "__main__":
    main()

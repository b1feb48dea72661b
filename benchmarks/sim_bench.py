"""Benchmark: a 3 km survey flight on the built-in simulator at speed-up 20 over real MAVLink/TCP.

Prints the wall time of the whole flight (takeoff, survey with distance-triggered camera, RTL,
landing) with a pymavlink ground station receiving 4 Hz telemetry, and how fast the simulator runs
flat out without sockets. Target: under 60 s of wall time at speed-up 20 on one core.

    /work/venv/bin/python benchmarks/sim_bench.py [--speedup 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MAVLINK20", "1")

from pymavlink import mavutil  # noqa: E402

from uavops.locations import get_location  # noqa: E402
from uavops.mission import MAV_CMD, MAV_FRAME, MissionItem  # noqa: E402
from uavops.sim import SimConfig, start_sim  # noqa: E402
from uavops.sim.geo import offset_deg  # noqa: E402
from uavops.sim.profiles import find_profile  # noqa: E402
from uavops.sim.runner import RunningSim  # noqa: E402

HOME = get_location("almaty")


def survey_items(length_m: float = 470.0, spacing_m: float = 40.0, legs: int = 6, alt_m: float = 60.0):
    items = [MissionItem(16, 0, param5=HOME.lat_deg, param6=HOME.lon_deg, param7=HOME.ground_amsl_m),
             MissionItem(MAV_CMD.NAV_TAKEOFF, MAV_FRAME.GLOBAL_RELATIVE_ALT, param7=alt_m)]
    path = 0.0
    for leg in range(legs):
        e = leg * spacing_m
        ns = (0.0, length_m) if leg % 2 == 0 else (length_m, 0.0)
        for j, n in enumerate(ns):
            lat, lon = offset_deg(HOME.lat_deg, HOME.lon_deg, n, e)
            items.append(MissionItem(16, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=lat, param6=lon, param7=alt_m))
            items.append(MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=20.0 if j == 0 else 0.0))
        path += length_m + (spacing_m if leg < legs - 1 else 0)
    items.append(MissionItem(MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_FRAME.GLOBAL_RELATIVE_ALT))
    return items, path


def fly_over_tcp(speedup: float) -> None:
    items, path = survey_items()
    with tempfile.TemporaryDirectory() as tmp, start_sim(SimConfig(
            home=HOME, speedup=speedup, seed=1, tcp_port=0, udp_out=None, params_file=find_profile(),
            eeprom_dir=Path(tmp), ekf_settle_s=41.0)) as sim:
        t0 = time.monotonic()
        m = mavutil.mavlink_connection(sim.tcp_url, source_system=255)
        hb = m.wait_heartbeat(timeout=10)
        while hb.system_status == 1:  # MAV_STATE_BOOT: mission storage not ready yet
            hb = m.recv_match(type="HEARTBEAT", blocking=True, timeout=10)
        m.mav.request_data_stream_send(1, 1, 0, 4, 1)
        m.mav.mission_count_send(1, 1, len(items), 0)
        while True:
            req = m.recv_match(type=["MISSION_REQUEST", "MISSION_ACK"], blocking=True, timeout=5)
            if req.get_type() == "MISSION_ACK":
                if req.type != 0:
                    raise SystemExit(f"mission upload refused: MISSION_ACK {req.type}")
                break
            f = items[req.seq].to_int_fields()
            m.mav.mission_item_int_send(1, 1, req.seq, f["frame"], f["command"], 0, 1, f["param1"], f["param2"],
                                        f["param3"], f["param4"], f["x"], f["y"], f["z"], 0)
        m.mav.command_long_send(1, 1, 176, 0, 1, 4, 0, 0, 0, 0, 0)
        while True:  # arm as soon as the EKF allows (about 41 s simulated)
            m.mav.command_long_send(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0)
            ack = m.recv_match(type="COMMAND_ACK", blocking=True, timeout=5,
                               condition="COMMAND_ACK.command==400")
            if ack is not None and ack.result == 0:
                break
            sim.wait_sim_time(2)
        t_armed = time.monotonic()
        sim_armed = sim.sim_time_s
        m.mav.command_long_send(1, 1, 300, 0, 0, 0, 0, 0, 0, 0, 0)
        photos = 0
        msgs = 0
        while True:
            msg = m.recv_match(blocking=True, timeout=10)
            if msg is None:
                raise SystemExit("telemetry stopped")
            msgs += 1
            if msg.get_type() == "CAMERA_FEEDBACK":
                photos += 1
            if msg.get_type() == "HEARTBEAT" and not msg.base_mode & 128 and sim.sim_time_s > sim_armed + 20:
                break
        t_end = time.monotonic()
        print(f"survey path {path / 1000:.2f} km, {len(items)} items, speed-up {speedup:g}")
        print(f"flight (arm -> landed, disarmed): {sim.sim_time_s - sim_armed:.0f} s simulated, "
              f"{t_end - t_armed:.1f} s wall")
        print(f"whole run incl. upload and 41 s EKF start-up: {t_end - t0:.1f} s wall; {photos} photos, "
              f"{msgs} MAVLink messages received")
        print(f"CPU time of this process: {time.process_time():.1f} s")


def flat_out() -> None:
    items, _ = survey_items()
    sim = RunningSim(SimConfig(home=HOME, tcp_port=None, udp_out=None, params_file=find_profile(), ekf_settle_s=2))
    gcs = sim.connect_in_process()
    sim.advance(1.5)  # past the boot second
    gcs.send(gcs.mav.mission_count_encode(1, 1, len(items), 0))
    for _ in range(len(items)):
        req = gcs.take("MISSION_REQUEST")[-1]
        f = items[req.seq].to_int_fields()
        gcs.send(gcs.mav.mission_item_int_encode(1, 1, req.seq, f["frame"], f["command"], 0, 1, f["param1"],
                                                 f["param2"], f["param3"], f["param4"], f["x"], f["y"], f["z"], 0))
    sim.advance(3)
    gcs.command(176, 1, 4)
    gcs.command(400, 1)
    gcs.command(300, 0, 0)
    t0 = time.perf_counter()
    start = sim.sim_time_s
    while sim.vehicle.armed:
        sim.advance(10)
        gcs.take()
    wall = time.perf_counter() - t0
    print(f"flat out, no sockets: {sim.sim_time_s - start:.0f} s simulated in {wall:.2f} s wall "
          f"({(sim.sim_time_s - start) / wall:.0f}x real time)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--speedup", type=float, default=20.0)
    args = ap.parse_args()
    flat_out()
    fly_over_tcp(args.speedup)

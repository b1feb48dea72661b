"""Synchronous harness for the built-in simulator: no sockets, no wall clock, fully deterministic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uavops.locations import get_location
from uavops.mission import MAV_CMD, MAV_FRAME, MissionItem
from uavops.sim.config import SimConfig
from uavops.sim.geo import offset_deg
from uavops.sim.profiles import find_profile
from uavops.sim.runner import InProcessGcs, RunningSim

HOME = get_location("almaty")


def make_sim(eeprom_dir: Path | None = None, ekf_settle_s: float = 2.0, **options: Any) -> tuple[RunningSim, InProcessGcs]:
    options.setdefault("params_file", find_profile())
    sim = RunningSim(SimConfig(home=HOME, speedup=1.0, tcp_port=None, udp_out=None, eeprom_dir=eeprom_dir,
                               ekf_settle_s=ekf_settle_s, **options))
    gcs = sim.connect_in_process()
    sim.advance(1.5)  # past the boot second (HEARTBEAT MAV_STATE_BOOT, mission storage not ready)
    return sim, gcs


def at(n: float, e: float, alt: float = 20.0) -> MissionItem:
    lat, lon = offset_deg(HOME.lat_deg, HOME.lon_deg, n, e)
    return MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=lat, param6=lon, param7=alt)


def home_item() -> MissionItem:
    return MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL, param5=HOME.lat_deg, param6=HOME.lon_deg,
                       param7=HOME.ground_amsl_m)


def takeoff(alt: float = 20.0) -> MissionItem:
    return MissionItem(MAV_CMD.NAV_TAKEOFF, MAV_FRAME.GLOBAL_RELATIVE_ALT, param7=alt)


def upload(sim: RunningSim, gcs: InProcessGcs, items: list[MissionItem], mission_type: int = 0) -> int:
    """Upload synchronously; returns the MISSION_ACK type."""
    gcs.take()
    gcs.send(gcs.mav.mission_count_encode(1, 1, len(items), mission_type))
    for _ in range(len(items) + 5):
        msgs = gcs.take()
        acks = [m for m in msgs if m.get_type() == "MISSION_ACK"]
        if acks:
            return acks[-1].type
        reqs = [m for m in msgs if m.get_type() in ("MISSION_REQUEST", "MISSION_REQUEST_INT")]
        if not reqs:
            sim.advance(0.1)
            continue
        f = items[reqs[-1].seq].to_int_fields()
        gcs.send(gcs.mav.mission_item_int_encode(1, 1, reqs[-1].seq, f["frame"], f["command"], 0, 1, f["param1"],
                                                 f["param2"], f["param3"], f["param4"], f["x"], f["y"], f["z"],
                                                 mission_type))
    raise AssertionError("upload did not finish")


def arm_and_takeoff(sim: RunningSim, gcs: InProcessGcs, alt: float = 20.0) -> None:
    assert gcs.command(176, 1, 4) == 0
    sim.advance(max(0.0, sim.vehicle.ekf.settle_s - sim.vehicle.t + 0.5))
    assert gcs.command(400, 1) == 0, sim.statustexts()[-3:]
    assert gcs.command(22, 0, 0, 0, 0, 0, 0, alt) == 0
    sim.advance(alt / 2.5 + 6)
    assert abs(sim.vehicle.alt - alt) < 0.5


def run_until(sim: RunningSim, predicate: Any, max_s: float, step_s: float = 0.5) -> bool:
    end = sim.vehicle.t + max_s
    while sim.vehicle.t < end:
        if predicate(sim.vehicle):
            return True
        sim.advance(step_s)
    return predicate(sim.vehicle)

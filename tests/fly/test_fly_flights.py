"""Flights end to end: `uavops plan` → `uavops fly` on the built-in simulator and (sitl marker) ArduPilot SITL.

Written once against the ``vehicle`` fixture (tests/fixtures/vehicles.py); fault injection
(battery drop, GPS loss, packet loss) needs the built-in simulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from marks import requires_sitl

from uavops.link import GroundLink, TransferPolicy
from uavops.mission import MAV_CMD, MAV_FRAME, MAV_MISSION_TYPE, HomePosition, Mission, MissionItem

# 20x simulators run their GCS failsafe (5 s) on simulated time: beat fast enough.
FAST = ["--gcs-heartbeat-hz", "20", "--stream-rate", "10", "--ready-timeout", "90"]


def make_plan(run_cli, out: Path, home, *, lon_span: float = 0.0007, extra: tuple[str, ...] = ()) -> Path:  # type: ignore[no-untyped-def]
    """A small survey just north of home: 3 transects at 60 m."""
    lat, lon = home.lat_deg, home.lon_deg
    bbox = f"{lon - lon_span / 2:.6f},{lat + 0.0003:.6f},{lon + lon_span / 2:.6f},{lat + 0.0017:.6f}"
    r = run_cli("plan", "--bbox", bbox, "--alt", "60", "--angle", "0", "--home", f"{lat},{lon}", "--no-png",
                "--out", str(out), *extra)
    assert r.exit_code == 0, r.stderr
    return out / "mission.plan"


def read(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text())


def fly_args(url: str, out: Path) -> list[str]:
    return ["--connect", url, "--yes", "--out", str(out), *FAST]


def test_survey_flies_with_full_coverage(vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from uavops.plan.formats import read_mission

    plan = make_plan(run_cli, tmp_path / "plan", vehicle.home)
    mission = read_mission(plan)
    assert len(mission.legs) == 3
    out = tmp_path / "flight"
    r = run_cli("fly", str(plan), *fly_args(vehicle.connect_url, out))
    assert r.exit_code == 0, r.stderr
    flight = read(out / "flight.json")
    assert flight["state"] == "completed" and flight["plan_hash"] == mission.content_hash()
    assert flight["mission_verified"] is True
    assert all(v["ok"] for v in flight["verification"])
    assert flight["completed_legs"] == [0, 1, 2] and flight["last_completed_leg"] == 2
    assert {c["check"] for c in flight["preflight"]} >= {"heartbeat", "GPS", "EKF", "battery", "home", "mission"}
    rows = (out / "captures.csv").read_text().splitlines()
    assert rows[0].startswith("time_utc,time_usec,lat_deg,lon_deg")
    assert abs((len(rows) - 1) - len(mission.photos)) <= 1
    assert read(out / "ledger.json")["missing"] == []
    assert len(read(out / "captures.geojson")["features"]) == len(rows) - 1
    assert (out / "session.tlog").stat().st_size > 10_000
    assert "mission:" in r.stderr and "[ OK ]" in r.stderr


def _big_mission(home, n: int) -> Mission:  # type: ignore[no-untyped-def]
    items = [MissionItem(MAV_CMD.NAV_TAKEOFF, param7=30.0)]
    for i in range(n - 1):
        items.append(MissionItem(MAV_CMD.NAV_WAYPOINT, param5=home.lat_deg + 0.0005 + (i // 20) * 1e-4,
                                 param6=home.lon_deg + (i % 20) * 1e-4, param7=40.0 + i % 5))
    return Mission(home=HomePosition(home.lat_deg, home.lon_deg, home.ground_amsl_m), items=items)


def test_700_items_upload_and_verify(vehicle) -> None:  # type: ignore[no-untyped-def]
    mission = _big_mission(vehicle.home, 700)
    with GroundLink(vehicle.connect_url, gcs_heartbeat_hz=20) as link:
        if vehicle.backend == "ardupilot":
            # ArduCopter 4.7 SITL stores at most 650 items (home included) and says so: NO_SPACE
            from uavops.errors import MissionTransferError

            with pytest.raises(MissionTransferError, match="no space"):
                link.mission.upload(mission.wire_items())
            mission = _big_mission(vehicle.home, 600)
        res = link.mission.upload_verified(mission.wire_items())
        assert res.ok and res.vehicle_count == len(mission.items) + 1


def test_700_items_through_20_percent_packet_loss(builtin_vehicle) -> None:  # type: ignore[no-untyped-def]
    mission = _big_mission(builtin_vehicle.home, 700)
    builtin_vehicle.sim.faults.set(packet_loss=0.2)
    # timeouts scaled for the 20x simulator (its own re-request and cancel timers run on simulated time)
    policy = TransferPolicy(item_timeout_s=0.05, ack_timeout_s=0.3, max_retries=20)
    with GroundLink(builtin_vehicle.connect_url, gcs_heartbeat_hz=20, policy=policy) as link:
        res = link.mission.upload_verified(mission.wire_items())
        assert res.ok and res.vehicle_count == 701


def _popen_fly(*args: str, out_log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    env = dict(os.environ)
    fh = open(out_log, "w")
    return subprocess.Popen([sys.executable, "-m", "uavops.cli.main", "fly", *args], stdout=fh, stderr=subprocess.STDOUT,
                            env=env)


def _wait_for(cond, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if cond():
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _photos(out: Path) -> int:
    p = out / "captures.csv"
    return max(0, len(p.read_text().splitlines()) - 1) if p.exists() else 0


def test_battery_failsafe_rtl_then_resume_completes_without_gaps(builtin_vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sim = builtin_vehicle.sim
    plan = make_plan(run_cli, tmp_path / "plan", builtin_vehicle.home)
    out = tmp_path / "flight"
    from uavops.plan.formats import read_mission

    leg0 = sum(p.leg == 0 for p in read_mission(plan).photos)
    shots = []

    def on_photo(trigger) -> None:  # type: ignore[no-untyped-def]
        shots.append(trigger)
        if len(shots) == leg0 + 4:  # a few photos into the second leg
            sim.vehicle.battery.drop_to(20)  # below BATT_LOW_MAH: ArduPilot's battery failsafe -> RTL

    sim.on_camera_trigger(on_photo)
    proc = _popen_fly(str(plan), *fly_args(builtin_vehicle.connect_url, out), out_log=tmp_path / "fly1.log")
    try:
        rc = proc.wait(timeout=120)
    finally:
        proc.kill()
    log = (tmp_path / "fly1.log").read_text()
    assert rc == 3, log
    flight = read(out / "flight.json")
    assert flight["state"] == "interrupted" and "RTL" in flight["end_reason"], flight
    assert flight["last_completed_leg"] == 0 and flight["completed_legs"] == [0]
    assert read(out / "ledger.json")["missing"], "an interrupted survey must leave planned photos open"
    # Battery swap: a fresh pack and the power cycle that clears ArduPilot's latched battery failsafe.
    sim.faults.battery_drop(to_pct=100)
    sim.call(lambda: setattr(sim.vehicle, "batt_fs_level", 0))
    r = run_cli("fly", "--resume", str(out), "--yes", *FAST)
    assert r.exit_code == 0, r.stderr
    flight = read(out / "flight.json")
    assert flight["state"] == "completed" and flight["completed_legs"] == [0, 1, 2]
    assert flight["sortie_count"] == 2 and flight["resumed_from"]["leg"] == 1
    assert flight["resumed_from"]["photo_id"] is not None  # restarted at the last photo taken on leg 1
    assert read(out / "ledger.json")["missing"] == []


def test_ground_station_killed_mid_flight_resumes_same_flight(vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan = make_plan(run_cli, tmp_path / "plan", vehicle.home)
    out = tmp_path / "flight"
    proc = _popen_fly(str(plan), *fly_args(vehicle.connect_url, out), out_log=tmp_path / "fly1.log")
    try:
        _wait_for(lambda: read(out / "flight.json").get("completed_legs") == [0], 180, "leg 0 complete")
        before = read(out / "flight.json")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    assert before["state"] == "flying"
    r = run_cli("fly", "--resume", str(out), "--yes", *FAST)
    assert r.exit_code == 0, r.stderr
    flight = read(out / "flight.json")
    assert flight["flight_id"] == before["flight_id"]
    assert flight["state"] == "completed" and flight["completed_legs"] == [0, 1, 2]
    assert read(out / "ledger.json")["missing"] == []


def test_gps_not_ready_refuses_with_reason(builtin_vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    builtin_vehicle.sim.faults.gps_loss(True)
    plan = make_plan(run_cli, tmp_path / "plan", builtin_vehicle.home)
    r = run_cli("fly", str(plan), "--connect", builtin_vehicle.connect_url, "--yes", "--out", str(tmp_path / "f"),
                "--gcs-heartbeat-hz", "20", "--ready-timeout", "3")
    assert r.exit_code == 2
    assert "Error: Preflight check" in r.stderr and "PreArm" in r.stderr
    assert read(tmp_path / "f" / "flight.json")["state"] == "preflight_failed"


def test_fence_breach_refuses_to_arm_with_prearm_reason(vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A geofence that excludes the launch point: ArduPilot refuses to arm and says why."""
    from uavops.plan.formats import write_plan

    home = vehicle.home
    lat, lon = home.lat_deg + 0.01, home.lon_deg  # 1.1 km north: home is outside
    fence = [MissionItem(MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MAV_FRAME.GLOBAL, param1=4, param5=lat + dy,
                         param6=lon + dx, mission_type=MAV_MISSION_TYPE.FENCE)
             for dy, dx in [(-0.001, -0.001), (0.001, -0.001), (0.001, 0.001), (-0.001, 0.001)]]
    mission = Mission(home=HomePosition(home.lat_deg, home.lon_deg, 0), fence=fence,
                      items=[MissionItem(MAV_CMD.NAV_TAKEOFF, param7=30),
                             MissionItem(MAV_CMD.NAV_WAYPOINT, param5=lat, param6=lon, param7=30),
                             MissionItem(MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_FRAME.MISSION)])
    plan = write_plan(mission, tmp_path / "fenced.plan")
    r = run_cli("fly", str(plan), "--connect", vehicle.connect_url, "--yes", "--out", str(tmp_path / "f"),
                *FAST[:4], "--ready-timeout", "60")
    assert r.exit_code != 0
    # ArduCopter 4.7 words it "Arm: Fence: vehicle outside fence" (and repeats "PreArm: ..." every 30 s)
    assert ("PreArm" in r.stderr or "Arm: " in r.stderr) and "ence" in r.stderr, r.stderr
    with GroundLink(vehicle.connect_url, gcs_heartbeat_hz=20) as link:
        assert not link.state.armed


def test_refly_gaps_flies_only_missing_points(vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan = make_plan(run_cli, tmp_path / "plan", vehicle.home)
    out = tmp_path / "flight"
    assert run_cli("fly", str(plan), *fly_args(vehicle.connect_url, out)).exit_code == 0
    # pretend four photos never arrived (e.g. a camera hiccup): drop their rows
    lines = (out / "captures.csv").read_text().splitlines()
    kept = lines[:5] + lines[9:]
    (out / "captures.csv").write_text("\n".join(kept) + "\n")
    r = run_cli("fly", "--refly-gaps", str(out), "--yes", *FAST)
    assert r.exit_code == 0, r.stderr
    assert "Reflying 4 missed photo points" in r.stderr
    assert read(out / "ledger.json")["missing"] == []
    assert read(out / "flight.json")["refly_gaps"]["photos"]


@pytest.mark.parametrize("backend", ["builtin", pytest.param("ardupilot", marks=[pytest.mark.sitl, requires_sitl])])
def test_two_vehicles_fly_a_two_part_plan_at_once(backend: str, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fixtures.vehicles import start_vehicle

    opts = {"seed": 2} if backend == "builtin" else {}
    with start_vehicle(backend, tmp_path / "v1") as v1, start_vehicle(backend, tmp_path / "v2", **opts) as v2:
        make_plan(run_cli, tmp_path / "plan", v1.home, lon_span=0.0012, extra=("--vehicles", "2"))
        out = tmp_path / "flight"
        r = run_cli("fly", str(tmp_path / "plan"), "--connect", v1.connect_url, "--connect", v2.connect_url, "--yes",
                    "--out", str(out), *FAST)
        assert r.exit_code == 0, r.stderr
        top = read(out / "flight.json")
        assert [v["state"] for v in top["vehicles"]] == ["completed", "completed"]
        for d in ("vehicle_1", "vehicle_2"):
            assert read(out / d / "flight.json")["state"] == "completed"
            assert read(out / d / "ledger.json")["missing"] == []
        merged = (out / "captures.csv").read_text().splitlines()
        assert {row.split(",")[-1] for row in merged[1:]} == {"0", "1"}
        assert read(out / "ledger.json")["missing"] == []


def test_sorties_are_flown_in_turn_with_a_prompt(vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_plan(run_cli, tmp_path / "plan", vehicle.home, extra=("--battery-min", "3.2", "--reserve", "10"))
    summary = read(tmp_path / "plan" / "summary.json")
    parts = [f for f in summary["layout"]["files"] if f["role"] == "part"]
    assert len(parts) == 2, summary["layout"]
    out = tmp_path / "flight"
    r = run_cli("fly", str(tmp_path / "plan"), "--connect", vehicle.connect_url, "--out", str(out),
                "--battery-min", "10", *FAST, input="y\ny\ny\n")
    assert r.exit_code == 0, r.stderr
    assert "Arm and start the mission?" in r.stderr and "continue with sortie 2?" in r.stderr
    flight = read(out / "flight.json")
    assert flight["state"] == "completed" and flight["sortie_count"] == 2
    assert read(out / "ledger.json")["missing"] == []


def test_link_outage_mid_flight_the_vehicle_flies_on_and_the_ground_station_resyncs(builtin_vehicle, run_cli,
                                                                                  tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sim = builtin_vehicle.sim
    plan = make_plan(run_cli, tmp_path / "plan", builtin_vehicle.home)
    with GroundLink(builtin_vehicle.connect_url, gcs_heartbeat_hz=20) as link:
        link.params.set("FS_GCS_ENABLE", 0)  # this vehicle is set to carry on without its ground station
    out = tmp_path / "flight"
    proc = _popen_fly(str(plan), *fly_args(builtin_vehicle.connect_url, out), out_log=tmp_path / "fly.log")
    try:
        _wait_for(lambda: read(out / "flight.json").get("completed_legs") == [0], 120, "leg 0 complete")
        sim.faults.set(packet_loss=1.0)  # radio silence in both directions
        time.sleep(3.5)
        sim.faults.set(packet_loss=0.0)
        rc = proc.wait(timeout=120)
    finally:
        proc.kill()
    log = (tmp_path / "fly.log").read_text()
    assert rc == 0, log
    assert "Link restored" in log
    flight = read(out / "flight.json")
    assert flight["state"] == "completed" and flight["completed_legs"] == [0, 1, 2]

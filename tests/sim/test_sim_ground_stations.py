"""Ground stations nobody here wrote: MAVProxy flies a .waypoints mission; pymavlink's mavwp uploads one."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fixtures.vehicles import start_vehicle
from marks import requires_sitl
from uavops.sim.geo import offset_deg

MAVPROXY = shutil.which("mavproxy.py") or str(Path(sys.executable).parent / "mavproxy.py")


def _write_waypoints(path: Path, home, legs: list[tuple[float, float]], alt_m: float = 20.0) -> int:
    """A QGC WPL 110 file as Mission Planner/MAVProxy write it; returns the item count."""
    rows = ["QGC WPL 110", f"0\t1\t0\t16\t0\t0\t0\t0\t{home.lat_deg:.7f}\t{home.lon_deg:.7f}\t{home.ground_amsl_m:.2f}\t1",
            f"1\t0\t3\t22\t0\t0\t0\t0\t0\t0\t{alt_m:.1f}\t1"]
    for i, (n, e) in enumerate(legs):
        lat, lon = offset_deg(home.lat_deg, home.lon_deg, n, e)
        rows.append(f"{i + 2}\t0\t3\t16\t0\t0\t0\t0\t{lat:.7f}\t{lon:.7f}\t{alt_m:.1f}\t1")
    rows.append(f"{len(legs) + 2}\t0\t3\t20\t0\t0\t0\t0\t0\t0\t0\t1")
    path.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


BACKENDS = ["builtin", pytest.param("ardupilot", marks=[pytest.mark.sitl, requires_sitl])]


@pytest.mark.skipif(not Path(MAVPROXY).exists(), reason="MAVProxy is not installed")
@pytest.mark.parametrize("backend", BACKENDS)
def test_mavproxy_flies_waypoints_file(backend, tmp_path):
    # MAVProxy is an interactive program: give it a speed-up (8) at which a busy CI machine still
    # answers mission requests within ArduPilot's 8 s (simulated) upload timeout
    with start_vehicle(backend, tmp_path, speedup=8.0) as vehicle:
        _fly_with_mavproxy(vehicle, tmp_path)


def _fly_with_mavproxy(vehicle, tmp_path):
    wp_file = tmp_path / "survey.waypoints"
    count = _write_waypoints(wp_file, vehicle.home, [(60.0, 0.0), (60.0, 40.0)])
    proc = subprocess.Popen([MAVPROXY, "--master", vehicle.connect_url, "--source-system", "255", "--nodtr",
                             "--state-basedir", str(tmp_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path)
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def send(cmd: str) -> None:
        proc.stdin.write(cmd + "\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    def wait_for(text: str, timeout_s: float, since: int = 0) -> int:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            for i in range(since, len(lines)):
                if text in lines[i]:
                    return i
            time.sleep(0.05)
        raise AssertionError(f"MAVProxy never printed {text!r}; last output:\n{''.join(lines[-30:])}")

    try:
        wait_for("Detected vehicle", 30)
        # heartbeats faster than FS_GCS_TIMEOUT in simulated time (the profile enables the GCS failsafe)
        send(f"set heartbeat {int(vehicle.speedup * 3)}")
        # Like SITL, the vehicle answers NO_SPACE to uploads during its first (BOOT) second; an operator
        # waits for the parameter download MAVProxy starts once the vehicle is up, and retries if refused.
        wait_for("parameters", 30)
        for attempt in range(3):
            mark = len(lines)
            send(f"wp load {wp_file}")
            end = time.monotonic() + 30
            outcome = None
            while outcome is None and time.monotonic() < end:
                chunk = "".join(lines[mark:])
                if f"Sent all {count} waypoints" in chunk:
                    outcome = "sent"
                elif "NO_SPACE" in chunk:
                    outcome = "refused"
                time.sleep(0.05)
            if outcome == "sent":
                break
            assert outcome == "refused" and attempt < 2, "".join(lines[-30:])
            time.sleep(1.0)
        wait_for("ACCEPTED", 10, mark)
        send("mode GUIDED")
        wait_for("GUIDED>", 10)
        mark = len(lines)
        end = time.monotonic() + 10 + 3 * vehicle.ekf_settle_s / vehicle.speedup
        while True:  # the EKF needs time after boot; MAVProxy just retries like an operator would
            send("arm throttle")
            try:
                mark = wait_for("ARMED", 1.5, mark)
                if "DISARMED" not in lines[mark]:
                    break
                mark += 1
            except AssertionError:
                if time.monotonic() > end:
                    raise
        send("long MISSION_START 0 0")
        wait_for("MISSION_START: ACCEPTED", 10, mark)
        wait_for("AUTO>", 10, mark)
        # complete: reached the last waypoint, RTL, landed and disarmed
        done = wait_for("DISARMED", 20 + 400 / vehicle.speedup, mark + 1)
        text = "".join(lines[mark:done + 1])
        assert "Mission: 2 WP" in text or "Reached waypoint #2" in text or "reached" in text.lower(), text[-2000:]
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_mavwp_upload_and_download(vehicle, tmp_path, mav_client):
    from pymavlink import mavwp

    wp_file = tmp_path / "survey.waypoints"
    _write_waypoints(wp_file, vehicle.home, [(30.0, 0.0), (30.0, 30.0), (0.0, 30.0)])
    loader = mavwp.MAVWPLoader(target_system=1, target_component=1)
    n = loader.load(str(wp_file))
    gcs = mav_client(vehicle)
    gcs.mav.mission_count_send(1, 1, n, 0)
    while True:
        msg = gcs.recv(["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], 20)
        assert msg is not None
        if msg.get_type() == "MISSION_ACK":
            assert msg.type == 0
            break
        gcs.conn.mav.send(loader.wp(msg.seq))  # MISSION_ITEM (float), as mavwp stores them
    # download with the legacy MISSION_REQUEST, as old tools do: ArduPilot warns but answers
    gcs.mav.mission_request_list_send(1, 1, 0)
    count = gcs.recv("MISSION_COUNT", 10)
    assert count.count == n
    back = mavwp.MAVWPLoader(target_system=1, target_component=1)
    for seq in range(count.count):
        gcs.mav.mission_request_send(1, 1, seq, 0)
        item = gcs.recv("MISSION_ITEM", 10, condition=lambda m, s=seq: m.seq == s)
        assert item is not None
        back.add(item)
    gcs.mav.mission_ack_send(1, 1, 0, 0)
    out = tmp_path / "back.waypoints"
    back.save(str(out))
    assert len(out.read_text().splitlines()) == n + 1
    for seq in range(1, n):
        a, b = loader.wp(seq), back.wp(seq)
        assert a.command == b.command
        if a.command == 16:
            # MISSION_ITEM carries float32 degrees: about 1e-5 degree resolution at these longitudes
            assert abs(a.x - b.x) < 1e-5 and abs(a.y - b.y) < 1e-5 and abs(a.z - b.z) < 0.01
    gcs.recv("STATUSTEXT", 5, condition=lambda m: "MISSION_REQUEST_INT" in m.text)
    assert any("use MISSION_REQUEST_INT" in t for t in gcs.texts)

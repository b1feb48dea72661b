"""``uavops sim --scene DIR --photos DIR``: the simulator with the virtual camera attached."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from pymavlink import mavutil


def _read_json(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> dict:
    text = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        text += line
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            continue
    raise AssertionError(f"no JSON from uavops sim: {text!r}")


def test_sim_with_scene_writes_one_photo_per_trigger(small_quake_scene, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    proc = subprocess.Popen(
        [sys.executable, "-m", "uavops.cli.main", "sim", "--home", "almaty", "--tcp", "0", "--out", "none",
         "--speedup", "5", "--ekf-settle", "1", "--eeprom", str(tmp_path / "ee"), "--scene",
         str(small_quake_scene.root), "--photos", str(photos), "--duration", "60", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = _read_json(proc)
        url = info["tcp"][0]
        gcs = mavutil.mavlink_connection(url, source_system=255)
        gcs.wait_heartbeat(timeout=20)
        # let the virtual camera connect on the second port, then shoot three times, as a GCS would
        time.sleep(2.0)
        for _ in range(3):
            # confirmation 0, then param1..7: param5 = 1 means "shoot"
            gcs.mav.command_long_send(gcs.target_system, 1, mavutil.mavlink.MAV_CMD_DO_DIGICAM_CONTROL,
                                      0, 0, 0, 0, 0, 1, 0, 0)
            ack = gcs.recv_match(type="COMMAND_ACK", blocking=True, timeout=10)
            assert ack is not None and ack.result == 0
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        while len(list(photos.glob("*.JPG"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        gcs.close()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=120)
    shots = sorted(photos.glob("*.JPG"))
    assert len(shots) == 3, err[-2000:]
    assert "Virtual camera: 3 photos" in err


def test_sim_photos_without_scene_is_one_sentence(run_cli, tmp_path: Path) -> None:
    result = run_cli("sim", "--photos", str(tmp_path / "p"), "--duration", "1")
    assert result.exit_code == 2
    assert "--scene" in result.stderr and "Traceback" not in result.stderr


def test_sim_unknown_scenario_is_one_sentence(run_cli) -> None:
    result = run_cli("sim", "--scenario", "atlantis-flood", "--duration", "1")
    assert result.exit_code == 2
    assert "atlantis-flood" in result.stderr and "Traceback" not in result.stderr

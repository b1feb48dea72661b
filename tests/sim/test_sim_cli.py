"""``uavops sim`` command line and the parameter profiles."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import uavops.sim
from uavops.sim.parameters import ARDUCOPTER_PARAMS, read_parm_file
from uavops.sim.profiles import SURVEY_PROFILE, find_profile

REPO = Path(__file__).resolve().parents[2]


def test_packaged_profiles_match_repository_copies():
    repo_dir = REPO / "firmware_params"
    pkg_dir = Path(uavops.sim.__file__).parent / "params"
    repo_files = sorted(p.name for p in repo_dir.glob("*.parm"))
    assert repo_files and repo_files == sorted(p.name for p in pkg_dir.glob("*.parm"))
    for name in repo_files:
        assert (repo_dir / name).read_bytes() == (pkg_dir / name).read_bytes(), f"{name} differs; copy it again"


def test_survey_profile_is_valid_ardupilot_params():
    values = read_parm_file(find_profile(SURVEY_PROFILE))
    known = {p.name for p in ARDUCOPTER_PARAMS}
    assert set(values) <= known, set(values) - known
    assert values["CAM1_TYPE"] == 1 and values["CAM2_TYPE"] == 0  # CAM2_TYPE 0 keeps SITL from resetting CAM1
    assert values["BATT_FS_LOW_ACT"] > 0 and values["FS_GCS_ENABLE"] > 0 and values["FENCE_ENABLE"] == 1


def test_public_names():
    assert set(uavops.sim.__all__) >= {"SimVehicle", "SimConfig", "start_sim", "CameraTrigger"}
    for name in uavops.sim.__all__:
        assert hasattr(uavops.sim, name)


def test_cli_runs_and_prints_connection_strings(run_cli, tmp_path):
    r = run_cli("sim", "--tcp", "0", "--out", "none", "--speedup", "10", "--seed", "3", "--duration", "0.3",
                "--eeprom", str(tmp_path), "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["backend"] == "builtin" and info["tcp"][0].startswith("tcp:127.0.0.1:")
    assert info["params"].endswith("survey_copter.parm") and info["seed"] == 3
    r = run_cli("sim", "--tcp", "0", "--out", "none", "--duration", "0.2", "--eeprom", str(tmp_path), "--home",
                "43.1,76.9,850,90")
    assert r.exit_code == 0
    assert "Connect a ground station to:" in r.stdout and "tcp:127.0.0.1:" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--home", "atlantis"], "Unknown location"),
    (["--home", "91,10"], "outside valid latitude"),
    (["--loss", "1.5"], "--loss"),
    (["--speedup", "0"], "--speedup"),
    (["--out", "udp:nohost"], "--out"),
    (["--params", "/nonexistent/x.parm"], "does not exist"),
    (["--backend", "ardupilot"], "UAVOPS_SITL_BIN"),
    (["--backend", "ardupilot", "--sitl-bin", "/nonexistent/arducopter"], "UAVOPS_SITL_BIN"),
])
def test_cli_bad_inputs(run_cli, tmp_path, args, message, monkeypatch):
    monkeypatch.delenv("UAVOPS_SITL_BIN", raising=False)
    r = run_cli("sim", "--tcp", "0", "--out", "none", "--duration", "0.1", "--eeprom", str(tmp_path), *args)
    assert r.exit_code == 2
    assert message in r.stderr and "Traceback" not in r.stderr


def test_bad_parm_file_is_an_input_error(run_cli, tmp_path):
    bad = tmp_path / "bad.parm"
    bad.write_text("WPNAV_SPEED fast\n")
    r = run_cli("sim", "--tcp", "0", "--out", "none", "--duration", "0.1", "--eeprom", str(tmp_path), "--params",
                str(bad))
    assert r.exit_code == 2 and "not a number" in r.stderr


def test_cli_until_ctrl_c_and_a_ground_station_connects(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "uavops.cli.main", "sim", "--tcp", "0", "--out", "none",
                             "--speedup", "20", "--eeprom", str(tmp_path), "--ekf-settle", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            # as from a terminal: a test run started in the background (``cmd &`` in a
                            # script) has SIGINT ignored, and the child would inherit that and never stop
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Drain both pipes for the whole run: a full pipe would block the simulator's writes, and a
    # process blocked in write() cannot act on Ctrl-C (seen once in CI under load).
    lines: queue.Queue[str] = queue.Queue()

    def pump(stream, keep: bool) -> None:  # type: ignore[no-untyped-def]
        for text in iter(stream.readline, ""):
            if keep:
                lines.put(text)

    threading.Thread(target=pump, args=(proc.stdout, True), daemon=True).start()
    threading.Thread(target=pump, args=(proc.stderr, False), daemon=True).start()
    try:
        url = None
        end = time.monotonic() + 30
        while time.monotonic() < end and url is None:
            try:
                line = lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            m = re.search(r"(tcp:127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
        assert url is not None
        from fixtures.vehicles import MavClient

        gcs = MavClient(url, 20)
        try:
            gcs.request_streams(2)
            assert gcs.recv("GLOBAL_POSITION_INT", 10) is not None
        finally:
            gcs.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) in (0, 130)  # the sim thread gets 5 s to stop
    finally:
        if proc.poll() is None:
            proc.kill()

"""The ArduPilot SITL launcher, exercised with a stand-in binary (real SITL runs in the sitl-marked tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from uavops.errors import SimError
from uavops.locations import get_location
from uavops.sim.sitl import SitlConfig, SitlProcess, resolve_sitl_bin

FAKE = """#!{python}
import socket, sys, time, pathlib
args = sys.argv[1:]
pathlib.Path("args.txt").write_text("\\n".join(args))
if "--exit" in open("{marker}").read():
    print("bad things"); sys.exit(3)
inst = int(args[args.index("-I") + 1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 5760 + 10 * inst)); s.listen(1)
time.sleep(30)
"""


def _fake_binary(tmp_path: Path, exit_early: bool = False) -> Path:
    marker = tmp_path / "marker"
    marker.write_text("--exit" if exit_early else "")
    binary = tmp_path / "bin" / "arducopter"
    binary.parent.mkdir()
    binary.write_text(FAKE.format(python=sys.executable, marker=marker))
    binary.chmod(0o755)
    (binary.parent / "copter.parm").write_text("FRAME_CLASS 1\n")
    return binary


def test_launcher_passes_home_speedup_and_defaults(tmp_path):
    binary = _fake_binary(tmp_path)
    home = get_location("bishkek")
    with SitlProcess(SitlConfig(binary=binary, home=home, speedup=10, workdir=tmp_path / "run")) as proc:
        assert proc.tcp_url == f"tcp:127.0.0.1:{5760 + 10 * proc.instance}"
        args = (tmp_path / "run" / "args.txt").read_text().splitlines()
    assert args[args.index("--home") + 1] == home.sitl_home()
    assert args[args.index("--speedup") + 1] == "10"
    defaults = args[args.index("--defaults") + 1].split(",")
    assert defaults[0].endswith("copter.parm") and defaults[1].endswith("survey_copter.parm")
    assert "-w" in args


def test_launcher_reports_early_exit(tmp_path):
    binary = _fake_binary(tmp_path, exit_early=True)
    with pytest.raises(SimError, match="exited at start"):
        SitlProcess(SitlConfig(binary=binary, home=get_location("osh"), workdir=tmp_path / "run")).start()


def test_missing_binary_names_the_variable(tmp_path):
    with pytest.raises(SimError, match="UAVOPS_SITL_BIN"):
        resolve_sitl_bin(None)
    with pytest.raises(SimError, match="UAVOPS_SITL_BIN"):
        resolve_sitl_bin(tmp_path / "nope")


def test_cli_ardupilot_backend_uses_the_launcher(run_cli, tmp_path):
    binary = _fake_binary(tmp_path)
    r = run_cli("sim", "--backend", "ardupilot", "--sitl-bin", str(binary), "--tcp", "0", "--out", "none",
                "--speedup", "5", "--home", "dushanbe", "--eeprom", str(tmp_path / "run"), "--duration", "0.2",
                "--json")
    assert r.exit_code == 0, r.stderr
    import json

    info = json.loads(r.stdout)
    assert info["backend"] == "ardupilot" and len(info["tcp"]) == 3
    args = (tmp_path / "run" / "args.txt").read_text().splitlines()
    assert args[args.index("--speedup") + 1] == "5"
    assert args[args.index("--home") + 1] == get_location("dushanbe").sitl_home()
    r = run_cli("sim", "--backend", "ardupilot", "--sitl-bin", str(binary), "--loss", "0.2", "--duration", "0.1")
    assert r.exit_code == 2 and "--loss" in r.stderr

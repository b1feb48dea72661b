"""`uavops params show|diff|apply` against a live vehicle (built-in simulator; SITL with the sitl marker)."""

from __future__ import annotations

import json
from pathlib import Path


def test_params_show_diff_apply(vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hb = ("--gcs-heartbeat-hz", "20")
    r = run_cli("params", "show", "--connect", vehicle.connect_url, *hb, "--match", "WPNAV_")
    assert r.exit_code == 0, r.stderr
    assert "WPNAV_SPEED 1000" in r.stdout
    profile = tmp_path / "survey.parm"
    profile.write_text("# test profile\nWPNAV_SPEED 800\nRTL_ALT 3000\n")
    r = run_cli("params", "diff", str(profile), "--connect", vehicle.connect_url, *hb, "--json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert [d["name"] for d in data["differences"]] == ["WPNAV_SPEED"]
    r = run_cli("params", "apply", str(profile), "--connect", vehicle.connect_url, *hb)
    assert r.exit_code == 0, r.stderr
    assert "WPNAV_SPEED      1000 -> 800" in r.stdout
    r = run_cli("params", "diff", str(profile), "--connect", vehicle.connect_url, *hb)
    assert r.exit_code == 0 and "0 of 2 parameters differ" in r.stderr


def test_params_bad_profile_and_unknown_name(vehicle, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.parm"
    bad.write_text("WPNAV_SPEED fast\n")
    r = run_cli("params", "apply", str(bad), "--connect", vehicle.connect_url)
    assert r.exit_code == 2 and "Line 1" in r.stderr
    unknown = tmp_path / "unknown.parm"
    unknown.write_text("NO_SUCH_PARAM 1\n")
    r = run_cli("params", "apply", str(unknown), "--connect", vehicle.connect_url, "--gcs-heartbeat-hz", "20")
    assert r.exit_code == 2 and "no parameter NO_SUCH_PARAM" in r.stderr

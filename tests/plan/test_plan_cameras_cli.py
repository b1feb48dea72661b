from __future__ import annotations

import json


def test_cameras_table_and_json(run_cli):
    r = run_cli("cameras")
    assert r.exit_code == 0
    assert "DJI Phantom 4 Pro" in r.stdout and "Sony a6000 16mm" in r.stdout
    r = run_cli("cameras", "--json", "--alt", "100")
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    a6000 = next(row for row in rows if row["name"] == "Sony a6000 16mm")
    assert a6000["gsd_cm"] == 2.448 and a6000["focal_length_mm"] == 16.0

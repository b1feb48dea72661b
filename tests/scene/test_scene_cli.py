from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin


def test_scene_make_cli_writes_the_named_files(run_cli, tmp_path: Path):
    out = tmp_path / "scene"
    r = run_cli("scene", "make", "--event", "earthquake", "--location", "osh", "--size-m", "100", "--gsd-cm", "10",
                "--seed", "1", "--out", str(out), "--json")
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["crs_epsg"] == 32643 and info["width_px"] == 1000 and info["has_truth"]
    for name in ("pre.tif", "post.tif", "buildings.geojson", "damage_mask.tif", "events.geojson", "scene.json"):
        assert (out / name).is_file()
    assert not list(out.glob(".*")), "no temporary files left behind"


def test_scene_make_cli_user_errors(run_cli, tmp_path: Path):
    r = run_cli("scene", "make", "--event", "flood", "--location", "atlantis", "--out", str(tmp_path))
    assert r.exit_code == 2 and r.stderr.startswith("Error: Unknown location")
    r = run_cli("scene", "make", "--event", "flood", "--location", "almaty", "--size-m", "99999", "--out",
                str(tmp_path))
    assert r.exit_code == 2 and "Error:" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("scene", "make", "--event", "volcano", "--location", "almaty", "--out", str(tmp_path))
    assert r.exit_code == 2


def test_scene_import_reprojects_orthophoto_to_utm(run_cli, tmp_path: Path):
    src = tmp_path / "ortho.tif"
    data = np.zeros((3, 200, 300), np.uint8)
    data[0, 50:150, 100:200] = 255
    with rasterio.open(src, "w", driver="GTiff", width=300, height=200, count=3, dtype="uint8", crs="EPSG:4326",
                       transform=from_origin(74.5698, 42.8746, 1e-6, 1e-6)) as ds:
        ds.write(data)
    r = run_cli("scene", "import", str(src), "--out", str(tmp_path / "sc"), "--json")
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["crs_epsg"] == 32643 and not info["has_truth"]
    from uavops.scene import load_scene

    scene = load_scene(tmp_path / "sc")
    img = scene.read("post")
    assert img[..., 0].max() == 255 and scene.gsd_m < 0.2
    r = run_cli("scene", "import", str(tmp_path / "missing.tif"), "--out", str(tmp_path / "x"))
    assert r.exit_code == 2 and "does not exist" in r.stderr

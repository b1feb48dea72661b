from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.features import rasterize
from shapely.geometry import shape
from shapely.ops import transform as shp_transform

from uavops.errors import SceneError
from uavops.geo import LocalProjection
from uavops.package import DAMAGE_GRADES
from uavops.scene import load_scene, make_scene

FILES = ("pre.tif", "post.tif", "damage_mask.tif", "buildings.geojson", "events.geojson", "scene.json")


def _digest(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def test_scene_files_share_one_utm_grid(small_quake_scene):
    scene = small_quake_scene
    assert scene.crs_epsg == 32643  # Almaty: UTM 43N
    assert scene.width_px == scene.height_px == 2000
    assert scene.gsd_cm == pytest.approx(8.0)
    grids = []
    for name in ("pre.tif", "post.tif", "damage_mask.tif"):
        with rasterio.open(scene.root / name) as ds:
            grids.append((ds.crs.to_epsg(), tuple(ds.transform), ds.width, ds.height))
            assert ds.dtypes[0] == "uint8"
            assert ds.count == (1 if name == "damage_mask.tif" else 3)
    assert len(set(grids)) == 1
    meta = json.loads((scene.root / "scene.json").read_text())
    for key in ("event", "location", "crs_epsg", "gsd_cm", "size_m", "seed", "bounds"):
        assert key in meta
    # the site lies at the centre of the scene
    lon, lat = LocalProjection(scene.crs_epsg).to_lonlat((scene.bounds[0] + scene.bounds[2]) / 2,
                                                         (scene.bounds[1] + scene.bounds[3]) / 2)
    assert lat == pytest.approx(43.2380, abs=2e-4) and lon == pytest.approx(76.8829, abs=2e-4)


def test_truth_is_valid_geojson_with_copernicus_grades(small_quake_scene):
    fc = json.loads(small_quake_scene.buildings_path.read_text())
    assert fc["type"] == "FeatureCollection"
    ids = [f["properties"]["building_id"] for f in fc["features"]]
    assert len(ids) == len(set(ids)) >= 8
    grades = {f["properties"]["damage_gra"] for f in fc["features"]}
    assert grades == set(DAMAGE_GRADES), "an earthquake scene has every grade"
    for f in fc["features"]:
        geom = shape(f["geometry"])
        assert geom.is_valid and geom.area > 0
        assert geom.exterior.is_ccw  # RFC 7946 winding
        lon, lat = geom.exterior.coords[0]
        assert 76.8 < lon < 77.0 and 43.2 < lat < 43.3
    ev = json.loads(small_quake_scene.events_path.read_text())
    assert ev["features"] and {f["properties"]["event_type"] for f in ev["features"]} == {"debris"}


def test_damage_mask_matches_building_grades(small_quake_scene):
    scene = small_quake_scene
    mask = scene.read_mask()
    proj = scene.projection
    fc = json.loads(scene.buildings_path.read_text())
    with rasterio.open(scene.mask_path) as ds:
        transform = ds.transform
    for f in fc["features"]:
        utm = shp_transform(lambda x, y, z=None: proj.to_xy(x, y), shape(f["geometry"]))
        inside = rasterize([(utm.buffer(-0.2), 1)], out_shape=mask.shape, transform=transform).astype(bool)
        values = np.bincount(mask[inside], minlength=5)
        code = DAMAGE_GRADES.index(f["properties"]["damage_gra"])
        assert values.argmax() == code
        assert values[code] >= 0.97 * inside.sum()
    assert (mask == 4).any(), "earthquake debris outside footprints is marked as event extent"
    assert set(np.unique(mask)) <= {0, 1, 2, 3, 4}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path):
    a = make_scene("earthquake", "bishkek", size_m=100, gsd_cm=10, seed=5, out_dir=tmp_path / "a")
    b = make_scene("earthquake", "bishkek", size_m=100, gsd_cm=10, seed=5, out_dir=tmp_path / "b")
    c = make_scene("earthquake", "bishkek", size_m=100, gsd_cm=10, seed=6, out_dir=tmp_path / "c")
    assert _digest(a.root) == _digest(b.root)
    dc = _digest(c.root)
    assert dc["post.tif"] != _digest(a.root)["post.tif"]
    assert dc["buildings.geojson"] != _digest(a.root)["buildings.geojson"]


def test_pre_and_post_differ_realistically_outside_damage(small_quake_scene):
    pre = small_quake_scene.read("pre").astype(np.int16)
    post = small_quake_scene.read("post").astype(np.int16)
    mask = small_quake_scene.read_mask()
    calm = mask == 0
    diff = np.abs(pre - post).mean(axis=2)
    # not identical (sun, exposure, cars, season differ) ...
    assert diff[calm].mean() > 2.0
    # ... but the scene is the same place: most undamaged pixels stay close
    assert np.median(diff[calm]) < 25
    # destroyed buildings change a lot more than calm ground
    assert diff[mask == 3].mean() > 2 * np.median(diff[calm])


@pytest.mark.parametrize("event, etype", [("flood", "flood"), ("mudflow", "mudflow"), ("tailings", "tailings"),
                                          ("fire", "burn_scar")])
def test_every_event_makes_extent_and_damage(tmp_path: Path, event: str, etype: str):
    scene = make_scene(event, "dushanbe", size_m=360, gsd_cm=40, seed=2, out_dir=tmp_path, overviews=False)
    ev = json.loads(scene.events_path.read_text())
    assert [f["properties"]["event_type"] for f in ev["features"]] == [etype]
    mask = scene.read_mask()
    assert (mask == 4).mean() > 0.01
    grades = [f["properties"]["damage_gra"] for f in json.loads(scene.buildings_path.read_text())["features"]]
    assert any(g != "No visible damage" for g in grades)
    assert "No visible damage" in grades
    # extent truth agrees with the picture: inside the extent the post image changed, outside mostly not
    pre = scene.read("pre").astype(np.int16)
    post = scene.read("post").astype(np.int16)
    d = np.abs(pre - post).mean(axis=2)
    assert d[mask == 4].mean() > d[mask == 0].mean() + 8


def test_gdal_reads_the_rasters(small_quake_scene):
    if shutil.which("gdalinfo") is None:
        pytest.skip("gdalinfo is not installed")
    out = subprocess.run(["gdalinfo", "-json", str(small_quake_scene.post_path)], capture_output=True, text=True,
                         check=True)
    info = json.loads(out.stdout)
    assert info["size"] == [2000, 2000]
    assert len(info["bands"]) == 3 and info["bands"][0].get("overviews")


def test_bad_arguments_raise_scene_error(tmp_path: Path):
    with pytest.raises(SceneError, match="Unknown event"):
        make_scene("meteor", "almaty", 100, 10, 1, tmp_path)
    with pytest.raises(SceneError, match="--size-m"):
        make_scene("flood", "almaty", 10, 10, 1, tmp_path)
    with pytest.raises(SceneError, match="--gsd-cm"):
        make_scene("flood", "almaty", 100, 0.1, 1, tmp_path)
    with pytest.raises(SceneError, match="does not exist"):
        load_scene(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SceneError, match="no post.tif"):
        load_scene(tmp_path / "empty")


def test_window_read_decimates(small_quake_scene):
    from rasterio.windows import Window

    full = small_quake_scene.read("post", Window(0, 0, 400, 200))
    small = small_quake_scene.read("post", Window(0, 0, 400, 200), out_shape=(50, 100))
    assert full.shape == (200, 400, 3) and small.shape == (50, 100, 3)
    assert abs(float(full.mean()) - float(small.mean())) < 3


def test_scene_caches_tell_stale_scenes_from_current_ones(tmp_path: Path):
    from uavops.scene import is_current_scene

    out = tmp_path / "s"
    assert not is_current_scene(out)
    make_scene("tailings", "khujand", size_m=200, gsd_cm=40, seed=7, out_dir=out, overviews=False)
    assert is_current_scene(out, seed=7, size_m=200.0, gsd_cm=40.0)
    assert not is_current_scene(out, seed=8)
    meta = json.loads((out / "scene.json").read_text())
    (out / "scene.json").write_text(json.dumps(dict(meta, generator_version="0")))
    assert not is_current_scene(out, seed=7)  # painted by an older generator: repaint, never reuse


def test_tailings_extent_includes_the_emptied_impoundment(tmp_path: Path):
    """The drained pond is painted as exposed tailings after the breach, so it is truth too."""
    scene = make_scene("tailings", "khujand", size_m=200, gsd_cm=40, seed=1031, out_dir=tmp_path, overviews=False)
    mask = scene.read_mask()
    pre = scene.read("pre").astype(np.int16)
    post = scene.read("post").astype(np.int16)
    changed = np.abs(pre - post).mean(axis=2) > 25
    # most strongly changed pixels are inside the event extent (the rest: shadows moved with the sun,
    # cars, buildings); without the emptied impoundment only 64 % were
    assert (mask[changed] == 4).mean() > 0.7

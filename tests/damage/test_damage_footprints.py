"""Footprints from GeoPackage (as OpenStreetMap/Microsoft exports come) grade the same as from GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from shapely import to_wkb
from shapely.geometry import shape

from uavops.damage import load_pair
from uavops.damage.buildings import read_footprints


def test_geopackage_and_geojson_footprints_agree(quake_scene: Path, tmp_path: Path):
    pyogrio = pytest.importorskip("pyogrio")
    feats = json.loads((quake_scene / "buildings.geojson").read_text())["features"]
    geoms = np.array([to_wkb(shape(f["geometry"])) for f in feats], dtype=object)
    ids = np.array([str(f["properties"]["building_id"]) for f in feats], dtype=object)
    gpkg = tmp_path / "b.gpkg"
    pyogrio.raw.write(gpkg, geoms, [ids], ["building_id"], crs="EPSG:4326", geometry_type="Polygon", driver="GPKG")
    pair = load_pair(quake_scene / "post.tif")
    a = read_footprints(quake_scene / "buildings.geojson", pair.grid)
    b = read_footprints(gpkg, pair.grid)
    assert [f.building_id for f in a] == [f.building_id for f in b]
    for fa, fb in zip(a, b):
        assert fa.geometry_grid.symmetric_difference(fb.geometry_grid).area < 1.0   # working pixels

"""The package written for a generated scene with footprints: GeoJSON rules, COG, summary, package.json."""

from __future__ import annotations

import json
from pathlib import Path

import rasterio

from uavops.package import DAMAGE_GRADES, DamagePackageMeta, sha256_file


def _ring_area(ring: list[list[float]]) -> float:
    return sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1)) / 2


def _rings(geom: dict) -> list[list[list[list[float]]]]:
    return [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]


def test_geojson_is_rfc7946_with_the_required_properties(quake_package: Path, quake_scene: Path):
    gj = json.loads((quake_package / "damage.geojson").read_text())
    assert gj["type"] == "FeatureCollection" and "crs" not in gj
    truth = json.loads((quake_scene / "buildings.geojson").read_text())
    assert len(gj["features"]) == len(truth["features"])
    for f in gj["features"]:
        p = f["properties"]
        assert p["damage_gra"] in DAMAGE_GRADES
        assert 0.0 <= p["confidence"] <= 1.0
        assert p["area_m2"] > 0
        assert p["event_type"] == "earthquake" and p["det_method"] and p["source_id"] == "post"
        assert len(p["obs_date"]) == 10
        for poly in _rings(f["geometry"]):
            assert _ring_area(poly[0]) > 0, "exterior ring must be counter-clockwise"
            for hole in poly[1:]:
                assert _ring_area(hole) < 0
            for x, y in poly[0]:
                assert 76 < x < 78 and 43 < y < 44
                assert round(x, 7) == x and round(y, 7) == y


def test_cog_and_summary_and_package_json(quake_package: Path):
    with rasterio.open(quake_package / "damage.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.crs.to_epsg() == 32643 and ds.count == 2
        assert ds.read(1).max() <= 255
    summary = json.loads((quake_package / "summary.json").read_text())
    assert set(summary["counts_per_grade"]) == set(DAMAGE_GRADES)
    assert summary["buildings_assessed"] == sum(summary["counts_per_grade"].values())
    assert summary["registration"]["method"].startswith("features")
    meta = DamagePackageMeta.model_validate_json((quake_package / "package.json").read_text())
    assert meta.event.type == "earthquake" and meta.producer == "KG-MChS" and meta.crs_epsg == 32643
    assert meta.gsd_cm == 5.0
    lon0, lat0, lon1, lat1 = meta.bbox
    assert 76.8 < lon0 < lon1 < 77.0 and 43.2 < lat0 < lat1 < 43.3
    roles = {f.role for f in meta.files}
    assert {"damage_geojson", "damage_raster", "summary", "report"} <= roles
    for f in meta.files:
        assert (quake_package / f.path).stat().st_size == f.size_bytes
        assert sha256_file(quake_package / f.path) == f.sha256
    # No half-written or temporary files left behind.
    assert not [p for p in quake_package.iterdir() if p.name.startswith(".") or "stage" in p.name]


def test_report_is_self_contained(quake_package: Path):
    html = (quake_package / "report.html").read_text()
    assert "data:image/jpeg;base64," in html and "Map overview" in html
    for bad in ("http://", "https://", "<script", "<link"):
        assert bad not in html

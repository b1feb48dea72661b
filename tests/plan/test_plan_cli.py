"""`uavops plan` end to end through the real entry point, and its error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uavops.plan.formats import read_mission

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "almaty_kargaly.geojson"


def _geojson(path: Path, rings: list, kind: str = "Polygon") -> Path:  # type: ignore[type-arg]
    path.write_text(json.dumps({"type": "Feature", "properties": {},
                                "geometry": {"type": kind, "coordinates": rings}}))
    return path


SQUARE = [[[76.850, 43.200], [76.855, 43.200], [76.855, 43.203], [76.850, 43.203], [76.850, 43.200]]]


def test_readme_command_writes_every_file(run_cli, tmp_path):
    out = tmp_path / "plan"
    r = run_cli("plan", str(EXAMPLE), "--camera", "DJI Phantom 4 Pro", "--alt", "80", "--front", "75", "--side", "70",
                "--out", str(out))
    assert r.exit_code == 0, r.stderr
    for name in ("mission.plan", "mission.waypoints", "preview.geojson", "preview.png", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("gsd_cm", "line_spacing_m", "trigger_distance_m", "footprint_side_m", "footprint_front_m",
                "photo_count", "distance_m", "time_s", "sorties"):
        assert key in summary
    assert summary["gsd_cm"] == pytest.approx(2.193, abs=1e-3) and summary["line_spacing_m"] == 36.0
    assert "GSD" in r.stdout and "2.193" in r.stdout
    mission = read_mission(out / "mission.plan")
    assert len(mission.photos) == summary["photo_count"] and mission.legs
    geo = json.loads((out / "preview.geojson").read_text())
    roles = {f["properties"]["role"] for f in geo["features"]}
    assert {"area", "fence", "home", "transect", "photo", "footprint", "flight_path"} <= roles
    from PIL import Image

    with Image.open(out / "preview.png") as img:
        assert img.width >= 600 and img.height >= 600


def test_json_gsd_and_split_layout(run_cli, tmp_path):
    out = tmp_path / "p"
    r = run_cli("plan", str(EXAMPLE), "--gsd", "2.5", "--battery-min", "20", "--vehicles", "2", "--out", str(out),
                "--json", "--no-png")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["gsd_cm"] == pytest.approx(2.5, abs=1e-3) and s["vehicles"] == 2 and s["sorties"] >= 4
    files = s["layout"]["files"]
    assert files[0]["path"] == "mission.plan"
    for f in files[1:]:
        assert (out / f["path"]).exists() and (out / f["waypoints"]).exists()
        assert f["path"].startswith(f"vehicle_{f['vehicle']}/sortie_")
        m = read_mission(out / f["path"])
        assert (m.vehicle + 1, m.sortie + 1) == (f["vehicle"], f["sortie"])
    assert json.loads((out / "summary.json").read_text())["layout"] == s["layout"]


def test_kml_bbox_exclude_home_angle(run_cli, tmp_path):
    kml = tmp_path / "area.kml"
    coords = " ".join(f"{lon},{lat},0" for lon, lat in SQUARE[0])
    kml.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>area</name>
<Polygon><outerBoundaryIs><LinearRing><coordinates>{coords}</coordinates></LinearRing></outerBoundaryIs></Polygon>
</Placemark></Document></kml>""")
    zone = _geojson(tmp_path / "nofly.geojson", [[[76.852, 43.2012], [76.853, 43.2012], [76.853, 43.2018],
                                                   [76.852, 43.2018], [76.852, 43.2012]]])
    r = run_cli("plan", str(kml), "--alt", "60", "--exclude", str(zone), "--home", "43.1995,76.8495",
                "--angle", "45", "--turnaround", "10", "--out", str(tmp_path / "k"), "--json", "--no-png")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["angle_deg"] == 45 and s["home"]["lat_deg"] == 43.1995
    assert s["fence_items"] > 4  # inclusion polygon + exclusion polygon
    r = run_cli("plan", "--bbox", "76.850,43.200,76.855,43.203", "--alt", "60", "--trigger", "hover",
                "--out", str(tmp_path / "b"), "--json", "--no-png")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["trigger_mode"] == "hover"


def test_custom_camera_flags(run_cli, tmp_path):
    r = run_cli("plan", "--bbox", "76.850,43.200,76.855,43.203", "--alt", "100", "--sensor-width", "23.5",
                "--sensor-height", "15.6", "--image-width", "6000", "--image-height", "4000", "--focal-length", "16",
                "--front", "70", "--side", "70", "--out", str(tmp_path / "c"), "--json", "--no-png")
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["gsd_cm"], s["line_spacing_m"], s["trigger_distance_m"]) == (2.448, 44.06, 29.38)


def test_repair_fixes_bow_tie_with_warning(run_cli, tmp_path):
    bow = _geojson(tmp_path / "bow.geojson", [[[76.850, 43.200], [76.855, 43.203], [76.855, 43.200],
                                               [76.850, 43.203], [76.850, 43.200]]])
    r = run_cli("plan", str(bow), "--alt", "60", "--repair", "--out", str(tmp_path / "r"), "--no-png")
    assert r.exit_code == 0, r.stderr
    assert "repaired" in r.stderr


BAD = {
    "self_intersecting": ([[[76.850, 43.200], [76.855, 43.203], [76.855, 43.200], [76.850, 43.203],
                            [76.850, 43.200]]], "Polygon", "not a valid polygon"),
    "zero_area": ([[[76.850, 43.200], [76.852, 43.201], [76.854, 43.202], [76.850, 43.200]]], "Polygon",
                  "zero area"),
    # lat,lon order east of 90°E (e.g. Ulaanbaatar): the "latitude" is out of range
    "swapped": ([[[47.900, 106.900], [47.900, 106.905], [47.903, 106.905], [47.903, 106.900], [47.900, 106.900]]],
                "Polygon", "lat,lon"),
    "out_of_range": ([[[500000.0, 4780000.0], [500100.0, 4780000.0], [500100.0, 4780100.0],
                       [500000.0, 4780000.0]]], "Polygon", "outside the valid range"),
    "wrong_winding_hole": (SQUARE + [[[76.851, 43.201], [76.852, 43.201], [76.852, 43.202], [76.851, 43.202],
                                      [76.851, 43.201]]], "Polygon", "wound the same way"),
    "no_polygon": ([76.85, 43.2], "Point", "no Polygon"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_areas_exit_2_with_one_sentence(run_cli, tmp_path, case):
    rings, kind, words = BAD[case]
    path = _geojson(tmp_path / f"{case}.geojson", rings, kind)
    r = run_cli("plan", str(path), "--alt", "60", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2
    err = r.stderr.strip()
    assert err.startswith("Error: ") and words in err and "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "mission.plan").exists()


@pytest.mark.parametrize("args,words", [
    (["--alt", "150"], "120 m ceiling"),
    (["--gsd", "6"], "ceiling"),
    (["--alt", "60", "--front", "95"], "between 0 and 90"),
    (["--alt", "60", "--camera", "DJI Fantom 4"], "Unknown camera"),
    (["--alt", "60", "--home", "north"], "LAT,LON"),
    (["--alt", "60", "--home", "76.85,43.20"], "km from the area"),
    (["--alt", "60", "--angle", "diagonal"], "'auto'"),
    (["--alt", "60", "--dem", "/nonexistent/dem.tif"], "does not exist"),
    (["--alt", "60", "--battery-min", "0.3"], "battery"),
    (["--alt", "60", "--exclude", "/nonexistent/zones.geojson"], "does not exist"),
    (["--alt", "60", "--sensor-width", "13.2"], "custom camera needs"),
    ([], "either --alt"),
])
def test_bad_options_exit_2(run_cli, tmp_path, args, words):
    area = _geojson(tmp_path / "a.geojson", SQUARE)
    r = run_cli("plan", str(area), *args, "--out", str(tmp_path / "o"))
    assert r.exit_code == 2, r.stdout + r.stderr
    assert words in r.stderr and r.stderr.startswith("Error: ")


def test_missing_and_garbled_files(run_cli, tmp_path):
    r = run_cli("plan", str(tmp_path / "nope.geojson"), "--alt", "60", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "does not exist" in r.stderr
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    r = run_cli("plan", str(bad), "--alt", "60", "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "not valid GeoJSON" in r.stderr


def test_help_lists_the_layout(run_cli):
    r = run_cli("plan", "--help")
    assert r.exit_code == 0
    for word in ("--gsd", "--battery-min", "--vehicles", "--dem", "--exclude", "sortie_K.plan", "vehicle_N"):
        assert word in r.stdout


def test_repair_swaps_lat_lon(run_cli, tmp_path):
    rings, kind, _ = BAD["swapped"]
    path = _geojson(tmp_path / "swapped.geojson", rings, kind)
    r = run_cli("plan", str(path), "--alt", "60", "--repair", "--out", str(tmp_path / "s"), "--json", "--no-png")
    assert r.exit_code == 0, r.stderr
    assert "swapped" in r.stderr
    home = json.loads(r.stdout)["home"]
    assert 47.8 < home["lat_deg"] < 48.0 and 106.8 < home["lon_deg"] < 107.0


def test_replanning_removes_stale_sortie_files(run_cli, tmp_path):
    out = tmp_path / "re"
    r = run_cli("plan", str(EXAMPLE), "--alt", "80", "--battery-min", "20", "--out", str(out), "--no-png")
    assert r.exit_code == 0 and (out / "sortie_2.plan").exists()
    r = run_cli("plan", str(EXAMPLE), "--alt", "80", "--out", str(out), "--no-png")
    assert r.exit_code == 0
    assert not list(out.glob("sortie_*")) and (out / "mission.plan").exists()


def test_shipped_no_fly_example(run_cli, tmp_path):
    nofly = REPO / "examples" / "almaty_kargaly_nofly.geojson"
    r = run_cli("plan", str(EXAMPLE), "--alt", "80", "--exclude", str(nofly), "--out", str(tmp_path / "nf"),
                "--json", "--no-png")
    assert r.exit_code == 0, r.stderr
    geo = json.loads((tmp_path / "nf" / "preview.geojson").read_text())
    assert sum(f["properties"]["role"] == "exclusion" for f in geo["features"]) == 1
    plan = json.loads((tmp_path / "nf" / "mission.plan").read_text())
    assert [p["inclusion"] for p in plan["geoFence"]["polygons"]] == [True, False]

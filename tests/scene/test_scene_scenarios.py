from __future__ import annotations

from pathlib import Path

import pytest

from uavops.errors import InputError, SceneError
from uavops.locations import LOCATIONS
from uavops.scene.scenarios import list_scenarios, load_scenario

REPO = Path(__file__).resolve().parents[2]


def test_repo_and_package_copies_are_identical():
    repo = {p.name: p.read_bytes() for p in (REPO / "sim" / "scenarios").glob("*.toml")}
    pkg = {p.name: p.read_bytes() for p in (REPO / "src" / "uavops" / "scene" / "scenarios").glob("*.toml")}
    assert repo and repo == pkg


def test_every_location_has_a_fitting_scenario():
    scenarios = [load_scenario(n) for n in list_scenarios()]
    assert {s.location.name.lower() for s in scenarios} >= set(LOCATIONS)
    events = {(s.location.name, s.event) for s in scenarios}
    assert ("Almaty", "mudflow") in events and ("Dushanbe", "flood") in events
    assert ("Khujand", "tailings") in events and ("Tashkent", "fire") in events
    for s in scenarios:
        assert s.get_camera().image_width_px > 0
        opts = s.sim_options()
        assert opts["home"].name == s.location.name and opts["wind_speed_mps"] >= 0
        assert 50 <= s.scene.size_m <= 3000 and 1 <= s.scene.gsd_cm <= 50


def test_scenario_makes_its_scene(tmp_path: Path):
    s = load_scenario("tashkent-fire")
    from dataclasses import replace

    small = replace(s, scene=replace(s.scene, size_m=200, gsd_cm=25))
    scene = small.make_scene(tmp_path)
    assert scene.meta["event"] == "fire" and scene.meta["location"]["name"] == "Tashkent"


def test_bad_scenarios_fail_clearly(tmp_path: Path):
    with pytest.raises(InputError, match="Unknown scenario 'atlantis-flood'; available: almaty-mudflow"):
        load_scenario("atlantis-flood")
    bad = tmp_path / "bad.toml"
    bad.write_text('location = "Osh"\nevent = "meteor"\n')
    with pytest.raises(SceneError, match="Unknown event"):
        load_scenario(bad)
    bad.write_text('location = "Osh"\nevent = "flood"\n[wind]\nspeed = 3\n')
    with pytest.raises(SceneError, match="unknown key"):
        load_scenario(bad)
    bad.write_text('location = "Osh"\nevent = "flood"\n[camera]\nname = "Hasselblad X9"\n')
    with pytest.raises(InputError, match="Unknown camera"):
        load_scenario(bad)

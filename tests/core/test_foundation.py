from __future__ import annotations

import os
from pathlib import Path

import pytest

from uavops import errors
from uavops.config import load_settings
from uavops.files import atomic_write, read_json, write_json
from uavops.geo import LocalProjection, haversine_m, utm_epsg_for
from uavops.mission import MAV_CMD, MAV_FRAME, HomePosition, Mission, MissionItem, items_match


def test_every_exported_error_is_a_uavops_error():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.UavopsError), name
    assert errors.HubValidationError.http_status == 422
    denied = errors.CommandDenied("refused", command=400, mav_result=4)
    assert denied.command == 400 and denied.mav_result == 4


def test_settings_env_overrides_file(tmp_path: Path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('hub_url = "http://a"\n')
    s = load_settings(cfg, environ={"UAVOPS_HUB_URL": "http://b", "UAVOPS_SITL_BIN": "/x/arducopter"})
    assert s.hub_url == "http://b"
    assert s.sitl_bin == Path("/x/arducopter")


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("{half")
            raise RuntimeError("interrupted")
    assert read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_read_json_errors(tmp_path: Path):
    with pytest.raises(errors.InputError, match="does not exist"):
        read_json(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(errors.InputError, match="not valid JSON"):
        read_json(bad)


def test_utm_zones():
    assert utm_epsg_for(76.9, 43.2) == 32643  # Almaty
    assert utm_epsg_for(69.2, 41.3) == 32642  # Tashkent
    assert utm_epsg_for(-70.0, -33.0) == 32719
    proj = LocalProjection.for_point(76.9, 43.2)
    x, y = proj.to_xy(76.9, 43.2)
    lon, lat = proj.to_lonlat(x + 1000.0, y)
    # haversine is spherical: east-west at 43°N it reads ~0.3 % short of the ellipsoid
    assert haversine_m(43.2, 76.9, lat, lon) == pytest.approx(1000.0, rel=5e-3)


def test_mission_item_wire_roundtrip_global_and_do_commands():
    wp = MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=43.2389123, param6=76.8897456,
                     param7=80.0)
    back = MissionItem.from_int_fields(**wp.to_int_fields())
    assert items_match(wp, back)
    assert wp.to_int_fields()["x"] == 432389123
    trig = MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=29.37, param3=1)
    f = trig.to_int_fields()
    assert f["x"] == 0 and f["y"] == 0
    assert items_match(trig, MissionItem.from_int_fields(**f))
    moved = MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=43.2390, param6=76.8897456,
                        param7=80.0)
    assert not items_match(wp, moved)


def test_mission_wire_items_put_home_first_and_hash_is_stable():
    m = Mission(home=HomePosition(43.2, 76.9, 800.0),
                items=[MissionItem(MAV_CMD.NAV_TAKEOFF, param7=30.0)])
    wire = m.wire_items()
    assert wire[0].frame == MAV_FRAME.GLOBAL and wire[0].param7 == 800.0
    assert wire[1].command == MAV_CMD.NAV_TAKEOFF
    assert m.content_hash() == Mission(home=HomePosition(43.2, 76.9, 800.0),
                                       items=[MissionItem(MAV_CMD.NAV_TAKEOFF, param7=30.0)]).content_hash()


def test_atomic_outputs_get_normal_permissions(tmp_path: Path):
    old = os.umask(0o022)
    try:
        write_json(tmp_path / "x.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644


def test_event_type_aliases():
    from uavops.package import normalize_event_type

    assert normalize_event_type("tailings") == "tailings_dam_failure"
    assert normalize_event_type("Sel") == "mudflow"
    assert normalize_event_type("earthquake") == "earthquake"
    assert normalize_event_type("meteor") == "other"


def test_output_folder_removes_only_the_empty_folders_it_made(tmp_path: Path) -> None:
    from uavops.files import output_folder

    target = tmp_path / "a" / "b" / "c"
    with pytest.raises(ValueError), output_folder(target) as out:
        assert out.is_dir()
        raise ValueError("bad input")
    assert not (tmp_path / "a").exists()

    kept = tmp_path / "kept"
    with pytest.raises(ValueError), output_folder(kept / "run") as out:
        (out / "flight.json").write_text("{}")  # something worth keeping (a resumable record)
        raise ValueError("interrupted")
    assert (kept / "run" / "flight.json").exists()

    with output_folder(tmp_path / "ok") as out:
        (out / "x").write_text("1")
    assert (tmp_path / "ok" / "x").exists()

"""Bad input to ``uavops mosaic``: one clear sentence, exit code 2, no partial output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixtures.imagery import write_small_photo

LAT, LON = 43.2380, 76.9450  # Almaty


def _assert_clean_error(r, out: Path, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert r.exit_code == 2, r.stderr
    msg = r.stderr.strip()
    assert msg.startswith("Error: ") and msg.count("\n") == 0, msg
    assert "Traceback" not in msg
    for w in words:
        assert w.lower() in msg.lower(), msg
    # a run that stops on bad input leaves no output, not even the empty --out folder it would have made
    assert not out.exists(), list(out.iterdir())


def test_missing_and_empty_folder(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    _assert_clean_error(run_cli("mosaic", str(tmp_path / "nope"), "--out", str(out)), out, "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    _assert_clean_error(run_cli("mosaic", str(empty), "--out", str(out)), out, "no JPEG or TIFF")


def test_single_photo(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "one"
    d.mkdir()
    write_small_photo(d / "DJI_0001.JPG", LAT, LON)
    out = tmp_path / "out"
    _assert_clean_error(run_cli("mosaic", str(d), "--out", str(out)), out, "only 1", "at least two")


def test_photos_without_gps_are_reported(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "nogps"
    d.mkdir()
    write_small_photo(d / "DJI_0001.JPG", None, None, seed=1)
    write_small_photo(d / "DJI_0002.JPG", None, None, seed=2)
    out = tmp_path / "out"
    _assert_clean_error(run_cli("mosaic", str(d), "--out", str(out)), out, "no GPS position", "DJI_0001.JPG")


def test_corrupt_jpeg_is_named(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "corrupt"
    d.mkdir()
    good = write_small_photo(d / "DJI_0001.JPG", LAT, LON)
    (d / "DJI_0002.JPG").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg at all")
    bad2 = d / "DJI_0003.JPG"
    data = good.read_bytes()
    bad2.write_bytes(data[: len(data) // 2])  # truncated copy
    out = tmp_path / "out"
    r = run_cli("mosaic", str(d), "--out", str(out))
    _assert_clean_error(r, out, "DJI_0002.JPG")
    assert "not a readable" in r.stderr or "corrupt" in r.stderr


def test_folder_of_truncated_photos_names_them(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Photos cut short (a full memory card): EXIF and GPS still read, the image data does not decode.

    This used to end in "Internal error: IndexError" once every photo had failed to decode."""
    d = tmp_path / "cut"
    d.mkdir()
    for k in range(3):
        photo = write_small_photo(d / f"DJI_000{k + 1}.JPG", LAT, LON + k * 2e-4, seed=k)
        data = photo.read_bytes()
        photo.write_bytes(data[: int(len(data) * 0.8)])
    out = tmp_path / "out"
    _assert_clean_error(run_cli("mosaic", str(d), "--out", str(out)), out, "only 0 of 3", "DJI_0001.JPG", "DJI_0002.JPG",
                        "truncated", "copy it again")


def test_two_places(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "two"
    d.mkdir()
    write_small_photo(d / "A_0001.JPG", LAT, LON, seed=1)
    write_small_photo(d / "A_0002.JPG", LAT + 0.0001, LON, seed=2)
    write_small_photo(d / "B_0001.JPG", 40.28, 69.62, seed=3)  # Khujand
    write_small_photo(d / "B_0002.JPG", 40.2801, 69.62, seed=4)
    out = tmp_path / "out"
    _assert_clean_error(run_cli("mosaic", str(d), "--out", str(out)), out, "separate places", "own folder")


def test_unwritable_output(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "ok"
    d.mkdir()
    write_small_photo(d / "DJI_0001.JPG", LAT, LON)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    r = run_cli("mosaic", str(d), "--out", str(blocker / "sub"))
    assert r.exit_code == 2 and r.stderr.startswith("Error: ") and "--out" in r.stderr
    assert blocker.read_text() == "x"


def test_existing_out_folder_is_kept_on_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Only folders the run itself created are removed; the operator's own folder and its files stay."""
    d = tmp_path / "one"
    d.mkdir()
    write_small_photo(d / "DJI_0001.JPG", LAT, LON)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    r = run_cli("mosaic", str(d), "--out", str(out / "run1"))
    assert r.exit_code == 2 and "only 1" in r.stderr.lower()
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_unknown_camera_and_bad_gsd(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "ok"
    d.mkdir()
    write_small_photo(d / "DJI_0001.JPG", LAT, LON)
    write_small_photo(d / "DJI_0002.JPG", LAT + 0.0001, LON, seed=3)
    out = tmp_path / "out"
    _assert_clean_error(run_cli("mosaic", str(d), "--out", str(out), "--camera", "Phantom 99"), out, "Unknown camera")
    _assert_clean_error(run_cli("mosaic", str(d), "--out", str(out), "--gsd", "-3"), out, "--gsd")


def test_missing_captures_file(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "ok"
    d.mkdir()
    write_small_photo(d / "DJI_0001.JPG", None, None)
    out = tmp_path / "out"
    _assert_clean_error(run_cli("mosaic", str(d), "--out", str(out), "--captures", str(tmp_path / "c.csv")), out,
                        "capture log")


def test_interrupt_leaves_no_partial_output(synthetic_flight, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C while tiles are written: neither mosaic.tif nor a temporary file stays behind."""
    from uavops.imagery import MosaicOptions, build_mosaic
    from uavops.imagery import render

    calls = {"n": 0}
    original = render.TileRenderer.render

    def interrupted(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *a, **k)

    monkeypatch.setattr(render.TileRenderer, "render", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        build_mosaic(synthetic_flight.photos_dir, out, MosaicOptions(gsd_cm=12.0))
    assert calls["n"] >= 3  # windows already handed to the other render thread may start too
    assert not out.exists()  # no mosaic, no temporary file, and not the empty folder either


def test_mixed_folder_skips_bad_photos_and_reports_them(synthetic_flight, tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """A corrupt file and a photo without GPS among good ones are skipped with reasons, not fatal."""
    import json

    d = tmp_path / "mixed"
    shutil.copytree(synthetic_flight.photos_dir, d)
    (d / "DJI_9998.JPG").write_bytes(b"garbage")
    write_small_photo(d / "DJI_9999.JPG", None, None)
    out = tmp_path / "out"
    r = run_cli("mosaic", str(d), "--out", str(out), "--gsd", "15")
    assert r.exit_code == 0, r.stderr
    assert "Skipped DJI_9998.JPG" in r.stderr and "Skipped DJI_9999.JPG" in r.stderr
    q = json.loads((out / "quality.json").read_text())
    assert q["photos_used"] == 15 and q["photos_skipped"] == 2
    reasons = {p["name"]: p["reason"] for p in q["photos"] if p["status"] == "skipped"}
    assert "GPS" in reasons["DJI_9999.JPG"] and "readable" in reasons["DJI_9998.JPG"]

"""The public surface of ``uavops.imagery`` stays deliberate (see STYLE.md §2)."""

from __future__ import annotations


def test_exported_members() -> None:
    import uavops.imagery as imagery

    assert sorted(imagery.__all__) == sorted([
        "build_mosaic", "MosaicOptions", "MosaicResult", "PhotoMeta", "read_photo_meta", "CapturePose",
        "read_captures", "MOSAIC_NAME", "FOOTPRINTS_NAME", "QUALITY_NAME"])
    for name in imagery.__all__:
        assert getattr(imagery, name) is not None
    assert (imagery.MOSAIC_NAME, imagery.FOOTPRINTS_NAME, imagery.QUALITY_NAME) == (
        "mosaic.tif", "footprints.geojson", "quality.json")


def test_cli_help(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("mosaic", "--help")
    assert r.exit_code == 0
    for flag in ("--out", "--captures", "--gsd", "--camera", "--json"):
        assert flag in r.stdout

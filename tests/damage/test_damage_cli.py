"""``uavops damage`` through the real entry point: plain images, bad inputs, --json."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.transform import from_origin

from uavops.package import DamagePackageMeta, sha256_file


def test_help_lists_the_issue_options(run_cli):
    r = run_cli("damage", "--help")
    assert r.exit_code == 0
    for opt in ("--post", "--pre", "--buildings", "--event", "--out", "--json"):
        assert opt in r.stdout


def test_plain_pair_writes_change_mask_and_package(run_cli, plain_pair, tmp_path: Path):
    pre, post, (x0, y0, x1, y1) = plain_pair
    out = tmp_path / "damage"
    r = run_cli("damage", "--pre", str(pre), "--post", str(post), "--out", str(out), "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["mode"] == "pre/post change"
    mask = cv2.imread(str(out / "change_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (480, 640) and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) <= {0, 255}
    inside = (mask[y0:y1, x0:x1] > 0).mean()
    outside = mask.copy()
    outside[max(0, y0 - 10):y1 + 10, max(0, x0 - 10):x1 + 10] = 0
    assert inside > 0.5, f"only {inside:.0%} of the changed roof flagged"
    assert (outside > 0).mean() < 0.01
    for name in ("damage.geojson", "damage.tif", "summary.json", "report.html", "package.json"):
        assert (out / name).is_file(), name
    meta = DamagePackageMeta.model_validate_json((out / "package.json").read_text())
    assert meta.file("change_mask") is not None
    for f in meta.files:
        assert sha256_file(out / f.path) == f.sha256
    gj = json.loads((out / "damage.geojson").read_text())
    assert gj["coordinate_system"] == "pixel" and gj["features"]
    xs = [c[0] for f in gj["features"] for c in f["geometry"]["coordinates"][0]]
    assert min(xs) >= x0 - 20 and max(xs) <= x1 + 20   # pixel coordinates of the full-size image


def test_mismatched_plain_sizes_is_a_clear_error(run_cli, tmp_path: Path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    cv2.imwrite(str(a), np.zeros((100, 120, 3), np.uint8))
    cv2.imwrite(str(b), np.zeros((90, 120, 3), np.uint8))
    r = run_cli("damage", "--pre", str(a), "--post", str(b), "--out", str(tmp_path / "o" / "pkg"))
    assert r.exit_code == 2
    assert "Error:" in r.stderr and "same size" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()  # nothing left behind, not even the folders --out would have made


def _geotiff(path: Path, left: float, top: float, epsg: int = 32643, size: int = 200) -> None:
    data = np.random.default_rng(1).integers(0, 255, (3, size, size), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       crs=f"EPSG:{epsg}", transform=from_origin(left, top, 0.05, 0.05)) as ds:
        ds.write(data)


def test_non_overlapping_geotiffs_is_a_clear_error(run_cli, tmp_path: Path):
    _geotiff(tmp_path / "post.tif", 652780.0, 4789000.0)
    _geotiff(tmp_path / "pre.tif", 660000.0, 4789000.0)
    r = run_cli("damage", "--post", str(tmp_path / "post.tif"), "--pre", str(tmp_path / "pre.tif"),
                "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "do not overlap" in r.stderr
    assert not (tmp_path / "o").exists()


def test_georeferenced_with_plain_is_a_clear_error(run_cli, tmp_path: Path):
    _geotiff(tmp_path / "post.tif", 652780.0, 4789000.0)
    cv2.imwrite(str(tmp_path / "pre.png"), np.zeros((200, 200, 3), np.uint8))
    r = run_cli("damage", "--post", str(tmp_path / "post.tif"), "--pre", str(tmp_path / "pre.png"),
                "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "georeferenced" in r.stderr


def test_pre_that_is_no_image_is_named_as_such(run_cli, tmp_path: Path):
    """A broken pre file is 'cannot be read', not 'one is georeferenced and the other is not'."""
    _geotiff(tmp_path / "post.tif", 652780.0, 4789000.0)
    (tmp_path / "pre.tif").write_bytes(b"not a tiff")
    r = run_cli("damage", "--post", str(tmp_path / "post.tif"), "--pre", str(tmp_path / "pre.tif"),
                "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "pre image" in r.stderr and "cannot be read" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_missing_post_is_a_clear_error(run_cli, tmp_path: Path):
    r = run_cli("damage", "--post", str(tmp_path / "nope.tif"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_bad_buildings_file_is_a_clear_error(run_cli, tmp_path: Path):
    _geotiff(tmp_path / "post.tif", 652780.0, 4789000.0)
    (tmp_path / "b.geojson").write_text("{not json")
    r = run_cli("damage", "--post", str(tmp_path / "post.tif"), "--buildings", str(tmp_path / "b.geojson"),
                "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "not valid GeoJSON" in r.stderr

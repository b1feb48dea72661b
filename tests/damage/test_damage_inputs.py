"""Reading a pre image that covers less than the post image.

A flown mosaic is usually larger than the basemap or earlier mosaic it is compared with. The pre
image is warped onto the post grid; beyond its edge there is nothing to compare, and that must
stay marked as such whatever the pre image's way of saying "no data" (none, a nodata value, an
internal mask, an alpha band). When it was not (a pre GeoTIFF without nodata), its black fill was
compared with the mosaic: the colour match was thrown off and grass all over the demo's mosaic was
flagged as event extent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from uavops.damage import detect_changes, load_pair
from uavops.damage.perturb import Nuisance, apply_nuisance

PAD_PX = 300  # 15 m at 5 cm: the post image reaches this far beyond the pre image on every side


def _read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile.copy()


def _write_pre(path: Path, rgb: np.ndarray, profile: dict, kind: str) -> None:
    prof = {k: v for k, v in profile.items() if k not in ("nodata", "photometric", "count")}
    prof.update(driver="GTiff", count=3)
    if kind == "nodata":
        prof["nodata"] = 0
    if kind == "alpha":
        prof.update(count=4, photometric="RGB", alpha="YES")
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **prof) as ds:
        ds.write(rgb, [1, 2, 3])
        if kind == "alpha":
            ds.write(np.full(rgb.shape[1:], 255, np.uint8), 4)
        if kind == "mask":
            ds.write_mask(np.full(rgb.shape[1:], 255, np.uint8))


def _write_larger_post(path: Path, rgb: np.ndarray, profile: dict) -> None:
    """The same ground with PAD_PX of flat bare ground around it, as a mosaic reaching beyond the pre."""
    c, h, w = rgb.shape
    big = np.empty((c, h + 2 * PAD_PX, w + 2 * PAD_PX), np.uint8)
    big[:] = np.asarray([150, 140, 120], np.uint8)[:, None, None]
    big[:, PAD_PX:PAD_PX + h, PAD_PX:PAD_PX + w] = rgb
    t = profile["transform"]
    prof = {k: v for k, v in profile.items() if k != "nodata"}
    prof.update(driver="GTiff", count=3, width=w + 2 * PAD_PX, height=h + 2 * PAD_PX,
                transform=from_origin(t.c - PAD_PX * t.a, t.f + PAD_PX * -t.e, t.a, -t.e))
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(big)


@pytest.mark.parametrize("kind", ["none", "nodata", "mask", "alpha"])
def test_pre_image_marks_only_its_own_footprint_as_valid(quake_scene: Path, tmp_path: Path, kind: str) -> None:
    rgb, profile = _read(quake_scene / "pre.tif")
    pre = tmp_path / f"pre_{kind}.tif"
    _write_pre(pre, rgb, profile, kind)
    post = tmp_path / "post_large.tif"
    _write_larger_post(post, _read(quake_scene / "post.tif")[0], profile)
    pair = load_pair(post, pre)
    assert pair.pre_valid is not None
    s = pair.grid.scale
    pad, h, w = PAD_PX / s, rgb.shape[1] / s, rgb.shape[2] / s
    inner = np.zeros_like(pair.pre_valid)
    inner[int(pad) + 2:int(pad + h) - 2, int(pad) + 2:int(pad + w) - 2] = True
    outer = np.ones_like(pair.pre_valid)
    outer[int(pad) - 2:int(pad + h) + 2, int(pad) - 2:int(pad + w) + 2] = False
    assert pair.pre_valid[inner].all(), "the pre image's own area must be valid"
    assert not pair.pre_valid[outer].any(), f"beyond the pre image's edge must be no data (pre with {kind})"
    expected = rgb.shape[1] * rgb.shape[2] / ((rgb.shape[1] + 2 * PAD_PX) * (rgb.shape[2] + 2 * PAD_PX))
    assert abs(pair.pre_valid.mean() - expected) < 0.01


def test_no_damage_pair_with_a_larger_post_image_flags_almost_nothing(quake_scene: Path, tmp_path: Path) -> None:
    """The demo's case: a mosaic larger than the pre image, no damage, another exposure and white balance."""
    rgb, profile = _read(quake_scene / "pre.tif")
    pre = tmp_path / "pre.tif"
    _write_pre(pre, rgb, profile, "none")
    # the nuisance of the robustness test (test_damage_detector), at full resolution
    shifted = apply_nuisance(np.moveaxis(rgb, 0, -1), Nuisance(exposure=1.35, white_balance=(1.12, 1.0, 0.85),
                                                               gamma=0.85, shift_px=(3.0, 3.0), jpeg_quality=70))
    post = tmp_path / "post_large.tif"
    _write_larger_post(post, np.ascontiguousarray(np.moveaxis(shifted, -1, 0)), profile)
    pair = load_pair(post, pre)
    cmap = detect_changes(pair, progress=False)
    assert pair.pre_valid is not None
    flagged = float((cmap.classes[pair.pre_valid] > 0).mean())
    assert flagged < 0.01, f"{flagged:.1%} of an undamaged area flagged"

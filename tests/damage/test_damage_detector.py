"""The detector against truth and against the classic baselines, and its robustness to nuisances."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling

from uavops.damage import ImagePair, detect_changes, load_pair
from uavops.damage.baselines import BASELINES
from uavops.damage.delineation import package_classes
from uavops.damage.metrics import pixel_f1
from uavops.damage.perturb import Nuisance, apply_nuisance, single_nuisances


def _truth(scene: Path, pair: ImagePair) -> np.ndarray:
    with rasterio.open(scene / "damage_mask.tif") as ds:
        return ds.read(1, out_shape=(pair.grid.height, pair.grid.width), resampling=Resampling.mode)


@pytest.fixture(scope="module")
def quake_change(quake_scene: Path):
    pair = load_pair(quake_scene / "post.tif", quake_scene / "pre.tif")
    return pair, detect_changes(pair, progress=False), _truth(quake_scene, pair)


def test_detector_beats_the_best_baseline_on_a_held_out_scene(quake_change):
    pair, change, truth = quake_change
    valid = change.valid & change.compared
    t = truth >= 1
    assert t[valid].sum() > 100, "the test scene must contain damage"
    ours = pixel_f1(change.classes >= 1, t, valid)
    base = {name: pixel_f1(fn(pair.post, change.pre_registered, valid), t, valid) for name, fn in BASELINES.items()}
    best = max(base.values())
    assert ours > best, f"detector F1 {ours:.3f} does not beat baselines {base}"
    assert ours >= 1.5 * best, f"detector F1 {ours:.3f} vs best baseline {best:.3f}"


def _assert_no_damage_pair_flags_under_one_percent(scene: Path, nuisance_at: Callable[[float], Nuisance]) -> None:
    """The scene's pre image against a copy of itself under ``nuisance_at(scale)`` (scale: full-resolution
    px per working px): under 1 % flagged in the pixel map and in the map the package writes (extents
    delineated: holes filled, gaps bridged)."""
    pair = load_pair(scene / "post.tif", scene / "pre.tif")
    assert pair.pre is not None and pair.pre_valid is not None
    other = apply_nuisance(pair.pre, nuisance_at(pair.grid.scale))
    nd = detect_changes(ImagePair(grid=pair.grid, post=other, post_valid=pair.pre_valid, pre=pair.pre,
                                  pre_valid=pair.pre_valid), progress=False)
    flagged = ((nd.classes >= 1) & nd.valid).sum() / nd.valid.sum()
    assert flagged < 0.01, f"{flagged:.2%} of an undamaged pair flagged"
    mapped = package_classes(nd.classes, nd.valid, pair.grid)
    flagged_map = ((mapped >= 1) & nd.valid).sum() / nd.valid.sum()
    assert flagged_map < 0.01, f"{flagged_map:.2%} of an undamaged pair flagged in damage.tif"


def test_no_damage_pair_with_nuisances_flags_under_one_percent(quake_scene: Path):
    """Same place, other flight: exposure, white balance, gamma, a 3 px shift and JPEG; the sun angle
    (shadow direction) differs between the scene's own pre and post renders, so the post image's
    undamaged area is checked too."""
    _assert_no_damage_pair_flags_under_one_percent(quake_scene, lambda scale: Nuisance(  # 3 full-resolution px
        exposure=1.35, white_balance=(1.12, 1.0, 0.85), gamma=0.85, shift_px=(3.0 / scale, 3.0 / scale),
        jpeg_quality=70))


@pytest.mark.parametrize("name", list(single_nuisances()))
def test_no_damage_pair_differing_by_one_mild_nuisance_flags_under_one_percent(quake_scene: Path, name: str):
    """A second flight with the same camera a day later differs from the first by little more than one of
    these. Model 1.4 flagged 1.3-1.8 % of this scene here (flat roofs called Possibly damaged with no
    change behind them) because its no-damage training pairs always differed by everything at once."""
    _assert_no_damage_pair_flags_under_one_percent(quake_scene, lambda scale: single_nuisances(scale)[name])


def test_sun_angle_and_exposure_change_outside_damage_flags_under_one_percent(quake_change):
    pair, change, truth = quake_change
    # Far from any truth change (the scene's pre and post differ in sun azimuth/elevation and exposure).
    from scipy.ndimage import binary_dilation
    near = binary_dilation(truth >= 1, iterations=15)
    region = change.valid & change.compared & ~near
    flagged = ((change.classes >= 1) & region).sum() / region.sum()
    assert flagged < 0.01, f"{flagged:.2%} of the undamaged area flagged"


def test_post_only_mode_runs_single_image_cues(quake_change):
    pair, _, truth = quake_change
    single = detect_changes(ImagePair(grid=pair.grid, post=pair.post, post_valid=pair.post_valid), progress=False)
    assert not single.compared.any()
    assert any("post image alone" in n for n in single.notes)
    assert single.single_image_indices is not None and single.single_image_indices.shape[0] == 4
    flagged = ((single.classes >= 1) & (truth == 0)).mean()
    assert flagged < 0.05


def _diamond(h: int, w: int) -> np.ndarray:
    """A mosaic-like valid area: a square turned 45°, the corners of the grid being no-data."""
    import cv2

    m = np.zeros((h, w), np.uint8)
    pts = np.array([[w // 2, 2], [w - 3, h // 2], [w // 2, h - 3], [2, h // 2]], np.int32)
    cv2.fillPoly(m, [pts], 1)
    return m.astype(bool)


@pytest.mark.parametrize("with_pre", [False, True], ids=["post-only", "pre-post"])
def test_the_no_data_edge_of_a_mosaic_is_not_flagged(quake_scene: Path, with_pre: bool):
    """A mosaic's edge (ground next to no-data black) is not a change: on an intact pair the band along
    the edge is flagged no more than the rest. It used to come out as a 'Possibly damaged' frame all
    around real mosaics (Brighton, post-only: 48 areas, most of them the frame)."""
    import cv2

    pair = load_pair(quake_scene / "post.tif", quake_scene / "pre.tif")
    assert pair.pre is not None and pair.pre_valid is not None
    intact = pair.pre
    h, w = intact.shape[:2]
    valid = _diamond(h, w) & pair.pre_valid
    post = apply_nuisance(intact, Nuisance(exposure=1.1, jpeg_quality=85))
    post[~valid] = 0
    nd = detect_changes(ImagePair(grid=pair.grid, post=post, post_valid=valid,
                                  pre=intact if with_pre else None,
                                  pre_valid=pair.pre_valid if with_pre else None), progress=False)
    inner = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    band = valid & ~inner
    flagged = (nd.classes >= 1) & nd.valid
    band_frac = flagged[band].mean()
    assert band_frac < 0.01 + flagged[inner].mean(), (
        f"{band_frac:.1%} of the 4-pixel band along the no-data edge flagged, {flagged[inner].mean():.1%} inside")


def test_the_edge_of_the_pre_images_coverage_is_not_flagged(quake_scene: Path):
    """A pre image that covers only part of the post (an older, smaller mosaic): on an intact pair the
    line where the comparison stops is no change. It used to be flagged more than either side (4.6 %
    against 3.2 % on this scene, 11 % against 2.4 % on another), the pre's black no-data entering the
    neighbourhoods of the change cues beside it."""
    pair = load_pair(quake_scene / "post.tif", quake_scene / "pre.tif")
    assert pair.pre is not None and pair.pre_valid is not None
    intact = pair.pre
    h, w = intact.shape[:2]
    post = apply_nuisance(intact, Nuisance(exposure=1.1, jpeg_quality=85))
    pre = intact.copy()
    covered = pair.pre_valid.copy()
    covered[:, w // 2:] = False
    pre[~covered] = 0
    nd = detect_changes(ImagePair(grid=pair.grid, post=post, post_valid=pair.pre_valid, pre=pre,
                                  pre_valid=covered), progress=False)
    flagged = (nd.classes >= 1) & nd.valid
    band = flagged[:, w // 2 - 6:w // 2 + 6].mean()
    sides = max(flagged[:, :w // 2 - 10].mean(), flagged[:, w // 2 + 10:].mean())
    assert band < 0.01 + sides, f"{band:.1%} flagged along the edge of the pre's coverage, {sides:.1%} on either side"

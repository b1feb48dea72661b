"""Comparing a sharp post image with a softer reference at a common sharpness."""

from __future__ import annotations

import cv2
import numpy as np

from uavops.damage.cues import Sharpness, colour_match, compute_cues, match_sharpness
from uavops.damage.perturb import Nuisance, apply_nuisance


def _texture(seed: int = 3, size: int = 768) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.float32)
    for sigma, amp in ((1.0, 40.0), (3.0, 50.0), (12.0, 60.0)):
        img += cv2.GaussianBlur(rng.normal(0, 1, (size, size, 3)).astype(np.float32), (0, 0), sigma) * amp * sigma
    return np.clip(img + 128, 0, 255).astype(np.uint8)


def _valid(img: np.ndarray) -> np.ndarray:
    return np.ones(img.shape[:2], bool)


def test_equally_sharp_images_are_left_alone_even_with_another_exposure() -> None:
    post = _texture()
    pre = apply_nuisance(post, Nuisance(exposure=0.75, gamma=1.2, white_balance=(1.1, 1.0, 0.9)))
    assert match_sharpness(post, pre, _valid(post)) == Sharpness()


def test_a_softer_reference_is_detected_and_the_post_blurred_by_about_as_much() -> None:
    post = _texture()
    pre = apply_nuisance(post, Nuisance(blur_sigma_px=1.0, exposure=1.2))
    got = match_sharpness(post, pre, _valid(post))
    assert got.pre_sigma_px == 0.0
    assert 0.6 <= got.post_sigma_px <= 1.6
    # and the other way round: a soft post image blurs the reference instead
    got2 = match_sharpness(pre, post, _valid(post))
    assert got2.post_sigma_px == 0.0 and 0.6 <= got2.pre_sigma_px <= 1.6


def test_damage_on_a_third_of_the_area_does_not_look_like_a_sharpness_difference() -> None:
    pre = _texture()
    post = pre.copy()
    rubble = _texture(seed=9)
    post[:256] = np.clip(rubble[:256].astype(np.int16) * 2 - 128, 0, 255).astype(np.uint8)  # much rougher
    assert match_sharpness(post, pre, _valid(post)) == Sharpness()


def test_common_sharpness_removes_most_of_the_structure_cue_of_a_blurred_reference() -> None:
    post = _texture()
    pre = apply_nuisance(post, Nuisance(blur_sigma_px=1.0))
    valid = _valid(post)
    match = colour_match(post, pre, valid)
    sharp = match_sharpness(post, pre, valid)
    raw = compute_cues(post, pre, match)
    fixed = compute_cues(post, pre, match, sharp)
    d_structure = 3
    assert fixed[d_structure].mean() < 0.5 * raw[d_structure].mean()
    # the single-image cues still describe the unblurred post image
    assert np.array_equal(fixed[7:17], raw[7:17])

"""Fixtures for the damage tests: one small generated scene (held out from training) and plain image pairs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

#: Held-out scene: seeds < 100 train the model, >= 1000 evaluate it; 2001 is for these tests only.
TEST_EVENT, TEST_SEED, TEST_SIZE_M, TEST_GSD_CM = "earthquake", 2001, 160.0, 5.0


@pytest.fixture(scope="session")
def quake_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from uavops.scene import make_scene

    out = tmp_path_factory.mktemp("quake_scene")
    make_scene(event=TEST_EVENT, location="almaty", size_m=TEST_SIZE_M, gsd_cm=TEST_GSD_CM, seed=TEST_SEED,
               out_dir=out)
    return out


@pytest.fixture(scope="session")
def quake_package(quake_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full package for the test scene with footprints (run once, inspected by several tests)."""
    from uavops.damage import DamageOptions, run_damage

    out = tmp_path_factory.mktemp("quake_pkg")
    run_damage(quake_scene / "post.tif", out, pre=quake_scene / "pre.tif", buildings=quake_scene / "buildings.geojson",
               options=DamageOptions(event="earthquake", producer="KG-MChS", progress=False))
    return out


def textured_image(seed: int, h: int = 480, w: int = 640) -> np.ndarray:
    """A plain RGB image with roofs, roads and vegetation-like texture (no georeference)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), (96, 120, 70), np.uint8)
    noise = cv2.GaussianBlur(rng.normal(0, 18, (h, w)).astype(np.float32), (0, 0), 2.0)
    img = np.clip(img.astype(np.float32) + noise[:, :, None], 0, 255).astype(np.uint8)
    cv2.rectangle(img, (0, h // 2 - 12), (w, h // 2 + 12), (70, 70, 75), -1)
    for _ in range(14):
        x, y = int(rng.integers(10, w - 70)), int(rng.integers(10, h - 60))
        colour = tuple(int(v) for v in rng.integers(90, 220, 3))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(30, 60)), y + int(rng.integers(25, 50))), colour, -1)
    return img


@pytest.fixture
def plain_pair(tmp_path: Path) -> tuple[Path, Path, tuple[int, int, int, int]]:
    """pre.png / post.png of the same size; the post has one roof replaced by rubble-like texture."""
    from uavops.damage.perturb import Nuisance, apply_nuisance

    pre = textured_image(5)
    post = apply_nuisance(pre, Nuisance(exposure=1.15, white_balance=(1.05, 1.0, 0.95)))
    rng = np.random.default_rng(9)
    box = (300, 100, 380, 170)
    x0, y0, x1, y1 = box
    rubble = rng.integers(60, 200, (y1 - y0, x1 - x0, 1)).repeat(3, axis=2).astype(np.uint8)
    post[y0:y1, x0:x1] = cv2.GaussianBlur(rubble, (3, 3), 0)
    a, b = tmp_path / "pre.png", tmp_path / "post.png"
    cv2.imwrite(str(a), pre[:, :, ::-1])
    cv2.imwrite(str(b), post[:, :, ::-1])
    return a, b, box

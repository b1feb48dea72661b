"""Seamless, seeded value noise defined on world coordinates.

The generator renders a scene in tiles; a texture must not show seams at tile borders and must
be identical whatever the tile size, so every noise value is a pure function of the pixel's
position in metres, the noise scale and a salt (hashed integer lattice, cubic interpolation).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["hash_uniform", "lattice_noise", "pixel_noise"]

_M1 = np.uint32(0x27D4EB2D)
_M2 = np.uint32(0x165667B1)
_M3 = np.uint32(0x9E3779B1)
_M4 = np.uint32(0x85EBCA77)


def _mix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(15))
    h = h * _M4
    h = h ^ (h >> np.uint32(13))
    h = h * _M1
    h = h ^ (h >> np.uint32(16))
    return h


def hash_uniform(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """A float32 in [-1, 1) for each integer lattice point (ix, iy); pure function of its inputs."""
    with np.errstate(over="ignore"):
        x = np.asarray(ix, dtype=np.int64).astype(np.uint32)
        y = np.asarray(iy, dtype=np.int64).astype(np.uint32)
        h = x * _M1 + y * _M2 + np.uint32(salt & 0xFFFFFFFF) * _M3
        h = _mix(h ^ (y * _M4))
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(2.0 / (1 << 24)) - np.float32(1.0)


def lattice_noise(col0: int, row0: int, width: int, height: int, gsd_m: float, scale_m: float,
                  salt: int, cubic: bool = True) -> np.ndarray:
    """Value noise in [-1, 1] (roughly) for a raster window, lattice spacing ``scale_m`` metres.

    Pixel (c, r) of the window has its centre at ((col0 + c + 0.5) * gsd_m, (row0 + r + 0.5) * gsd_m)
    in scene metres; the lattice is global, so neighbouring windows join without seams.
    """
    step = max(1.0, scale_m / gsd_m)  # lattice spacing in pixels (finer than a pixel would just average out)
    lx0 = int(np.floor((col0 + 0.5) / step)) - 2
    ly0 = int(np.floor((row0 + 0.5) / step)) - 2
    nx = int(np.ceil((col0 + width + 0.5) / step)) - lx0 + 3
    ny = int(np.ceil((row0 + height + 0.5) / step)) - ly0 + 3
    ix, iy = np.meshgrid(np.arange(lx0, lx0 + nx), np.arange(ly0, ly0 + ny))
    lattice = hash_uniform(ix, iy, salt)
    inv = 1.0 / step
    # window pixel (u, v) -> lattice index ((col0 + u + 0.5) / step - lx0, ...)
    m = np.array([[inv, 0.0, (col0 + 0.5) * inv - lx0], [0.0, inv, (row0 + 0.5) * inv - ly0]], dtype=np.float64)
    flags = (cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(lattice, m, (width, height), flags=flags, borderMode=cv2.BORDER_REFLECT)


def pixel_noise(col0: int, row0: int, width: int, height: int, salt: int) -> np.ndarray:
    """Independent per-pixel values in [-1, 1) keyed on global pixel indices (sensor-like grain)."""
    ix, iy = np.meshgrid(np.arange(col0, col0 + width), np.arange(row0, row0 + height))
    return hash_uniform(ix, iy, salt)

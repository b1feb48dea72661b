"""A scene on disk: the raster pair, the truth files and ``scene.json``, and how to read them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import Window

from ..errors import SceneError
from ..files import read_json
from ..geo import LocalProjection

__all__ = ["SCENE_FILES", "Scene", "load_scene"]

SCENE_FILES = {
    "pre": "pre.tif",
    "post": "post.tif",
    "mask": "damage_mask.tif",
    "buildings": "buildings.geojson",
    "events": "events.geojson",
    "meta": "scene.json",
}


@dataclass
class Scene:
    """A georeferenced scene: ``post.tif`` (always), ``pre.tif`` and truth (generated scenes only).

    Pixel ``(col, row)`` covers ``transform * (col, row)`` .. ``transform * (col + 1, row + 1)`` in the
    UTM CRS ``crs_epsg``; ``ground_amsl_m`` is the terrain height the virtual camera assumes.
    """

    root: Path
    meta: dict[str, Any]
    crs_epsg: int
    transform: Affine
    width_px: int
    height_px: int
    ground_amsl_m: float

    @property
    def gsd_m(self) -> float:
        return float(abs(self.transform.a))

    @property
    def gsd_cm(self) -> float:
        return self.gsd_m * 100.0

    @property
    def projection(self) -> LocalProjection:
        return LocalProjection(self.crs_epsg)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in metres of the scene CRS."""
        left, top = self.transform.c, self.transform.f
        return left, top - self.height_px * self.gsd_m, left + self.width_px * self.gsd_m, top

    def path(self, key: str) -> Path:
        """Path of one of the scene's files (``pre``, ``post``, ``mask``, ``buildings``, ``events``, ``meta``)."""
        return self.root / SCENE_FILES[key]

    @property
    def pre_path(self) -> Path:
        return self.path("pre")

    @property
    def post_path(self) -> Path:
        return self.path("post")

    @property
    def mask_path(self) -> Path:
        return self.path("mask")

    @property
    def buildings_path(self) -> Path:
        return self.path("buildings")

    @property
    def events_path(self) -> Path:
        return self.path("events")

    @property
    def has_truth(self) -> bool:
        return self.mask_path.is_file() and self.buildings_path.is_file()

    def xy_to_pixel(self, x_m: Any, y_m: Any) -> tuple[Any, Any]:
        """Scene-CRS metres -> continuous (col, row) with pixel centres at integers (OpenCV convention)."""
        left, _, _, top = self.bounds
        return (np.asarray(x_m) - left) / self.gsd_m - 0.5, (top - np.asarray(y_m)) / self.gsd_m - 0.5

    def read(self, which: str = "post", window: Window | None = None,
             out_shape: tuple[int, int] | None = None) -> np.ndarray:
        """Read a window of ``pre``/``post`` as (rows, cols, 3) uint8, optionally decimated to ``out_shape``.

        Decimation averages pixels (and uses the GeoTIFF's overviews when they exist), which is what a
        coarser camera pixel would integrate.
        """
        path = self.path(which)
        if not path.is_file():
            raise SceneError(f"The scene {self.root} has no {SCENE_FILES[which]}; make or import the scene again.")
        try:
            with rasterio.open(path) as ds:
                kwargs: dict[str, Any] = {"window": window}
                if out_shape is not None:
                    kwargs["out_shape"] = (ds.count, int(out_shape[0]), int(out_shape[1]))
                    kwargs["resampling"] = Resampling.average
                data = ds.read(**kwargs)
        except rasterio.errors.RasterioIOError as exc:
            raise SceneError(f"Cannot read {path} ({exc}); the scene file is damaged, make it again.") from None
        if data.shape[0] == 1:
            data = np.repeat(data, 3, axis=0)
        return cv2.merge([data[0], data[1], data[2]])  # band- to pixel-interleaved, much faster than numpy

    def read_mask(self, window: Window | None = None) -> np.ndarray:
        if not self.mask_path.is_file():
            raise SceneError(f"The scene {self.root} has no damage mask (an imported orthophoto has no truth).")
        with rasterio.open(self.mask_path) as ds:
            return ds.read(1, window=window)


def load_scene(root: str | Path) -> Scene:
    """Open a scene folder made by :func:`uavops.scene.make_scene` or ``uavops scene import``.

    Raises
    ------
    SceneError
        The folder is missing or holds no ``post.tif``.
    """
    root = Path(root)
    if not root.is_dir():
        raise SceneError(f"The scene folder {root} does not exist; make one with `uavops scene make`.")
    meta_path = root / SCENE_FILES["meta"]
    meta: dict[str, Any] = read_json(meta_path, "scene description") if meta_path.is_file() else {}
    post = root / SCENE_FILES["post"]
    if not post.is_file():
        raise SceneError(f"The scene folder {root} has no post.tif; make it with `uavops scene make` "
                         "or import an orthophoto with `uavops scene import`.")
    with rasterio.open(post) as ds:
        if ds.crs is None or not ds.crs.to_epsg():
            raise SceneError(f"{post} has no EPSG coordinate system; re-import it with `uavops scene import`.")
        epsg = int(ds.crs.to_epsg())
        transform, width, height = ds.transform, ds.width, ds.height
    if abs(transform.b) > 1e-12 or abs(transform.d) > 1e-12 or abs(abs(transform.a) - abs(transform.e)) > 1e-9:
        raise SceneError(f"{post} is rotated or has non-square pixels; re-import it with `uavops scene import`.")
    return Scene(root, meta, epsg, transform, width, height, float(meta.get("ground_amsl_m", 0.0)))

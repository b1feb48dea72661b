"""Reading the post mosaic and the pre reference onto one working grid.

Why a working grid: damage is a building-scale question (metres), while mosaics come at 1-5 cm/px.
Everything downstream (co-registration, cues, the model) runs on a grid of about 20 cm/px that is
derived from the post image; rasterio reads it decimated (GDAL keeps only a block cache in memory,
so a 10 000 x 10 000 px mosaic never sits in RAM at full resolution). The pre image, in whatever CRS
and resolution it comes, is reprojected onto exactly that grid with a WarpedVRT.

Plain images (PNG/JPEG, or TIFF without georeference) become a *pixel grid*: same pipeline, pixel
coordinates instead of map coordinates, and they must be the same size.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from ..errors import DetectionError, InputError

__all__ = ["DEFAULT_WORK_GSD_M", "PLAIN_SUFFIXES", "ImagePair", "WorkGrid", "load_pair"]

PLAIN_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}


#: Working pixel size (m) for georeferenced input; on a pixel grid, the size that sizes in metres
#: (smallest parts, radii) are read at.
DEFAULT_WORK_GSD_M = 0.2


@dataclass
class WorkGrid:
    """The grid every array of the pipeline lives on.

    ``transform``/``crs`` are None in pixel-grid mode; ``scale`` is full-resolution pixels per working pixel.
    """

    width: int
    height: int
    scale: float
    full_width: int
    full_height: int
    transform: Affine | None = None
    crs: CRS | None = None
    gsd_m: float | None = None          # working pixel size in metres (None on a pixel grid)
    native_gsd_m: float | None = None   # post image pixel size in metres

    @property
    def georeferenced(self) -> bool:
        return self.transform is not None and self.crs is not None

    @property
    def pixel_area_m2(self) -> float | None:
        return None if self.gsd_m is None else self.gsd_m * self.gsd_m


@dataclass
class ImagePair:
    grid: WorkGrid
    post: np.ndarray                       # (H, W, 3) uint8 RGB
    post_valid: np.ndarray                 # (H, W) bool
    pre: np.ndarray | None = None
    pre_valid: np.ndarray | None = None
    post_time: datetime | None = None
    pre_time: datetime | None = None
    notes: list[str] = field(default_factory=list)


def _is_plain(path: Path) -> bool:
    if path.suffix.lower() in PLAIN_SUFFIXES:
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                return ds.crs is None or ds.transform == Affine.identity()
    except RasterioIOError:
        return True


def _check_file(path: Path, what: str) -> None:
    if not path.exists():
        raise InputError(f"The {what} image {path} does not exist; check the path.")
    if path.is_dir():
        raise InputError(f"The {what} image {path} is a folder; name the GeoTIFF or image file inside it.")


def _to_rgb_u8(bands: np.ndarray) -> np.ndarray:
    """(C, H, W) any dtype -> (H, W, 3) uint8; 1 band is repeated, a 4th band is ignored (alpha -> mask)."""
    if bands.shape[0] == 1:
        bands = np.repeat(bands, 3, axis=0)
    bands = bands[:3]
    if bands.dtype != np.uint8:
        b = bands.astype(np.float32)
        hi = float(np.percentile(b, 99.5)) or 1.0
        lo = float(min(0.0, np.percentile(b, 0.5)))
        bands = np.clip((b - lo) / max(hi - lo, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(bands, 0, -1))


def _tiff_time(ds: rasterio.io.DatasetReader) -> datetime | None:
    tags = ds.tags()
    for key in ("TIFFTAG_DATETIME", "ACQUISITION_START", "acquisition_start", "DATETIME"):
        value = tags.get(key)
        if not value:
            continue
        for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
            try:
                dt = datetime.strptime(value.strip().replace("Z", "+0000"), fmt)
                return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
            except ValueError:
                continue
    return None


def _gsd_m(ds: rasterio.io.DatasetReader) -> float:
    res_x, res_y = abs(ds.transform.a), abs(ds.transform.e)
    res = math.sqrt(res_x * res_y)
    if ds.crs is not None and ds.crs.is_geographic:
        lat = (ds.bounds.top + ds.bounds.bottom) / 2
        res *= 111_320.0 * math.sqrt(math.cos(math.radians(lat)))
    elif ds.crs is not None and ds.crs.linear_units_factor:
        res *= float(ds.crs.linear_units_factor[1])
    return res


def _read_plain(path: Path, what: str) -> np.ndarray:
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(path) as ds:
                    return _to_rgb_u8(ds.read())
        except RasterioIOError:
            raise InputError(f"The {what} image {path} cannot be read as an image; give a GeoTIFF, PNG or JPEG.") from None
    if data.ndim == 2:
        data = np.repeat(data[:, :, None], 3, axis=2)
    if data.dtype != np.uint8:
        data = _to_rgb_u8(np.moveaxis(data[:, :, :3], -1, 0))[:, :, ::-1]
    return np.ascontiguousarray(data[:, :, 2::-1])  # BGR(A) -> RGB


def load_pair(post_path: str | Path, pre_path: str | Path | None = None, *, work_gsd_m: float = DEFAULT_WORK_GSD_M,
              max_plain_side_px: int = 1000) -> ImagePair:
    """Read the post image (and the optional pre image) onto the working grid.

    Parameters
    ----------
    post_path, pre_path
        GeoTIFFs (any CRS; the pre image is reprojected onto the post grid) or plain PNG/JPEG images
        of the same size (pixel-grid mode).
    work_gsd_m
        Working pixel size in metres for georeferenced input (never finer than the post image).
    max_plain_side_px
        Longest working side for plain images.

    Raises
    ------
    InputError
        A file is missing or unreadable.
    DetectionError
        The two images do not overlap, or one is georeferenced and the other is not, or plain
        images differ in size.
    """
    post_path = Path(post_path)
    _check_file(post_path, "post")
    if pre_path is not None:
        pre_path = Path(pre_path)
        _check_file(pre_path, "pre")
    post_plain = _is_plain(post_path)
    pre_plain = _is_plain(pre_path) if pre_path is not None else post_plain
    if pre_path is not None and post_plain != pre_plain:
        geo, plain = (pre_path, post_path) if post_plain else (post_path, pre_path)
        _read_plain(plain, "post" if plain is post_path else "pre")  # not an image at all: say that instead
        raise DetectionError(f"{geo.name} is georeferenced but {plain.name} is not; give two GeoTIFFs, "
                             "or two plain images of the same size.")
    if post_plain:
        return _load_plain(post_path, pre_path, max_plain_side_px)
    return _load_geo(post_path, pre_path, work_gsd_m)


def _load_plain(post_path: Path, pre_path: Path | None, max_side: int) -> ImagePair:
    post_full = _read_plain(post_path, "post")
    h, w = post_full.shape[:2]
    pre_full = None
    if pre_path is not None:
        pre_full = _read_plain(pre_path, "pre")
        if pre_full.shape[:2] != (h, w):
            ph, pw = pre_full.shape[:2]
            raise DetectionError(f"The pre image is {pw}x{ph} px but the post image is {w}x{h} px; plain images "
                                 "must be the same size (crop/resize one, or give GeoTIFFs).")
    scale = max(1.0, max(h, w) / float(max_side))
    ww, wh = max(1, round(w / scale)), max(1, round(h / scale))
    grid = WorkGrid(width=ww, height=wh, scale=scale, full_width=w, full_height=h)

    def shrink(img: np.ndarray) -> np.ndarray:
        return img if (ww, wh) == (w, h) else cv2.resize(img, (ww, wh), interpolation=cv2.INTER_AREA)

    post = shrink(post_full)
    pair = ImagePair(grid=grid, post=post, post_valid=np.ones((wh, ww), bool))
    if pre_full is not None:
        pair.pre = shrink(pre_full)
        pair.pre_valid = np.ones((wh, ww), bool)
    return pair


def _load_geo(post_path: Path, pre_path: Path | None, work_gsd_m: float) -> ImagePair:
    try:
        post_ds = rasterio.open(post_path)
    except RasterioIOError as exc:
        raise InputError(f"The post image {post_path} cannot be read ({exc}); give a GeoTIFF.") from None
    with post_ds:
        native = _gsd_m(post_ds)
        scale = max(1.0, work_gsd_m / native) if native > 0 else 1.0
        ww = max(1, round(post_ds.width / scale))
        wh = max(1, round(post_ds.height / scale))
        transform = post_ds.transform @ Affine.scale(post_ds.width / ww, post_ds.height / wh)
        grid = WorkGrid(width=ww, height=wh, scale=post_ds.width / ww, full_width=post_ds.width,
                        full_height=post_ds.height, transform=transform, crs=post_ds.crs,
                        gsd_m=native * post_ds.width / ww, native_gsd_m=native)
        bands = post_ds.read(indexes=list(range(1, min(3, post_ds.count) + 1)), out_shape=(min(3, post_ds.count), wh, ww),
                             resampling=Resampling.average)
        mask = post_ds.dataset_mask(out_shape=(wh, ww), resampling=Resampling.nearest)
        pair = ImagePair(grid=grid, post=_to_rgb_u8(bands), post_valid=mask > 0, post_time=_tiff_time(post_ds))
        if pre_path is None:
            return pair
        try:
            pre_ds = rasterio.open(pre_path)
        except RasterioIOError as exc:
            raise InputError(f"The pre image {pre_path} cannot be read ({exc}); give a GeoTIFF.") from None
        with pre_ds:
            pb = transform_bounds(pre_ds.crs, post_ds.crs, *pre_ds.bounds, densify_pts=21)
            qb = post_ds.bounds
            ix = min(pb[2], qb.right) - max(pb[0], qb.left)
            iy = min(pb[3], qb.top) - max(pb[1], qb.bottom)
            if ix <= 0 or iy <= 0:
                raise DetectionError(f"The pre image {pre_path.name} and the post image {post_path.name} do not "
                                     "overlap on the ground; give a pre image of the same place.")
            with WarpedVRT(pre_ds, crs=post_ds.crs, transform=transform, width=ww, height=wh,
                           resampling=Resampling.bilinear) as vrt:
                count = min(3, pre_ds.count)
                pre_bands = vrt.read(indexes=list(range(1, count + 1)))
                pre_mask = vrt.dataset_mask()
            if not any(MaskFlags.alpha in flags for flags in pre_ds.mask_flag_enums):
                # Without an alpha band the warped mask says "valid" everywhere, also beyond the pre
                # image's edge (a basemap without nodata, or with an internal mask), and its black fill
                # would be compared with the post image. A warp with an added alpha band marks what the
                # pre image covers (fully: edge pixels half blended with the fill are left out). The
                # pixel values come from the warp above: GDAL's alpha-weighted resampling moves a few
                # of them by one grey level, and the detector's figures should not move with them.
                with WarpedVRT(pre_ds, crs=post_ds.crs, transform=transform, width=ww, height=wh,
                               resampling=Resampling.bilinear, add_alpha=True) as avrt:
                    pre_mask = np.minimum(pre_mask, avrt.read(avrt.count))
                pre_mask[pre_mask < 255] = 0
            pair.pre = _to_rgb_u8(pre_bands)
            pair.pre_valid = pre_mask > 0
            pair.pre_time = _tiff_time(pre_ds)
            overlap = float((pair.pre_valid & pair.post_valid).mean())
            if overlap < 0.01:
                raise DetectionError(f"The pre image {pre_path.name} covers less than 1 % of the post image; "
                                     "give a pre image of the same place.")
            if overlap < 0.5:
                pair.notes.append(f"the pre image covers only {overlap:.0%} of the post image; the rest is "
                                  "assessed from the post image alone")
    return pair

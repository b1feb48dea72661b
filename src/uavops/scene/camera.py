"""The virtual camera: a perspective photo of a scene from a vehicle pose, and drone-style JPEGs.

Conventions (one, used everywhere in uavops)
-------------------------------------------
* ``CameraPose(lat_deg, lon_deg, alt_amsl_m, roll_deg, pitch_deg, yaw_deg)``: WGS84 position and the
  **aircraft body attitude as MAVLink ATTITUDE reports it** (NED, ZYX Euler: yaw from true north
  clockwise, pitch nose-up positive, roll right-wing-down positive).
* The camera is fixed to the body looking straight down: with roll = pitch = 0 it is nadir, the top
  of the image points to the aircraft's nose and image right to its right wing. A nose-up pitch
  therefore makes the camera look ahead of nadir.
* In the JPEG, ``drone-dji:Flight{Roll,Pitch,Yaw}Degree`` are the body attitude and
  ``drone-dji:Gimbal{Roll,Pitch,Yaw}Degree`` the camera in DJI's gimbal convention, i.e.
  ``GimbalPitchDegree = pitch - 90`` (−90 = nadir), ``GimbalRollDegree = roll``, ``GimbalYawDegree = yaw``.
  That is exactly how OpenDroneMap turns DJI gimbal angles into a camera rotation, so readers treat
  these photos and real DJI photos alike.
* Pixel coordinates follow OpenCV: pixel centres at integers, principal point at ``((W-1)/2, (H-1)/2)``;
  lens distortion is Brown–Conrady (k1, k2, k3, p1, p2) as in OpenCV.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from pyproj import Transformer
from rasterio.windows import Window

from ..errors import ImageryError
from ..geo import LocalProjection
from .model import Scene

__all__ = [
    "DEFAULT_DISTORTION",
    "CameraPose",
    "LensDistortion",
    "Radiometry",
    "camera_matrix",
    "gimbal_angles",
    "photo_footprint_lonlat",
    "pixel_to_lonlat",
    "project_lonlat",
    "read_photo_meta",
    "render_photo",
    "rotation_enu_from_camera",
    "write_photo",
]


@dataclass(frozen=True)
class CameraPose:
    """Where the aircraft is and how it is oriented when the photo is taken (see module docstring)."""

    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        vals = (self.lat_deg, self.lon_deg, self.alt_amsl_m, self.roll_deg, self.pitch_deg, self.yaw_deg)
        if not all(math.isfinite(v) for v in vals) or not (-90 <= self.lat_deg <= 90 and -180 <= self.lon_deg <= 180):
            raise ImageryError(f"Camera pose {vals} is not a valid position/attitude; check latitude/longitude order.")


@dataclass(frozen=True)
class LensDistortion:
    """Brown–Conrady coefficients in OpenCV's order and meaning (normalised image coordinates)."""

    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    p1: float = 0.0
    p2: float = 0.0

    def as_array(self) -> np.ndarray:
        return np.array([self.k1, self.k2, self.p1, self.p2, self.k3], dtype=np.float64)

    def distort(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r2 = x * x + y * y
        radial = 1 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xd = x * radial + 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
        yd = y * radial + self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
        return xd, yd

    def undistort(self, xd: np.ndarray, yd: np.ndarray, iterations: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """Invert :meth:`distort` by fixed-point iteration (converges for real lenses' small coefficients)."""
        x, y = xd.copy(), yd.copy()
        for _ in range(iterations):
            r2 = x * x + y * y
            radial = 1 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
            dx = 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
            dy = self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
            x = (xd - dx) / radial
            y = (yd - dy) / radial
        return x, y

    @property
    def is_zero(self) -> bool:
        return not any((self.k1, self.k2, self.k3, self.p1, self.p2))


#: A mild barrel distortion typical of small drone cameras (after in-camera correction).
DEFAULT_DISTORTION = LensDistortion(k1=-0.03, k2=0.015, k3=-0.002, p1=0.0004, p2=-0.0003)


@dataclass(frozen=True)
class Radiometry:
    """Photometric realism; every random draw comes from the ``rng`` given to :func:`render_photo`."""

    vignetting: float = 0.28            # fractional fall-off at the image corners
    exposure_sigma: float = 0.06        # per-photo exposure gain spread (relative)
    white_balance_sigma: float = 0.025  # per-channel gain spread
    noise_dn: float = 2.5               # sensor noise, digital numbers (0..255)
    shutter_s: float = 1 / 800          # exposure time for motion blur


def camera_matrix(camera: Any) -> np.ndarray:
    """OpenCV intrinsic matrix (square pixels, principal point at the image centre)."""
    f = float(camera.focal_px)
    return np.array([[f, 0, (camera.image_width_px - 1) / 2], [0, f, (camera.image_height_px - 1) / 2], [0, 0, 1]])


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


_ENU_FROM_NED = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, -1]])
# camera (OpenCV: x right, y down the image, z along the optical axis) in body FRD axes
_BODY_FROM_CAM = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])


def rotation_enu_from_camera(pose: CameraPose) -> np.ndarray:
    """3×3 rotation taking camera-frame vectors to local East-North-Up at the camera."""
    r_ned_body = _rz(math.radians(pose.yaw_deg)) @ _ry(math.radians(pose.pitch_deg)) @ _rx(math.radians(pose.roll_deg))
    return _ENU_FROM_NED @ r_ned_body @ _BODY_FROM_CAM


def gimbal_angles(pose: CameraPose) -> tuple[float, float, float]:
    """(GimbalRollDegree, GimbalPitchDegree, GimbalYawDegree) for the body-fixed nadir camera."""
    yaw = (pose.yaw_deg + 180.0) % 360.0 - 180.0
    return pose.roll_deg, pose.pitch_deg - 90.0, yaw


# --- exact geodesy (used to predict where a ground point appears) -------------------------

@lru_cache(maxsize=4)
def _ecef() -> tuple[Transformer, Transformer]:
    return (Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True),
            Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True))


def _enu_basis(lat_deg: float, lon_deg: float) -> np.ndarray:
    la, lo = math.radians(lat_deg), math.radians(lon_deg)
    return np.array([[-math.sin(lo), math.cos(lo), 0.0],
                     [-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)],
                     [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]])


def project_lonlat(pose: CameraPose, camera: Any, lon_deg: Any, lat_deg: Any, alt_amsl_m: Any,
                   distortion: LensDistortion | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (u, v) where ground points appear, by exact ECEF geometry (independent of the renderer).

    Heights are taken on the same vertical datum as the pose; points behind the camera give NaN.
    """
    fwd, _ = _ecef()
    cx, cy, cz = fwd.transform(pose.lon_deg, pose.lat_deg, pose.alt_amsl_m)
    px, py, pz = fwd.transform(np.asarray(lon_deg, float), np.asarray(lat_deg, float), np.asarray(alt_amsl_m, float))
    d_ecef = np.stack([np.asarray(px) - cx, np.asarray(py) - cy, np.asarray(pz) - cz], axis=-1)
    d_enu = d_ecef @ _enu_basis(pose.lat_deg, pose.lon_deg).T
    d_cam = d_enu @ rotation_enu_from_camera(pose)  # = R^T d
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(d_cam[..., 2] > 0, d_cam[..., 0] / d_cam[..., 2], np.nan)
        y = np.where(d_cam[..., 2] > 0, d_cam[..., 1] / d_cam[..., 2], np.nan)
    k = camera_matrix(camera)
    if distortion is not None and not distortion.is_zero:
        # the Brown polynomial folds back far outside the field of view; such points are not seen
        cu, cv = k[0, 2] / k[0, 0], k[1, 2] / k[1, 1]
        ux, uy = distortion.undistort(np.array([cu]), np.array([cv]))
        r_max = 1.1 * float(np.hypot(ux[0], uy[0]))
        far = np.hypot(x, y) > r_max
        x, y = distortion.distort(x, y)
        x, y = np.where(far, np.nan, x), np.where(far, np.nan, y)
    return k[0, 0] * x + k[0, 2], k[1, 1] * y + k[1, 2]


# --- fast local mapping used by the renderer ---------------------------------------------

@dataclass
class _GroundFrame:
    """Local affine map from ENU metres (at the camera) to the scene's UTM metres."""

    origin_en: np.ndarray
    origin_xy: np.ndarray
    jac: np.ndarray

    def to_xy(self, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        de, dn = e - self.origin_en[0], n - self.origin_en[1]
        return (self.origin_xy[0] + self.jac[0, 0] * de + self.jac[0, 1] * dn,
                self.origin_xy[1] + self.jac[1, 0] * de + self.jac[1, 1] * dn)

    def to_en(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inv = np.linalg.inv(self.jac)
        dx, dy = x - self.origin_xy[0], y - self.origin_xy[1]
        return (self.origin_en[0] + inv[0, 0] * dx + inv[0, 1] * dy,
                self.origin_en[1] + inv[1, 0] * dx + inv[1, 1] * dy)


def _ground_frame(pose: CameraPose, epsg: int, ground_m: float, centre_en: tuple[float, float]) -> _GroundFrame:
    """UTM of ENU points on the ground near ``centre_en`` via exact transforms of 5 points (central differences)."""
    fwd, inv = _ecef()
    cx, cy, cz = fwd.transform(pose.lon_deg, pose.lat_deg, pose.alt_amsl_m)
    basis = _enu_basis(pose.lat_deg, pose.lon_deg)
    step = 50.0
    e0, n0 = centre_en
    offs = np.array([[0, 0], [step, 0], [-step, 0], [0, step], [0, -step]], dtype=np.float64)
    en = offs + np.array([e0, n0])
    up = np.full(len(en), ground_m - pose.alt_amsl_m)
    enu = np.stack([en[:, 0], en[:, 1], up], 1)
    ecef = enu @ basis + np.array([cx, cy, cz])
    lon, lat, _ = inv.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    x, y = LocalProjection(epsg).to_xy(np.asarray(lon), np.asarray(lat))
    x, y = np.asarray(x), np.asarray(y)
    jac = np.array([[(x[1] - x[2]) / (2 * step), (x[3] - x[4]) / (2 * step)],
                    [(y[1] - y[2]) / (2 * step), (y[3] - y[4]) / (2 * step)]])
    return _GroundFrame(np.array([e0, n0]), np.array([x[0], y[0]]), jac)


def _coarse_grid(width: int, height: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample positions whose bilinear upsampling by ``step`` (cv2.resize) lands exactly on pixel centres."""
    nx = -(-width // step) + 2
    ny = -(-height // step) + 2
    u = (np.arange(nx) - 1 + 0.5) * step - 0.5
    v = (np.arange(ny) - 1 + 0.5) * step - 0.5
    return np.meshgrid(u, v)


def _rays_to_ground(pose: CameraPose, camera: Any, u: np.ndarray, v: np.ndarray, distortion: LensDistortion | None,
                    ground_m: float, dem: Callable[[np.ndarray, np.ndarray], np.ndarray] | None,
                    frame: _GroundFrame | None, epsg: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scene-CRS (x, y) where each pixel's ray meets the ground, and a validity mask."""
    k = camera_matrix(camera)
    xd, yd = (u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1]
    x, y = distortion.undistort(xd, yd) if distortion is not None and not distortion.is_zero else (xd, yd)
    r = rotation_enu_from_camera(pose)
    de = r[0, 0] * x + r[0, 1] * y + r[0, 2]
    dn = r[1, 0] * x + r[1, 1] * y + r[1, 2]
    du = r[2, 0] * x + r[2, 1] * y + r[2, 2]
    valid = du < -1e-3
    dz = np.where(valid, du, -1e-3)
    h = np.full(u.shape, ground_m - pose.alt_amsl_m)
    t = h / dz
    if frame is None:
        # centre the local affine map on the footprint, not under the aircraft, for oblique views
        tc = np.where(valid, t, np.nan)
        centre = (float(np.nanmedian(de * tc)) if valid.any() else 0.0, float(np.nanmedian(dn * tc)) if valid.any() else 0.0)
        frame = _ground_frame(pose, epsg, ground_m, centre)
    gx, gy = frame.to_xy(de * t, dn * t)
    if dem is not None:
        for _ in range(4):
            hz = np.asarray(dem(gx, gy), dtype=np.float64) - pose.alt_amsl_m
            t = hz / dz
            gx, gy = frame.to_xy(de * t, dn * t)
    valid &= t > 0
    return gx, gy, valid


def pixel_to_lonlat(pose: CameraPose, camera: Any, u: Any, v: Any, ground_amsl_m: float,
                    distortion: LensDistortion | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ground lon/lat seen at image pixel (u, v) (flat ground at ``ground_amsl_m``)."""
    u, v = np.atleast_1d(np.asarray(u, float)), np.atleast_1d(np.asarray(v, float))
    epsg = LocalProjection.for_point(pose.lon_deg, pose.lat_deg).epsg
    gx, gy, valid = _rays_to_ground(pose, camera, u, v, distortion, ground_amsl_m, None, None, epsg)
    lon, lat = LocalProjection(epsg).to_lonlat(gx, gy)
    return np.where(valid, lon, np.nan), np.where(valid, lat, np.nan)


def photo_footprint_lonlat(pose: CameraPose, camera: Any, ground_amsl_m: float, n_per_side: int = 8) -> list[tuple[float, float]]:
    """Closed ring (lon, lat) of the ground the photo covers (flat ground, no distortion)."""
    w, h = camera.image_width_px - 1, camera.image_height_px - 1
    t = np.linspace(0, 1, n_per_side, endpoint=False)
    u = np.concatenate([t * w, np.full_like(t, w), w - t * w, np.zeros_like(t)])
    v = np.concatenate([np.zeros_like(t), t * h, np.full_like(t, h), h - t * h])
    lon, lat = pixel_to_lonlat(pose, camera, u, v, ground_amsl_m)
    ring = [(float(a), float(b)) for a, b in zip(lon, lat)]
    return ring + ring[:1]


def load_dem(path: str | Any, scene_epsg: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A terrain model GeoTIFF (heights AMSL, any CRS) as ``f(x_m, y_m) -> height`` in the scene CRS.

    The DEM is read once into memory (DEMs for a survey area are small) and sampled bilinearly;
    points outside it get the nearest edge value.

    Raises
    ------
    ImageryError
        The file cannot be read as a single-band raster with a coordinate system.
    """
    import rasterio
    from scipy.ndimage import map_coordinates

    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise ImageryError(f"The DEM {path} has no coordinate system; georeference it first.")
            heights = ds.read(1, masked=True).astype(np.float64).filled(np.nan)
            inv = ~ds.transform
            dem_crs = ds.crs
    except rasterio.errors.RasterioIOError as exc:
        raise ImageryError(f"Cannot read the DEM {path} ({exc}); give a GeoTIFF terrain model.") from None
    if np.isnan(heights).all():
        raise ImageryError(f"The DEM {path} holds no heights.")
    heights = np.where(np.isnan(heights), np.nanmean(heights), heights)
    to_dem = None
    if dem_crs.to_epsg() != scene_epsg:
        to_dem = Transformer.from_crs(f"EPSG:{scene_epsg}", dem_crs, always_xy=True)

    def dem(x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        x, y = np.asarray(x_m, float), np.asarray(y_m, float)
        if to_dem is not None:
            x, y = to_dem.transform(x, y)
        col, row = inv * (x, y)
        coords = np.stack([np.ravel(row) - 0.5, np.ravel(col) - 0.5])
        return map_coordinates(heights, coords, order=1, mode="nearest").reshape(np.shape(x))

    return dem


# --- rendering -----------------------------------------------------------------------------

_OUTSIDE_RGB = (112, 108, 98)


@lru_cache(maxsize=2)
def _vignette_map(height: int, width: int, strength: float) -> np.ndarray:
    """Natural fall-off (≈ cos⁴ of the field angle, scaled to ``strength`` at the corners) × 128, uint8 RGB."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rx = (x - (width - 1) / 2) / ((width - 1) / 2)
    ry = (y - (height - 1) / 2) / ((width - 1) / 2)
    r2 = (rx * rx + ry * ry) / (1 + (height / width) ** 2)
    vig = np.clip((1.0 - strength * r2 ** 1.3) * 128.0, 0, 255).round().astype(np.uint8)
    return np.ascontiguousarray(np.repeat(vig[..., None], 3, axis=2))


@lru_cache(maxsize=2)
def _noise_pattern(height: int, width: int, noise_dn: float) -> tuple[np.ndarray, int]:
    """A uint8 Gaussian noise plane of mean ``offset`` and std ``noise_dn``, made once per size.

    Each photo uses it at a random offset (``out = img + pattern - offset`` in one saturating pass);
    drawing 60 MB of fresh random numbers per 20 MP frame would cost more than the rendering.
    """
    rng = np.random.default_rng(12345)
    offset = int(math.ceil(4 * noise_dn))
    tile = np.clip(np.round(rng.normal(offset, noise_dn, size=(509, 1021, 3))), 0, 255).astype(np.uint8)
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)  # prime-ish tile: no visible period
    pattern = np.ascontiguousarray(np.tile(tile, reps)[:height, :width])
    return pattern, offset


def render_photo(scene: Scene, pose: CameraPose, camera: Any, ground_amsl_m: float | None = None, *,
                 distortion: bool | LensDistortion = True, radiometry: bool | Radiometry = True,
                 rng: int | np.random.Generator | None = None, which: str = "post",
                 velocity_enu_mps: tuple[float, float, float] | None = None,
                 dem: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                 grid_step_px: int = 16) -> np.ndarray:
    """Render the photo ``camera`` takes from ``pose`` over ``scene`` (RGB uint8, H×W×3).

    Parameters
    ----------
    ground_amsl_m : terrain height (m AMSL) of the flat ground; default the scene's ``ground_amsl_m``.
    distortion : True for :data:`DEFAULT_DISTORTION`, False for an ideal pinhole, or coefficients.
    radiometry : True for :class:`Radiometry` defaults (vignetting, exposure/white balance, noise,
        motion blur), False for the geometric image only.
    rng : seed or generator for the per-photo exposure/white-balance draws.
    which : ``"post"`` (default) or ``"pre"`` image of the scene.
    velocity_enu_mps : aircraft velocity (east, north, up) for motion blur over the shutter time.
    dem : optional ``f(x_m, y_m) -> height AMSL`` in the scene CRS for relief (ray marching refines
        the flat-ground intersection).

    Raises
    ------
    ImageryError
        The camera is below the ground or looks at the sky.
    """
    ground = scene.ground_amsl_m if ground_amsl_m is None else float(ground_amsl_m)
    if pose.alt_amsl_m <= ground + 0.5:
        raise ImageryError(f"The camera at {pose.alt_amsl_m:.1f} m AMSL is not above the ground ({ground:.1f} m AMSL); "
                           "check the altitude reference (AMSL, not relative).")
    lens = DEFAULT_DISTORTION if distortion is True else (distortion or None)
    radio = Radiometry() if radiometry is True else (radiometry or None)
    W, H = int(camera.image_width_px), int(camera.image_height_px)
    step = max(2, int(grid_step_px))
    gu, gv = _coarse_grid(W, H, step)
    gx, gy, valid = _rays_to_ground(pose, camera, gu, gv, lens, ground, dem, None, scene.crs_epsg)
    if not valid.any():
        raise ImageryError("The camera does not see the ground from this attitude; check roll/pitch.")
    col, row = scene.xy_to_pixel(gx, gy)
    # the scene window the footprint covers, and how much to decimate it
    vc, vr = col[valid], row[valid]
    c0 = max(0, int(math.floor(vc.min())) - 2)
    r0 = max(0, int(math.floor(vr.min())) - 2)
    c1 = min(scene.width_px, int(math.ceil(vc.max())) + 3)
    r1 = min(scene.height_px, int(math.ceil(vr.max())) + 3)
    outside = np.array(_OUTSIDE_RGB, np.uint8)
    if c1 <= c0 or r1 <= r0:
        img = np.empty((H, W, 3), np.uint8)
        img[:] = outside
        return _radiometry(img, camera, radio, rng, None) if radio else img
    dcol = np.hypot(np.diff(col, axis=1), np.diff(row, axis=1))[valid[:, 1:] & valid[:, :-1]] / step
    drow = np.hypot(np.diff(col, axis=0), np.diff(row, axis=0))[valid[1:, :] & valid[:-1, :]] / step
    fp = min(float(dcol.min()) if dcol.size else 1.0, float(drow.min()) if drow.size else 1.0)
    factor = max(1, int(math.floor(fp)))
    if factor > 1:
        # align the window to the decimation grid so GeoTIFF overview pixels line up with ours
        c0, r0 = (c0 // factor) * factor, (r0 // factor) * factor
        c1 = min(scene.width_px, -(-c1 // factor) * factor)
        r1 = min(scene.height_px, -(-r1 // factor) * factor)
    win_w, win_h = c1 - c0, r1 - r0
    out_w, out_h = max(1, -(-win_w // factor)), max(1, -(-win_h // factor))
    window = Window(c0, r0, win_w, win_h)
    src = scene.read(which, window, out_shape=(out_h, out_w) if factor > 1 else None)
    fx, fy = win_w / src.shape[1], win_h / src.shape[0]
    mc = np.where(valid, (col + 0.5 - c0) / fx - 0.5, -10.0).astype(np.float32)
    mr = np.where(valid, (row + 0.5 - r0) / fy - 0.5, -10.0).astype(np.float32)
    coarse = np.dstack([mc, mr])
    # bilinear upsampling of the padded coarse grid (cv2.resize puts coarse sample j at photo pixel
    # (j - 1 + 0.5) * step - 0.5, exactly where it was computed), then drop the padding
    big = cv2.resize(coarse, (coarse.shape[1] * step, coarse.shape[0] * step), interpolation=cv2.INTER_LINEAR)
    maps = big[step:step + H, step:step + W]  # a strided view; OpenCV reads it without copying
    img = cv2.remap(src, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                    borderValue=tuple(int(x) for x in _OUTSIDE_RGB))
    if not radio:
        return img
    blur_px = None
    if velocity_enu_mps is not None:
        blur_px = _motion_blur_vector(pose, camera, velocity_enu_mps, radio.shutter_s, ground)
    return _radiometry(img, camera, radio, rng, blur_px)


def _motion_blur_vector(pose: CameraPose, camera: Any, vel: tuple[float, float, float], shutter_s: float,
                        ground_m: float) -> tuple[float, float]:
    """Image-plane smear (px) of the ground at the image centre during the exposure."""
    r = rotation_enu_from_camera(pose)
    h = pose.alt_amsl_m - ground_m
    move = np.asarray(vel, float) * shutter_s
    # ground appears to move opposite to the aircraft; project the displacement at the centre ray
    d_cam = r.T @ (-move)
    f = float(camera.focal_px)
    return float(f * d_cam[0] / h), float(f * d_cam[1] / h)


def _radiometry(img: np.ndarray, camera: Any, radio: Radiometry, rng: int | np.random.Generator | None,
                blur_px: tuple[float, float] | None) -> np.ndarray:
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    H, W = img.shape[:2]
    if blur_px is not None:
        length = math.hypot(*blur_px)
        if length >= 0.5:
            n = int(math.ceil(length)) | 1
            kern = np.zeros((n, n), np.float32)
            c = n // 2
            cv2.line(kern, (int(round(c - blur_px[0] / 2 * (n - 1) / max(length, 1e-9))),
                            int(round(c - blur_px[1] / 2 * (n - 1) / max(length, 1e-9)))),
                     (int(round(c + blur_px[0] / 2 * (n - 1) / max(length, 1e-9))),
                      int(round(c + blur_px[1] / 2 * (n - 1) / max(length, 1e-9)))), 1.0, 1)
            kern /= kern.sum()
            img = cv2.filter2D(img, -1, kern, borderType=cv2.BORDER_REFLECT)
    exposure = float(np.clip(gen.normal(1.0, radio.exposure_sigma), 0.75, 1.3))
    wb = np.clip(gen.normal(1.0, radio.white_balance_sigma, 3), 0.9, 1.1)
    # white balance per channel, then vignetting and exposure in one pass with a cached fall-off map
    img = cv2.multiply(img, (float(wb[0]), float(wb[1]), float(wb[2]), 0.0))
    out = cv2.multiply(img, _vignette_map(H, W, float(radio.vignetting)), scale=exposure / 128.0)
    if radio.noise_dn > 0:
        pattern, offset = _noise_pattern(H + 64, W + 64, float(radio.noise_dn))
        oy, ox = int(gen.integers(0, 64)), int(gen.integers(0, 64))
        out = cv2.addWeighted(out, 1.0, pattern[oy:oy + H, ox:ox + W], 1.0, -float(offset))
    return out


from ._exif import read_photo_meta, write_photo

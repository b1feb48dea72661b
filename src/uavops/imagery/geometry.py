"""Camera model and pose → ground-plane homography (the initial georeference of each photo).

Frames: ground coordinates are metres east/north of the site origin (a point in the site's UTM zone),
the ground is the plane at height 0, the camera sits at ``rel_alt_m`` above it. Image pixels are
(column, row) with the origin at the top-left pixel's corner... centre, OpenCV style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import MosaicError
from .photos import PhotoMeta

__all__ = ["Intrinsics", "resolve_intrinsics", "pose_homography", "apply_h", "footprint_corners", "grid_convergence_deg"]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the photo as stored (full resolution)."""

    width_px: int
    height_px: int
    focal_px: float
    camera_name: str
    sensor_width_mm: float

    @property
    def cx(self) -> float:
        return (self.width_px - 1) / 2.0

    @property
    def cy(self) -> float:
        return (self.height_px - 1) / 2.0

    def k(self) -> np.ndarray:
        return np.array([[self.focal_px, 0, self.cx], [0, self.focal_px, self.cy], [0, 0, 1.0]])


def resolve_intrinsics(meta: PhotoMeta, camera_name: str | None = None) -> Intrinsics:
    """Intrinsics from ``--camera`` (wins), else the planner's preset for the EXIF make/model,
    else the EXIF 35 mm-equivalent focal length.

    EXIF gives the focal length but not the sensor width; the presets know the sensor. A photo
    whose aspect differs from the sensor's (DJI's 16:9 stills from a 4:3 sensor) keeps the full
    sensor width (:meth:`Camera.for_image_size`).

    Raises
    ------
    MosaicError
        Neither a preset nor enough EXIF to derive the focal length in pixels.
    """
    from ..plan.camera import find_camera_by_exif, get_camera

    w, h = meta.width_px, meta.height_px
    if camera_name:
        cam = get_camera(camera_name)  # raises InputError with suggestions
        if meta.focal_length_mm and abs(meta.focal_length_mm - cam.focal_length_mm) > 0.03 * cam.focal_length_mm:
            from dataclasses import replace

            cam = replace(cam, focal_length_mm=float(meta.focal_length_mm))
        cam = cam.for_image_size(w, h)
    else:
        cam = find_camera_by_exif(meta.make, meta.model, meta.focal_length_mm, image_width_px=w, image_height_px=h)
    if cam is not None:
        sw = cam.sensor_width_mm if w >= h else cam.sensor_height_mm
        return Intrinsics(w, h, cam.focal_length_mm * max(w, h) / max(cam.sensor_width_mm, cam.sensor_height_mm),
                          cam.name, sw)
    if meta.focal_35mm and meta.focal_35mm > 0:
        # 35 mm equivalent is defined by the diagonal: f_px = f35 * diag_px / 43.27 mm.
        f_px = meta.focal_35mm * math.hypot(w, h) / math.hypot(36.0, 24.0)
        return Intrinsics(w, h, f_px, f"{meta.make or ''} {meta.model or ''} (EXIF 35 mm equiv.)".strip(), float("nan"))
    raise MosaicError(f"The camera of {meta.name} ({meta.make or '?'} {meta.model or '?'}) is unknown and its EXIF has "
                      "no 35 mm focal length; name the camera with --camera (see `uavops cameras`).")


_ENU_FROM_NED = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, -1]])
# camera axes (x right, y down the image, z optical axis) in body FRD axes: nadir, image top = nose
_BODY_FROM_CAM = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])


def _rot(axis: int, angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    if axis == 0:
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == 1:
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _rotation_world_to_camera(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Rows are the camera axes (x right, y down, z optical axis) in ENU world coordinates.

    DJI gimbal angles are read the way OpenDroneMap reads them (and the virtual camera writes
    them): a nadir camera on a body with attitude (roll, pitch + 90°, yaw), ZYX Euler in NED.
    """
    r_ned_body = (_rot(2, math.radians(yaw_deg)) @ _rot(1, math.radians(pitch_deg + 90.0))
                  @ _rot(0, math.radians(roll_deg)))
    return (_ENU_FROM_NED @ r_ned_body @ _BODY_FROM_CAM).T


def pose_homography(intr: Intrinsics, east_m: float, north_m: float, rel_alt_m: float,
                    yaw_deg: float, pitch_deg: float = -90.0, roll_deg: float = 0.0) -> np.ndarray:
    """3×3 homography: full-resolution pixel (col, row, 1) → ground (east, north, 1) in metres.

    Rays through each pixel are intersected with the ground plane ``rel_alt_m`` below the camera.

    Raises
    ------
    MosaicError
        The camera looks at or above the horizon, so the photo has no ground footprint.
    """
    if not (rel_alt_m > 0.5):
        raise MosaicError(f"The height above ground ({rel_alt_m:.1f} m) is not usable; give --alt-agl.")
    if pitch_deg > -45.0:
        raise MosaicError(f"The camera pitch {pitch_deg:.0f}° is too far from straight down for a mosaic.")
    r = _rotation_world_to_camera(yaw_deg, pitch_deg, roll_deg)
    m = r.T @ np.linalg.inv(intr.k())  # pixel -> ray direction in ENU
    a = np.array([[rel_alt_m, 0.0, east_m], [0.0, rel_alt_m, north_m], [0.0, 0.0, 1.0]])
    h = a @ np.diag([1.0, 1.0, -1.0]) @ m
    return h / h[2, 2]


def apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3×3 homography to N×2 points."""
    pts = np.asarray(pts, dtype=np.float64)
    q = pts @ h[:, :2].T + h[:, 2]
    return q[:, :2] / q[:, 2:3]


def footprint_corners(h: np.ndarray, width_px: int, height_px: int) -> np.ndarray:
    """Ground corners (4×2, clockwise from top-left) of a photo."""
    c = np.array([[-0.5, -0.5], [width_px - 0.5, -0.5], [width_px - 0.5, height_px - 0.5], [-0.5, height_px - 0.5]])
    return apply_h(h, c)


def grid_convergence_deg(epsg: int, lon_deg: float, lat_deg: float) -> float:
    """Meridian convergence of the projected CRS at a point: grid heading = true heading − this."""
    from pyproj import CRS, Proj

    return float(Proj(CRS.from_epsg(epsg)).get_factors(lon_deg, lat_deg).meridian_convergence)

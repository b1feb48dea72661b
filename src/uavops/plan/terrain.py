"""Terrain following from a local DEM (GeoTIFF in any CRS: SRTM, Copernicus DEM, a drone DSM).

The planner keeps the height above ground within ``tolerance_m`` by giving every waypoint an
AMSL altitude (MAV_FRAME_GLOBAL) and inserting waypoints where the ground bends: the ground
profile under each straight flight path is sampled every couple of metres and simplified with
Douglas–Peucker, so the straight 3-D lines ArduPilot flies between waypoints stay within the
tolerance of ``ground + alt``. Everything is offline: only the file the user names is read.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InputError, PlanError
from ..geo import LocalProjection

__all__ = ["Dem", "profile_breaks"]


class Dem:
    """A DEM held in memory over the survey's bounds, sampled bilinearly in local metres."""

    def __init__(self, path: str | Path, proj: LocalProjection, bounds_lonlat: tuple[float, float, float, float],
                 margin_m: float = 500.0) -> None:
        import rasterio
        from rasterio.errors import RasterioIOError
        from rasterio.warp import transform as warp_transform
        from rasterio.windows import from_bounds

        self.path = Path(path)
        self.proj = proj
        try:
            ds = rasterio.open(self.path)
        except RasterioIOError as exc:
            if not self.path.exists():
                raise InputError(f"The DEM file {self.path} does not exist; check --dem.") from None
            raise InputError(f"The DEM file {self.path} cannot be read as a raster ({exc}); give a GeoTIFF.") from None
        with ds:
            if ds.crs is None:
                raise InputError(f"The DEM file {self.path} has no coordinate system; give a georeferenced GeoTIFF.")
            w, s, e, n = bounds_lonlat
            # margin in degrees (generous) so transits and turnarounds are covered too
            dlat = margin_m / 111_000.0
            dlon = margin_m / (111_000.0 * max(0.1, math.cos(math.radians((s + n) / 2))))
            xs, ys = warp_transform("EPSG:4326", ds.crs, [w, e, w, e], [s, s, n, n])
            xs2, ys2 = warp_transform("EPSG:4326", ds.crs, [w - dlon, e + dlon], [s - dlat, n + dlat])
            need = (min(xs), min(ys), max(xs), max(ys))
            db = ds.bounds
            if need[0] < db.left or need[2] > db.right or need[1] < db.bottom or need[3] > db.top:
                raise PlanError(f"The DEM {self.path.name} does not cover the survey area; give a DEM tile "
                                "that includes the whole area (e.g. the SRTM/Copernicus tile for it).")
            left, right = max(db.left, min(xs2)), min(db.right, max(xs2))
            bottom, top = max(db.bottom, min(ys2)), min(db.top, max(ys2))
            window = from_bounds(left, bottom, right, top, ds.transform).round_offsets().round_lengths()
            window = window.intersection(rasterio.windows.Window(0, 0, ds.width, ds.height))
            data = ds.read(1, window=window, masked=True).astype("float64")
            self.transform = ds.window_transform(window)
            self.crs = ds.crs
            self.resolution_m = abs(ds.res[0]) * (111_000.0 if ds.crs.is_geographic else 1.0)
        if data.size == 0:
            raise PlanError(f"The DEM {self.path.name} does not cover the survey area.")
        if np.ma.is_masked(data) and data.mask.any():
            if data.mask.all():
                raise PlanError(f"The DEM {self.path.name} has no data over the survey area.")
            # fill small voids with the nearest valid value (SRTM voids) rather than refusing the plan
            from scipy import ndimage

            idx = ndimage.distance_transform_edt(data.mask, return_distances=False, return_indices=True)
            data = np.asarray(data.data)[tuple(idx)]
        self.data = np.asarray(data, dtype="float64")
        self._inv = ~self.transform
        from pyproj import Transformer

        self._to_dem = Transformer.from_crs(proj.crs, self.crs, always_xy=True)

    def elevation_m(self, x_m, y_m) -> np.ndarray:  # type: ignore[no-untyped-def]
        """Ground elevation (DEM units, metres AMSL) at local-metre coordinates, bilinear."""
        x_m = np.atleast_1d(np.asarray(x_m, dtype="float64"))
        y_m = np.atleast_1d(np.asarray(y_m, dtype="float64"))
        dx, dy = self._to_dem.transform(x_m, y_m)
        inv = self._inv
        dx, dy = np.asarray(dx), np.asarray(dy)
        col = inv.a * dx + inv.b * dy + inv.c
        row = inv.d * dx + inv.e * dy + inv.f
        col = np.asarray(col) - 0.5
        row = np.asarray(row) - 0.5
        h, w = self.data.shape
        c0 = np.clip(np.floor(col).astype(int), 0, max(0, w - 2))
        r0 = np.clip(np.floor(row).astype(int), 0, max(0, h - 2))
        fc = np.clip(col - c0, 0.0, 1.0)
        fr = np.clip(row - r0, 0.0, 1.0)
        c1 = np.minimum(c0 + 1, w - 1)
        r1 = np.minimum(r0 + 1, h - 1)
        d = self.data
        top = d[r0, c0] * (1 - fc) + d[r0, c1] * fc
        bot = d[r1, c0] * (1 - fc) + d[r1, c1] * fc
        return top * (1 - fr) + bot * fr


def _dp(s: np.ndarray, z: np.ndarray, i0: int, i1: int, tol: float, out: list[int]) -> None:
    if i1 <= i0 + 1:
        return
    t = (s[i0 + 1:i1] - s[i0]) / (s[i1] - s[i0])
    line = z[i0] + t * (z[i1] - z[i0])
    dev = np.abs(z[i0 + 1:i1] - line)
    k = int(np.argmax(dev))
    if dev[k] > tol:
        mid = i0 + 1 + k
        _dp(s, z, i0, mid, tol, out)
        out.append(mid)
        _dp(s, z, mid, i1, tol, out)


def profile_breaks(dem: Dem, ax: float, ay: float, bx: float, by: float, agl_m: float, tolerance_m: float,
                   step_m: float = 2.0) -> tuple[list[tuple[float, float, float]], float, float]:
    """Waypoints to insert between a and b, and the AMSL altitudes at a and b.

    Returns ``(inner, alt_a, alt_b)`` where ``inner`` holds (x, y, alt_amsl) of the inserted
    points. The simplification keeps 80 % of the tolerance as budget for the DEM's own
    interpolation between samples.
    """
    length = math.hypot(bx - ax, by - ay)
    n = max(2, int(math.ceil(length / step_m)) + 1)
    s = np.linspace(0.0, length, n)
    t = s / length if length > 0 else np.zeros_like(s)
    xs = ax + t * (bx - ax)
    ys = ay + t * (by - ay)
    z = dem.elevation_m(xs, ys) + agl_m
    keep: list[int] = []
    _dp(s, z, 0, n - 1, 0.8 * tolerance_m, keep)
    inner = [(float(xs[i]), float(ys[i]), float(z[i])) for i in keep]
    return inner, float(z[0]), float(z[-1])

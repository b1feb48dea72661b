"""Coordinate conventions shared by every stage.

WGS84 lon/lat at the edges (files, MAVLink), projected metres (the site's UTM zone) inside.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyproj import CRS, Transformer

__all__ = ["utm_epsg_for", "LocalProjection", "haversine_m", "EARTH_RADIUS_M"]

EARTH_RADIUS_M = 6_371_008.8


def utm_epsg_for(lon_deg: float, lat_deg: float) -> int:
    """EPSG code of the WGS84 UTM zone containing the point (326xx north, 327xx south)."""
    zone = int((lon_deg + 180.0) // 6.0) + 1
    zone = min(max(zone, 1), 60)
    return (32600 if lat_deg >= 0 else 32700) + zone


@lru_cache(maxsize=64)
def _transformers(epsg: int) -> tuple[Transformer, Transformer]:
    # pyproj is imported on first use: 0.05-0.1 s that the mosaic overlaps with decoding photos
    from pyproj import CRS, Transformer

    crs = CRS.from_epsg(epsg)
    fwd = Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)
    inv = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    return fwd, inv


@dataclass(frozen=True)
class LocalProjection:
    """Projection between WGS84 lon/lat and one UTM zone, chosen once per site."""

    epsg: int

    @classmethod
    def for_point(cls, lon_deg: float, lat_deg: float) -> LocalProjection:
        return cls(utm_epsg_for(lon_deg, lat_deg))

    @property
    def crs(self) -> CRS:
        from pyproj import CRS

        return CRS.from_epsg(self.epsg)

    def to_xy(self, lon_deg, lat_deg):  # type: ignore[no-untyped-def]
        """lon/lat (scalars or arrays) -> easting/northing in metres."""
        return _transformers(self.epsg)[0].transform(lon_deg, lat_deg)

    def to_lonlat(self, x_m, y_m):  # type: ignore[no-untyped-def]
        """easting/northing in metres (scalars or arrays) -> lon/lat in degrees."""
        return _transformers(self.epsg)[1].transform(x_m, y_m)


def haversine_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance in metres; good to ~0.5 % which is all telemetry displays need."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp = p2 - p1
    dl = math.radians(lon2_deg - lon1_deg)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))

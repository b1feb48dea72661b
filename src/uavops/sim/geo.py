"""Flat-earth offsets around a point, the way ArduPilot's ``Location`` class computes them.

ArduPilot keeps latitude/longitude as integer degE7 and converts small offsets with
``LOCATION_SCALING_FACTOR`` (metres per 1e-7 degree) scaled by cos(latitude); the simulator
does the same so distances it reports agree with SITL's to the centimetre over a survey area.
"""

from __future__ import annotations

import math

__all__ = ["LOCATION_SCALING_FACTOR_M", "offset_deg", "ne_from", "distance_m", "bearing_deg", "wrap_180", "wrap_360"]

LOCATION_SCALING_FACTOR_M = 0.011131884502145034  # metres per 1e-7 degree of latitude


def _lon_scale(lat_deg: float) -> float:
    return max(math.cos(math.radians(lat_deg)), 0.01)


def offset_deg(lat_deg: float, lon_deg: float, north_m: float, east_m: float) -> tuple[float, float]:
    """Point ``north_m``/``east_m`` away from (lat, lon)."""
    dlat = north_m / LOCATION_SCALING_FACTOR_M * 1e-7
    dlon = east_m / (LOCATION_SCALING_FACTOR_M * _lon_scale(lat_deg + dlat / 2)) * 1e-7
    return lat_deg + dlat, lon_deg + dlon


def ne_from(origin_lat_deg: float, origin_lon_deg: float, lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """North/east metres of (lat, lon) from the origin."""
    north = (lat_deg - origin_lat_deg) * 1e7 * LOCATION_SCALING_FACTOR_M
    east = (lon_deg - origin_lon_deg) * 1e7 * LOCATION_SCALING_FACTOR_M * _lon_scale((lat_deg + origin_lat_deg) / 2)
    return north, east


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    n, e = ne_from(lat1, lon1, lat2, lon2)
    return math.hypot(n, e)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    n, e = ne_from(lat1, lon1, lat2, lon2)
    return wrap_360(math.degrees(math.atan2(e, n)))


def wrap_180(angle_deg: float) -> float:
    a = math.fmod(angle_deg + 180.0, 360.0)
    if a < 0:
        a += 360.0
    return a - 180.0


def wrap_360(angle_deg: float) -> float:
    a = math.fmod(angle_deg, 360.0)
    return a + 360.0 if a < 0 else a

"""Flight-time estimates that a battery budget can trust.

A multirotor in AUTO does not fly distance/speed: it accelerates and brakes at every corner
(WPNAV_ACCEL), yaws to the next leg (WP_YAW_BEHAVIOR), climbs and descends no faster than
WPNAV_SPEED_UP/DN, hovers at hover-and-capture points and lands slowly at the end. The model
here charges each of these; straight runs through collinear waypoints (terrain breaks) are flown
without stopping, as ArduCopter's S-curves do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Kinematics", "PathPoint", "run_time_s", "mission_time_s"]


@dataclass(frozen=True)
class Kinematics:
    speed_mps: float
    accel_mps2: float = 2.5
    climb_rate_mps: float = 2.5
    descent_rate_mps: float = 1.5
    yaw_rate_dps: float = 90.0
    land_speed_mps: float = 0.5  # ArduCopter LAND_SPEED below 10 m
    turn_stop_deg: float = 30.0  # heading changes above this stop the vehicle


@dataclass(frozen=True)
class PathPoint:
    x: float
    y: float
    z: float  # metres, any datum consistent within one path
    hold_s: float = 0.0  # time spent at the point (hover-and-capture)
    stop: bool = False  # the vehicle stops here regardless of the turn angle


def run_time_s(distance_m: float, speed_mps: float, accel_mps2: float) -> float:
    """Time for a straight run from standstill to standstill (trapezoidal speed profile)."""
    if distance_m <= 0:
        return 0.0
    if distance_m >= speed_mps ** 2 / accel_mps2:
        return distance_m / speed_mps + speed_mps / accel_mps2
    return 2.0 * math.sqrt(distance_m / accel_mps2)


def _heading(ax: float, ay: float, bx: float, by: float) -> float | None:
    if math.hypot(bx - ax, by - ay) < 1e-6:
        return None
    return math.degrees(math.atan2(bx - ax, by - ay))


def mission_time_s(points: list[PathPoint], kin: Kinematics, *, takeoff_alt_m: float, home_z: float,
                   rtl: bool = True) -> float:
    """Seconds from takeoff to landing for a path that starts above home (points[0]) and ends with RTL.

    ``points[0]`` is the takeoff position at cruise height; ``home_z`` is the ground at home in the
    path's datum (0 for relative altitudes).
    """
    t = takeoff_alt_m / kin.climb_rate_mps + 2.0  # climb plus spool-up/settle
    if len(points) >= 2:
        # split at stops
        stops = [0]
        for i in range(1, len(points) - 1):
            h0 = _heading(points[i - 1].x, points[i - 1].y, points[i].x, points[i].y)
            h1 = _heading(points[i].x, points[i].y, points[i + 1].x, points[i + 1].y)
            turn = 0.0 if h0 is None or h1 is None else abs((h1 - h0 + 180.0) % 360.0 - 180.0)
            if points[i].stop or points[i].hold_s > 0 or turn > kin.turn_stop_deg:
                stops.append(i)
                t += turn / kin.yaw_rate_dps
        stops.append(len(points) - 1)
        for s0, s1 in zip(stops, stops[1:]):
            dist = 0.0
            vert_extra = 0.0
            for i in range(s0, s1):
                p, q = points[i], points[i + 1]
                d = math.hypot(q.x - p.x, q.y - p.y)
                dz = q.z - p.z
                rate = kin.climb_rate_mps if dz > 0 else kin.descent_rate_mps
                vert_extra += max(0.0, abs(dz) / rate - d / kin.speed_mps)
                dist += d
            t += run_time_s(dist, kin.speed_mps, kin.accel_mps2) + vert_extra
        t += sum(p.hold_s for p in points)
    if rtl and points:
        last = points[-1]
        first = points[0]
        t += run_time_s(math.hypot(last.x - first.x, last.y - first.y), kin.speed_mps, kin.accel_mps2)
        height = max(0.0, last.z - home_z)
        t += max(0.0, height - 10.0) / kin.descent_rate_mps + min(height, 10.0) / kin.land_speed_mps + 3.0
    return t

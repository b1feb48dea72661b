"""Geofence as ArduCopter's AC_Fence checks it: max/min altitude, home circle, uploaded polygons/circles.

FENCE_TYPE bits: 1 max altitude, 2 circle around home (FENCE_RADIUS), 4 polygons and circles
uploaded as the fence mission type, 8 min altitude. A breach while flying triggers FENCE_ACTION
(1 RTL or LAND, 2 LAND, 3/5 SmartRTL (RTL here) or LAND, 4 BRAKE or LAND, 0 report only).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..mission import MAV_CMD

if TYPE_CHECKING:
    from .vehicle import SimVehicle

__all__ = ["Fence", "point_in_polygon"]


def point_in_polygon(x: float, y: float, poly: list[tuple[float, float]]) -> bool:
    inside = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi + 1e-300) + xi:
            inside = not inside
        j = i
    return inside


class Fence:
    def __init__(self, vehicle: "SimVehicle") -> None:
        self.v = vehicle
        self.breached: set[str] = set()
        self.auto_enabled = False

    def enabled(self) -> bool:
        return bool(int(self.v.params["FENCE_ENABLE"])) or self.auto_enabled

    def on_arm(self) -> None:
        self.breached.clear()

    def _shapes(self) -> tuple[list[list[tuple[float, float]]], list[list[tuple[float, float]]],
                               list[tuple[float, float, float]], list[tuple[float, float, float]]]:
        incl: list[list[tuple[float, float]]] = []
        excl: list[list[tuple[float, float]]] = []
        cin: list[tuple[float, float, float]] = []
        cex: list[tuple[float, float, float]] = []
        items = self.v.store.fence
        i = 0
        while i < len(items):
            it = items[i]
            if it.command in (MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION):
                count = max(1, int(it.param1))
                pts = [self.v.ne_of(x.param5, x.param6) for x in items[i:i + count]]
                (incl if it.command == MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION else excl).append(pts)
                i += count
                continue
            if it.command in (MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION, MAV_CMD.NAV_FENCE_CIRCLE_EXCLUSION):
                n, e = self.v.ne_of(it.param5, it.param6)
                (cin if it.command == MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION else cex).append((n, e, it.param1))
            i += 1
        return incl, excl, cin, cex

    def breaches(self) -> set[str]:
        """Which fences the vehicle is outside of right now."""
        p = self.v.params
        kinds = int(p["FENCE_TYPE"])
        out: set[str] = set()
        if kinds & 1 and self.v.alt > p["FENCE_ALT_MAX"]:
            out.add("maximum altitude")
        if kinds & 8 and not self.v.landed and self.v.alt < p["FENCE_ALT_MIN"]:
            out.add("minimum altitude")
        if kinds & 2:
            hn, he = self.v.home_ne()
            if math.hypot(self.v.n - hn, self.v.e - he) > p["FENCE_RADIUS"]:
                out.add("circle")
        if kinds & 4:
            incl, excl, cin, cex = self._shapes()
            x, y = self.v.n, self.v.e
            if any(not point_in_polygon(x, y, poly) for poly in incl) or any(point_in_polygon(x, y, poly) for poly in excl):
                out.add("polygon")
            if any(math.hypot(x - n, y - e) > r for n, e, r in cin) or any(math.hypot(x - n, y - e) < r for n, e, r in cex):
                out.add("polygon")
        return out

    def check(self) -> None:
        if not self.enabled():
            self.breached.clear()
            return
        now = self.breaches()
        new = now - self.breached
        self.breached = now
        if not new:
            return
        from .vehicle import MAV_SEVERITY

        self.v.text(MAV_SEVERITY.CRITICAL, f"Fence Breached: {', '.join(sorted(new))}")
        action = int(self.v.params["FENCE_ACTION"])
        if action == 0:
            return
        target = {1: 6, 2: 9, 3: 6, 4: 17, 5: 6}.get(action, 6)
        if self.v.mode in (6, 9) and target != 9:
            return
        if not self.v.set_mode(target, reason="fence"):
            self.v.set_mode(9, reason="fence")

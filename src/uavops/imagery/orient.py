"""Checking each photo's recorded heading against what the photos themselves say.

DJI logs the gimbal/flight yaw, but at pitch −90° the gimbal's yaw is ambiguous and some legs come
out rotated by 180° (Brighton's middle line reads −140° while its pictures point +45°). Two matched
photos and their GPS baseline give the heading independently: the ground point under camera ``i``
appears in photo ``j`` at an image offset whose direction, rotated by ``j``'s heading, must point
from ``j`` to ``i``. Photos whose recorded heading disagrees by more than ``tolerance_deg`` with the
weighted circular mean of these estimates get the estimate instead.
"""

from __future__ import annotations

import math

import numpy as np

from .features import PairMatch
from .geometry import apply_h

__all__ = ["estimate_yaws", "wrap_deg"]


def wrap_deg(a: float | np.ndarray) -> float | np.ndarray:
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def estimate_yaws(matches: list[PairMatch], sizes_px: list[tuple[int, int]], gps_xy: np.ndarray,
                  min_baseline_m: float = 3.0) -> list[float | None]:
    """Heading (deg, clockwise from north, of the image top) of each photo from its matches, or None."""
    n = len(sizes_px)
    sums = np.zeros((n, 2))
    for m in matches:
        for a, b, h in ((m.i, m.j, m.h_ij), (m.j, m.i, np.linalg.inv(m.h_ij))):
            # the ground point under camera a seen in photo b
            ca = np.array([[sizes_px[a][0] / 2 - 0.5, sizes_px[a][1] / 2 - 0.5]])
            cb = np.array([sizes_px[b][0] / 2 - 0.5, sizes_px[b][1] / 2 - 0.5])
            v = apply_h(h, ca)[0] - cb
            base = gps_xy[a] - gps_xy[b]
            length = float(np.linalg.norm(base))
            if length < min_baseline_m or float(np.linalg.norm(v)) < 1.0:
                continue
            psi = math.atan2(-v[1], v[0]) - math.atan2(base[1], base[0])
            w = length * min(1.0, m.n_matches / 50.0)
            sums[b] += w * np.array([math.cos(psi), math.sin(psi)])
    out: list[float | None] = []
    for k in range(n):
        if np.linalg.norm(sums[k]) < 1e-9:
            out.append(None)
        else:
            # atan2 gives the math angle of the rotation; the heading is its clockwise counterpart
            out.append(float(wrap_deg(math.degrees(math.atan2(sums[k][1], sums[k][0])))))
    return out

"""The simulated world around the vehicle: wind, battery, GPS and the EKF's start-up.

Every random draw comes from one ``random.Random`` seeded by :class:`~uavops.sim.SimConfig`,
consumed in a fixed order per simulation step, so a run is repeatable for a given seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["Wind", "Battery", "Gps", "EkfStartup"]


class Wind:
    """Steady wind plus gusts (an Ornstein-Uhlenbeck process per axis, 2 s correlation time).

    ``speed_mps``/``direction_deg`` follow SITL's SIM_WIND_SPD/SIM_WIND_DIR: the direction the
    wind comes *from*. :attr:`velocity_ne` is where the air moves *to*, in m/s.
    """

    def __init__(self, rng: random.Random, speed_mps: float = 0.0, direction_deg: float = 180.0,
                 turbulence_mps: float = 0.0, gust_tau_s: float = 2.0) -> None:
        self._rng = rng
        self.speed_mps = speed_mps
        self.direction_deg = direction_deg
        self.turbulence_mps = turbulence_mps
        self._tau = gust_tau_s
        self._gust_n = 0.0
        self._gust_e = 0.0

    def step(self, dt_s: float) -> None:
        # draws happen whether or not turbulence is on, so changing it keeps the RNG sequence
        g1, g2 = self._rng.gauss(0.0, 1.0), self._rng.gauss(0.0, 1.0)
        if self.turbulence_mps <= 0:
            self._gust_n = self._gust_e = 0.0
            return
        a = math.exp(-dt_s / self._tau)
        b = self.turbulence_mps * math.sqrt(1.0 - a * a)
        self._gust_n = a * self._gust_n + b * g1
        self._gust_e = a * self._gust_e + b * g2

    @property
    def steady_ne(self) -> tuple[float, float]:
        to_rad = math.radians(self.direction_deg + 180.0)
        return self.speed_mps * math.cos(to_rad), self.speed_mps * math.sin(to_rad)

    @property
    def gust_ne(self) -> tuple[float, float]:
        return self._gust_n, self._gust_e

    @property
    def velocity_ne(self) -> tuple[float, float]:
        n, e = self.steady_ne
        return n + self._gust_n, e + self._gust_e


@dataclass
class Battery:
    """A 4S LiPo: current grows with airspeed and climb, voltage sags with use and load."""

    capacity_mah: float = 5000.0
    consumed_mah: float = 0.0
    cells: int = 4
    internal_resistance_ohm: float = 0.02
    current_a: float = 0.0
    energy_wh: float = 0.0

    def remaining_frac(self) -> float:
        if self.capacity_mah <= 0:
            return 1.0
        return max(0.0, 1.0 - self.consumed_mah / self.capacity_mah)

    def resting_voltage(self) -> float:
        r = self.remaining_frac()
        # LiPo curve: 4.2 V full, flat around 3.8 V, knee below 15 %
        per_cell = 3.3 + 0.39 * r / 0.15 if r < 0.15 else 3.69 + 0.51 * (r - 0.15) / 0.85
        return per_cell * self.cells

    def voltage(self) -> float:
        return max(0.0, self.resting_voltage() - self.current_a * self.internal_resistance_ohm)

    @staticmethod
    def current_for(*, armed: bool, flying: bool, airspeed_mps: float, climb_mps: float) -> float:
        """Current draw in A of a ~2 kg survey quad."""
        if not armed:
            return 0.4
        if not flying:
            return 2.5
        hover = 16.0
        # induced power falls a little with forward speed, parasitic power rises with its cube
        translational = -2.0 * min(airspeed_mps, 6.0) / 6.0
        parasitic = 0.004 * airspeed_mps ** 3
        climb = 3.0 * max(0.0, climb_mps) - 1.5 * max(0.0, -climb_mps)
        return max(4.0, hover + translational + parasitic + climb)

    def step(self, dt_s: float, current_a: float) -> None:
        self.current_a = current_a
        self.consumed_mah += current_a * dt_s / 3.6
        self.energy_wh += current_a * self.voltage() * dt_s / 3600.0

    def drop_to(self, remaining_pct: float) -> None:
        self.consumed_mah = self.capacity_mah * (1.0 - max(0.0, min(100.0, remaining_pct)) / 100.0)


class Gps:
    """Position noise (random walk with pull-back, like a real receiver's wander), fix and satellites."""

    def __init__(self, rng: random.Random, noise_m: float = 0.3, fix_after_s: float = 3.0) -> None:
        self._rng = rng
        self.noise_m = noise_m
        self.fix_after_s = fix_after_s
        self.lost = False
        self._err_n = 0.0
        self._err_e = 0.0
        self._err_d = 0.0

    def step(self, dt_s: float) -> None:
        g = (self._rng.gauss(0, 1), self._rng.gauss(0, 1), self._rng.gauss(0, 1))
        a = math.exp(-dt_s / 5.0)
        b = self.noise_m * math.sqrt(1.0 - a * a)
        self._err_n = a * self._err_n + b * g[0]
        self._err_e = a * self._err_e + b * g[1]
        self._err_d = a * self._err_d + 1.5 * b * g[2]

    def has_fix(self, sim_time_s: float) -> bool:
        return not self.lost and sim_time_s >= self.fix_after_s

    def fix_type(self, sim_time_s: float) -> int:
        # SITL reports its simulated receiver as RTK fixed (6)
        return 6 if self.has_fix(sim_time_s) else 0

    def satellites(self, sim_time_s: float) -> int:
        return 10 if self.has_fix(sim_time_s) else 0

    @property
    def error_ned_m(self) -> tuple[float, float, float]:
        return self._err_n, self._err_e, self._err_d


@dataclass
class EkfStartup:
    """When the EKF starts using GPS: ArduPilot SITL needs about 41 s of simulated time."""

    settle_s: float = 41.0

    def position_ok(self, sim_time_s: float, gps_ok: bool) -> bool:
        return gps_ok and sim_time_s >= self.settle_s

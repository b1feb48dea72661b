"""Planner inputs and outputs: :class:`SurveyParams` in, :class:`SurveyPlan` out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from shapely.geometry import MultiPolygon, Polygon

from ..mission import Mission
from .camera import Camera

__all__ = ["SurveyParams", "SurveyPlan", "TriggerMode"]

TriggerMode = Literal["distance", "hover"]


@dataclass(frozen=True)
class SurveyParams:
    """How to fly the survey. Give exactly one of ``alt_m`` (above ground) and ``gsd_cm``.

    Defaults follow ArduCopter's (WPNAV_SPEED_UP 2.5 m/s, WPNAV_SPEED_DN 1.5 m/s,
    WPNAV_ACCEL 2.5 m/s²) and common drone regulations (120 m AGL ceiling).
    """

    alt_m: float | None = None
    gsd_cm: float | None = None
    front_overlap_pct: float = 75.0
    side_overlap_pct: float = 70.0
    angle_deg: float | None = None  # None = auto (fewest turns)
    turnaround_m: float = 0.0
    speed_mps: float = 10.0
    shutter_s: float = 1.0 / 1000.0
    trigger_mode: TriggerMode = "distance"
    hover_hold_s: float = 2.0
    crosshatch: bool = False
    entry: str = "auto"  # auto | nw | ne | sw | se
    max_alt_m: float = 120.0
    climb_rate_mps: float = 2.5
    descent_rate_mps: float = 1.5
    accel_mps2: float = 2.5
    yaw_rate_dps: float = 90.0
    terrain_tolerance_m: float = 5.0
    battery_min: float | None = None
    reserve_frac: float = 0.25
    vehicles: int = 1
    home_lonlat: tuple[float, float] | None = None
    fence_margin_m: float = 20.0
    exclusion_margin_m: float = 5.0
    camera_landscape: bool = True


@dataclass
class SurveyPlan:
    """A planned survey.

    ``mission`` is the whole survey as one mission for one vehicle (what ``mission.plan`` holds;
    fly it with battery-failsafe RTL and resume). ``parts`` are the missions actually meant to be
    flown when the survey is split: one per (vehicle, sortie), each complete (takeoff … RTL).
    With one vehicle and one sortie ``parts == [mission]``.
    """

    mission: Mission
    parts: list[Mission]
    camera: Camera
    params: SurveyParams
    area: Polygon | MultiPolygon  # lon/lat
    exclusions: list[Polygon]  # lon/lat
    fence: Polygon  # lon/lat inclusion fence
    angle_deg: float
    alt_m: float
    gsd_cm: float
    line_spacing_m: float
    trigger_distance_m: float
    footprint_side_m: float
    footprint_front_m: float
    speed_mps: float
    terrain: bool
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    part_times_s: list[float] = field(default_factory=list)

    @property
    def vehicles(self) -> int:
        return max((m.vehicle for m in self.parts), default=0) + 1

    def parts_of_vehicle(self, vehicle: int) -> list[Mission]:
        return [m for m in self.parts if m.vehicle == vehicle]

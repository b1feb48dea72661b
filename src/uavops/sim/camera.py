"""The servo-triggered survey camera as ArduPilot's AP_Camera drives it.

Triggers come from DO_DIGICAM_CONTROL (shoot = param5 1), IMAGE_START_CAPTURE, and the
distance trigger set by DO_SET_CAM_TRIGG_DIST / CAM1_TRIGG_DIST. Each accepted shot produces
a :class:`CameraTrigger` with the vehicle pose at that instant; the MAVLink layer turns it into
CAMERA_FEEDBACK. With CAM1_TYPE 0 there is no camera: commands are still accepted, as
ArduPilot accepts them, but nothing is shot. A shot within 0.1 s (or CAM1_INTRVAL_MIN) of the
previous one is dropped, as in AP_Camera_Backend::take_picture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .geo import distance_m

__all__ = ["CameraTrigger", "Camera"]


@dataclass(frozen=True)
class CameraTrigger:
    """One photo: when and where it was taken (what CAMERA_FEEDBACK carries)."""

    time_usec: int
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    alt_rel_m: float
    roll_deg: float
    pitch_deg: float
    yaw_deg: float
    img_idx: int


class _Pose(Protocol):
    def camera_pose(self) -> CameraTrigger: ...


class Camera:
    def __init__(self, params: "object", pose: Callable[[int], CameraTrigger]) -> None:
        self._params = params
        self._pose = pose
        self.trigger_distance_m = 0.0
        self._last_lat: float | None = None
        self._last_lon: float | None = None
        self._last_shot_s = -1e9
        self.image_count = 0
        self._interval_s = 0.0
        self._remaining = 0  # -1 = until stopped
        self._next_interval_shot_s = 0.0
        self.listeners: list[Callable[[CameraTrigger], None]] = []
        # AP_Camera creates its backends at boot: changing CAM1_TYPE needs a reboot, as on ArduPilot
        self._present = int(self._params["CAM1_TYPE"]) != 0  # type: ignore[index]

    @property
    def present(self) -> bool:
        return self._present

    def set_trigger_distance(self, distance_m_: float) -> None:
        self.trigger_distance_m = max(0.0, float(distance_m_))
        self._last_lat = self._last_lon = None

    def start_interval(self, now_s: float, interval_s: float, count: int) -> None:
        """IMAGE_START_CAPTURE: ``count`` 0 = until IMAGE_STOP_CAPTURE."""
        self._interval_s = max(0.0, interval_s)
        self._remaining = -1 if count == 0 else count
        self._next_interval_shot_s = now_s

    def stop_interval(self) -> None:
        self._remaining = 0

    def take_picture(self, now_s: float) -> CameraTrigger | None:
        if not self.present:
            return None
        min_gap = max(0.1, float(self._params["CAM1_INTRVAL_MIN"]))  # type: ignore[index]
        if now_s - self._last_shot_s < min_gap - 1e-9:
            return None
        self._last_shot_s = now_s
        self.image_count += 1
        trigger = self._pose(self.image_count)
        self._last_lat, self._last_lon = trigger.lat_deg, trigger.lon_deg
        for listener in list(self.listeners):
            listener(trigger)
        return trigger

    def update(self, now_s: float, lat_deg: float, lon_deg: float, gps_ok: bool, roll_deg: float,
               in_auto: bool) -> None:
        """Distance and interval triggering, called every simulation step."""
        if self._remaining != 0 and now_s >= self._next_interval_shot_s:
            if self.take_picture(now_s) is not None or not self.present:
                if self._remaining > 0:
                    self._remaining -= 1
            self._next_interval_shot_s = now_s + max(self._interval_s, 0.1)
        dist = self.trigger_distance_m or float(self._params["CAM1_TRIGG_DIST"])  # type: ignore[index]
        if dist <= 0 or not gps_ok:
            if dist <= 0:
                self._last_lat = self._last_lon = None
            return
        if int(self._params["CAM_AUTO_ONLY"]) and not in_auto:  # type: ignore[index]
            return
        max_roll = float(self._params["CAM_MAX_ROLL"])  # type: ignore[index]
        if self._last_lat is None or self._last_lon is None:
            self._last_lat, self._last_lon = lat_deg, lon_deg
            return
        if distance_m(self._last_lat, self._last_lon, lat_deg, lon_deg) < dist:
            return
        if max_roll > 0 and abs(roll_deg) > max_roll:
            return
        self.take_picture(now_s)

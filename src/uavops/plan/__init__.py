"""Survey mission planning: camera presets, coverage geometry, terrain, sorties and plan files.

Import what you need from the submodules; the names below are re-exported lazily so that
``import uavops.plan.camera`` stays light (no shapely/rasterio) for the imaging stages.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Camera",
    "get_camera",
    "list_cameras",
    "find_camera_by_exif",
    "SurveyParams",
    "SurveyPlan",
    "plan_survey",
    "read_mission",
    "write_plan",
    "write_waypoints",
]

_WHERE = {
    "Camera": "camera", "get_camera": "camera", "list_cameras": "camera", "find_camera_by_exif": "camera",
    "SurveyParams": "model", "SurveyPlan": "model", "plan_survey": "survey",
    "read_mission": "formats", "write_plan": "formats", "write_waypoints": "formats",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Synthetic disaster scenes with known truth, and the virtual camera that photographs them.

``make_scene`` paints a pre/post GeoTIFF pair plus truth (building damage grades, event extents,
damage mask); ``load_scene`` opens one; ``import_orthophoto`` turns a real orthophoto into a scene
without truth. The camera (``uavops.scene.camera``) renders drone photos of a scene and
``uavops.scene.capture`` takes them from any MAVLink vehicle.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["EVENTS", "MASK_VALUES", "Scene", "import_orthophoto", "is_current_scene", "load_scene", "make_scene"]

_WHERE = {"Scene": "model", "load_scene": "model", "make_scene": "generator", "is_current_scene": "generator",
          "MASK_VALUES": "generator", "import_orthophoto": "ortho", "EVENTS": "events"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

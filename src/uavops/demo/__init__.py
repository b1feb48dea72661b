"""``uavops demo``: the whole chain on a training scenario, with embedded defaults.

scene → plan → simulated vehicle + virtual camera → fly → mosaic → damage → local hub → upload.
Everything it writes stays in the output folder.
"""

from __future__ import annotations

from .pipeline import DemoOptions, DemoResult, run_demo

__all__ = ["DemoOptions", "DemoResult", "run_demo"]

"""The package's public surface stays deliberate (httpx-style export test)."""

from __future__ import annotations

import uavops.plan as plan_pkg


def test_exported_members_resolve():
    for name in plan_pkg.__all__:
        assert getattr(plan_pkg, name) is not None, name
    assert sorted(plan_pkg.__all__) == sorted(plan_pkg._WHERE)


def test_camera_module_is_light():
    import subprocess
    import sys

    code = "import sys, uavops.plan.camera; print('shapely' in sys.modules, 'rasterio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

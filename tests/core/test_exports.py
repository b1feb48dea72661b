"""Every stage package declares a deliberate public surface (``__all__``) and every name in it resolves."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

PACKAGES = ["uavops", "uavops.errors", "uavops.config", "uavops.geo", "uavops.mission", "uavops.files",
            "uavops.locations", "uavops.package", "uavops.plan", "uavops.sim", "uavops.link", "uavops.fly",
            "uavops.scene", "uavops.imagery", "uavops.damage", "uavops.hub"]


@pytest.mark.parametrize("name", PACKAGES)
def test_public_surface_resolves(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        pytest.fail(f"{name} does not exist")
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported, f"{name} must declare __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    for attr in exported:
        assert getattr(module, attr, None) is not None, f"{name}.{attr} is in __all__ but does not resolve"

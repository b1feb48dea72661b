import importlib

import pytest


@pytest.mark.parametrize("module", ["uavops.scene", "uavops.scene.camera", "uavops.scene.capture",
                                    "uavops.scene.scenarios", "uavops.scene.generator", "uavops.scene.events"])
def test_public_names_exist(module):
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_brief_imports():
    from uavops.scene import Scene, load_scene, make_scene  # noqa: F401
    from uavops.scene.camera import CameraPose, render_photo, write_photo  # noqa: F401
    from uavops.scene.capture import CaptureSession  # noqa: F401
    from uavops.scene.scenarios import load_scenario  # noqa: F401

"""The public surface of uavops.damage stays deliberate (httpx-style export check)."""

from __future__ import annotations

import uavops.damage as damage


def test_exported_members():
    assert sorted(damage.__all__) == sorted([
        "run_damage", "DamageOptions", "DamageResult", "EVENT_CHOICES", "load_pair", "ImagePair", "WorkGrid",
        "detect_changes", "ChangeMap", "load_model", "CLASS_NAMES"])
    for name in damage.__all__:
        assert getattr(damage, name) is not None


def test_package_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, uavops.damage, uavops.cli.damage; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

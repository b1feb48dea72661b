"""Skip helpers shared by the test tiers."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

SITL_BIN = os.environ.get("UAVOPS_SITL_BIN")

requires_sitl = pytest.mark.skipif(
    not (SITL_BIN and Path(SITL_BIN).is_file()),
    reason="needs ArduPilot SITL: set UAVOPS_SITL_BIN to an arducopter binary",
)

requires_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("chromedriver") is None,
    reason="needs Debian's chromium and chromium-driver",
)

requires_postgres = pytest.mark.skipif(
    not os.environ.get("UAVOPS_TEST_DATABASE_URL"),
    reason="needs PostgreSQL: set UAVOPS_TEST_DATABASE_URL",
)

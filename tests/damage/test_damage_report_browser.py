"""report.html renders in a real headless Chromium with the map and the pictures visible."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from marks import requires_chromium


@pytest.mark.browser
@requires_chromium
def test_report_screenshot_shows_map_and_pictures(quake_package: Path, tmp_path: Path):
    report = quake_package / "report.html"
    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             f"--screenshot={shot}", "--window-size=1280,2000", report.resolve().as_uri()],
            check=True, timeout=90, capture_output=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (2000, 1280)
    # The inlined overview map is a large photographic area: lots of distinct colours and texture,
    # where a broken <img> would leave white page or a small placeholder icon.
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    colourful_rows = np.mean((hsv[:, :, 1] > 40).mean(axis=1) > 0.3)
    assert colourful_rows > 0.25, f"only {colourful_rows:.0%} of the page rows show picture content"
    # Copy for a human to look at when run locally.
    keep = Path(tempfile.gettempdir()) / "uavops_damage_report_screenshot.png"
    shutil.copy(shot, keep)

"""The hub's web map in a real headless Chromium: offline Leaflet, polygons by grade, mosaics, filters."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from fixtures.hub import make_package, start_live_hub
from marks import requires_chromium

from uavops.hub.client import Outbox, UploadClient

GRADE_RGB = {
    "Destroyed": (0xD7, 0x30, 0x27),
    "Damaged": (0xFC, 0x8D, 0x59),
    "Possibly damaged": (0xFE, 0xE0, 0x8B),
    "No visible damage": (0x1A, 0x98, 0x50),
}


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chrome-profile'}",
        "--window-size=1200,800",
    ):
        opts.add_argument(flag)
    opts.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    yield driver
    driver.quit()


def wait_ready(driver, timeout_s: float = 30.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = driver.execute_script(
            "var s = document.getElementById('status'); return Object.assign({text: "
            "s.textContent}, s.dataset);"
        )
        if state.get("state") in ("ready", "error"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"map did not finish loading: {state}")


def grade_pixels(png: bytes, panel_px: int) -> dict[str, int]:
    """Pixels of each grade colour in the map area (the side panel with its legend is cut off)."""
    import io

    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)[:, panel_px + 2 :]
    out = {}
    for grade, rgb in GRADE_RGB.items():
        # polygons are drawn with fill-opacity 0.75 over a pale background or the mosaic: allow a margin
        out[grade] = int((np.abs(img - np.array(rgb)).max(axis=2) <= 40).sum())
    return out


@requires_chromium
def test_map_draws_polygons_by_grade_mosaics_and_filters(tmp_path, browser):
    live = start_live_hub(tmp_path, None)
    try:
        with UploadClient(live.url, live.tokens["kg"]) as c:
            c.upload(
                make_package(tmp_path / "kg", tag="kg", n_features=8, mosaic_px=128), Outbox(tmp_path / "o")
            )
        with UploadClient(live.url, live.tokens["kz"]) as c:
            c.upload(
                make_package(
                    tmp_path / "kz",
                    tag="kz",
                    producer="KZ-MChS",
                    site="Almaty",
                    n_features=4,
                    acquired="2026-05-04T09:00:00Z",
                ),
                Outbox(tmp_path / "o"),
            )
        browser.get(f"{live.url}/map#token={live.tokens['coord']}")
        state = wait_ready(browser)
        assert state["state"] == "ready", state
        assert state["features"] == "12" and state["mosaics"] == "2"
        paths = browser.execute_script(
            "var out = {}; document.querySelectorAll('path.damage').forEach(function (p) {"
            " var c = p.getAttribute('class').split(' ').filter(function (k) { return k.indexOf('damage-') === 0; })[0];"
            " out[c] = (out[c] || 0) + 1; }); return out;"
        )
        assert paths == {
            "damage-no-visible-damage": 3,
            "damage-possibly-damaged": 3,
            "damage-damaged": 3,
            "damage-destroyed": 3,
        }
        fills = browser.execute_script(
            "return Array.from(document.querySelectorAll('path.damage-destroyed'))"
            ".map(function (p) { return p.getAttribute('fill'); });"
        )
        assert set(fills) == {"#d73027"}
        assert len(browser.find_elements("css selector", "img.mosaic")) == 2
        # only offline resources: every request went to the hub itself
        urls = browser.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
        )
        assert urls and all(u.startswith(live.url) or u.startswith("blob:") for u in urls), urls
        # filter to Kazakhstan: the map zooms to Almaty's polygons, which must be visible in the screenshot
        browser.execute_script(
            "var s = document.getElementById('country'); s.value = 'KZ';s.dispatchEvent(new Event('change'));"
        )
        time.sleep(0.3)
        state = wait_ready(browser)
        assert state["features"] == "4" and state["mosaics"] == "1"
        time.sleep(0.8)  # fitBounds animation
        shot = browser.get_screenshot_as_png()
        (Path(tmp_path) / "map-kz.png").write_bytes(shot)
        panel = browser.execute_script(
            "return document.getElementById('panel').getBoundingClientRect().right;"
        )
        ratio = browser.execute_script("return window.devicePixelRatio;")
        px = grade_pixels(shot, int(panel * ratio))
        assert all(n > 200 for n in px.values()), px
        # date filter: nothing acquired after 2026-05-10
        browser.execute_script(
            "var d = document.getElementById('date-from'); d.value = '2026-05-10';"
            "d.dispatchEvent(new Event('change'));"
        )
        time.sleep(0.3)
        assert wait_ready(browser)["features"] == "0"
        assert browser.execute_script("return document.querySelectorAll('path.damage').length;") == 0
    finally:
        live.stop()

"""The live flight display renders every field the operator needs, live (rich) and as plain lines."""

from __future__ import annotations

import io

from rich.console import Console

from uavops.fly.display import FlightDisplay, FlightStatus


def status() -> FlightStatus:
    return FlightStatus(vehicle="vehicle", item=7, items_total=19, dist_next_m=42.0, eta_s=6.0, alt_m=60.2,
                        speed_mps=7.5, battery_pct=23, mode="AUTO", armed=True, photos=12, photos_planned=44,
                        leg="1 (1/3 done)")


def test_live_table_shows_mission_progress() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160, color_system=None)
    with FlightDisplay(live=True, console=console) as display:
        display.update(status())
        display.statustext("vehicle", 2, "Battery 1 is low 14.00V used 3800 mAh")
    out = buf.getvalue()
    for text in ("7/19", "42 m", "6 s", "60.2 m", "7.5 m/s", "23%", "AUTO (armed)", "12/44", "Battery 1 is low"):
        assert text in out, text


def test_plain_lines_without_a_terminal() -> None:
    buf = io.StringIO()
    display = FlightDisplay(live=False, console=Console(file=buf, width=200, color_system=None))
    with display:
        display.update(status())
        display.update(status())  # throttled: one line per 5 s per vehicle
    lines = [ln for ln in buf.getvalue().splitlines() if ln]
    assert len(lines) == 1 and "item 7/19" in lines[0] and "photos 12/44" in lines[0] and "batt 23%" in lines[0]

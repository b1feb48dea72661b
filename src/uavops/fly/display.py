"""What the operator sees during a flight: a rich Live table on stderr, or plain lines.

One row per vehicle: mission item i/N, distance to the next waypoint, ETA, altitude, ground
speed, battery, mode, photos. Every STATUSTEXT is printed above the table as it arrives.
Without a terminal (logs, CI) the same information is printed as lines, throttled.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["FlightStatus", "FlightDisplay"]

_SEV_STYLE = {0: "bold red", 1: "bold red", 2: "bold red", 3: "red", 4: "yellow", 5: "cyan", 6: "", 7: "dim"}


@dataclass
class FlightStatus:
    vehicle: str
    item: int | None = None
    items_total: int = 0
    dist_next_m: float | None = None
    eta_s: float | None = None
    alt_m: float | None = None
    speed_mps: float = 0.0
    battery_pct: int | None = None
    mode: str = "?"
    armed: bool = False
    photos: int = 0
    photos_planned: int = 0
    leg: str = "-"
    link: str = "ok"


class FlightDisplay:
    """Thread-safe; several vehicles may report into one display."""

    def __init__(self, *, live: bool | None = None, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.live_enabled = sys.stderr.isatty() if live is None else live
        self._rows: dict[str, FlightStatus] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._last_line: dict[str, float] = {}

    def __enter__(self) -> "FlightDisplay":
        if self.live_enabled:
            self._live = Live(self._table(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)
            self._live = None

    def note(self, text: str, style: str = "") -> None:
        self.console.print(text, style=style or None, highlight=False, markup=False)

    def statustext(self, vehicle: str, severity: int, text: str) -> None:
        self.console.print(f"[{vehicle}] {text}", style=_SEV_STYLE.get(severity) or None, highlight=False, markup=False)

    def update(self, status: FlightStatus) -> None:
        with self._lock:
            self._rows[status.vehicle] = status
        if self._live is not None:
            self._live.update(self._table())
            return
        now = time.monotonic()
        if now - self._last_line.get(status.vehicle, 0.0) >= 5.0:
            self._last_line[status.vehicle] = now
            self.console.print(self._line(status), highlight=False, markup=False)

    @staticmethod
    def _fmt(v: float | None, unit: str, nd: int = 0) -> str:
        return "-" if v is None else f"{v:.{nd}f}{unit}"

    def _line(self, s: FlightStatus) -> str:
        item = f"{s.item}/{s.items_total}" if s.item is not None else f"-/{s.items_total}"
        return (f"[{s.vehicle}] {s.mode}{' armed' if s.armed else ''} item {item} leg {s.leg} "
                f"next {self._fmt(s.dist_next_m, ' m')} ETA {self._fmt(s.eta_s, ' s')} "
                f"alt {self._fmt(s.alt_m, ' m', 1)} gs {s.speed_mps:.1f} m/s "
                f"batt {self._fmt(s.battery_pct, '%')} photos {s.photos}/{s.photos_planned} link {s.link}")

    def _table(self) -> Table:
        table = Table(title="uavops fly", expand=False)
        for col in ("vehicle", "mode", "item", "leg", "next", "ETA", "alt", "speed", "battery", "photos", "link"):
            table.add_column(col)
        with self._lock:
            rows = list(self._rows.values())
        for s in rows:
            item = f"{s.item}/{s.items_total}" if s.item is not None else f"-/{s.items_total}"
            batt_style = "red" if (s.battery_pct is not None and s.battery_pct < 30) else ""
            table.add_row(s.vehicle, s.mode + (" (armed)" if s.armed else ""), item, s.leg,
                          self._fmt(s.dist_next_m, " m"), self._fmt(s.eta_s, " s"), self._fmt(s.alt_m, " m", 1),
                          f"{s.speed_mps:.1f} m/s", f"[{batt_style}]{self._fmt(s.battery_pct, '%')}[/]" if batt_style
                          else self._fmt(s.battery_pct, "%"), f"{s.photos}/{s.photos_planned}",
                          s.link if s.link == "ok" else f"[red]{s.link}[/]")
        return table

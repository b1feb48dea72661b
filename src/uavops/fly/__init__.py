"""Flying a planned survey: preflight, flight, capture log, coverage ledger, resume and fleets.

``uavops fly`` is :func:`fly_new` / :func:`fly_resume` / :func:`fly_gaps` over
:class:`uavops.link.GroundLink`; see :mod:`uavops.fly.session` for the output folder layout.
"""

from __future__ import annotations

from .display import FlightDisplay
from .records import Capture, FlightRecord, Ledger, build_ledger, read_captures
from .runner import FlightInterrupted, FlyOptions
from .session import fly_gaps, fly_new, fly_resume, load_plan_parts

__all__ = ["fly_new", "fly_resume", "fly_gaps", "load_plan_parts", "FlyOptions", "FlightInterrupted", "FlightDisplay",
           "Capture", "FlightRecord", "Ledger", "build_ledger", "read_captures"]

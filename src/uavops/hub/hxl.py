"""An HXL-tagged CSV summary per event: one row per report, counts per damage grade.

Row 1 holds human headers, row 2 the HXL hashtags (https://hxlstandard.org), as HDX expects.
"""

from __future__ import annotations

import csv
import io
from typing import Any

__all__ = ["HXL_COLUMNS", "hxl_csv"]

HXL_COLUMNS: list[tuple[str, str]] = [
    ("Event", "#event+id"),
    ("Event type", "#event+type"),
    ("Country", "#country+code"),
    ("Organisation", "#org+code"),
    ("Report", "#meta+id"),
    ("Version", "#meta+version"),
    ("Acquired from", "#date+start"),
    ("Acquired to", "#date+end"),
    ("Reported", "#date+reported"),
    ("West", "#geo+bbox+lon+min"),
    ("South", "#geo+bbox+lat+min"),
    ("East", "#geo+bbox+lon+max"),
    ("North", "#geo+bbox+lat+max"),
    ("No visible damage", "#affected+buildings+undamaged+num"),
    ("Possibly damaged", "#affected+buildings+possibly_damaged+num"),
    ("Damaged", "#affected+buildings+damaged+num"),
    ("Destroyed", "#affected+buildings+destroyed+num"),
    ("Features", "#affected+buildings+total+num"),
]


def hxl_csv(event: dict[str, Any], reports: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([h for h, _ in HXL_COLUMNS])
    w.writerow([t for _, t in HXL_COLUMNS])
    for r in reports:
        g = r["summary"]["grades"]
        w.writerow(
            [
                event["id"],
                event["type"],
                r["country"],
                r["org"],
                r["id"],
                r["version"],
                r["datetime"]["start"],
                r["datetime"]["end"],
                r["updated"],
                *[f"{v:.6f}" for v in r["bbox"]],
                g.get("No visible damage", 0),
                g.get("Possibly damaged", 0),
                g.get("Damaged", 0),
                g.get("Destroyed", 0),
                r["summary"]["features"],
            ]
        )
    return buf.getvalue()

"""CAP 1.2 alerts (OASIS Common Alerting Protocol) for reports, scope ``Restricted``.

One alert per report version; later versions are ``Update`` messages that reference the first.
The area is the report's bounding box as a CAP polygon (``lat,lon`` pairs, closed).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

__all__ = ["CAP_NS", "cap_alert"]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
SEVERITY_BY_WORST = {
    "Destroyed": "Extreme",
    "Damaged": "Severe",
    "Possibly damaged": "Moderate",
    "No visible damage": "Minor",
}


def _cap_time(iso: str) -> str:
    return iso.replace("Z", "+00:00")


def cap_alert(report: dict[str, Any], event: dict[str, Any], sender: str, base: str) -> bytes:
    """The alert as UTF-8 XML bytes."""
    ET.register_namespace("", CAP_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
        if text is not None:
            el.text = text
        return el

    alert = ET.Element(f"{{{CAP_NS}}}alert")
    ident = f"uavops-{report['id']}-v{report['version']}"
    sub(alert, "identifier", ident)
    sub(alert, "sender", sender)
    sub(alert, "sent", _cap_time(report["updated"]))
    sub(alert, "status", "Actual")
    sub(alert, "msgType", "Alert" if report["version"] == 1 else "Update")
    sub(alert, "source", report["org"])
    sub(alert, "scope", "Restricted")
    sub(alert, "restriction", "Regional Coordination Mechanism members only; not for public release.")
    if report["version"] > 1:
        sub(alert, "references", f"{sender},uavops-{report['id']}-v1,{_cap_time(report['created'])}")
    sub(alert, "incidents", event["id"])
    grades = report["summary"]["grades"]
    worst = next(
        (g for g in ("Destroyed", "Damaged", "Possibly damaged") if grades.get(g)), "No visible damage"
    )
    info = sub(alert, "info")
    sub(info, "language", "en")
    sub(
        info,
        "category",
        "Geo"
        if event["type"] in ("earthquake", "landslide", "mudflow")
        else "Met"
        if event["type"] == "flood"
        else "Infra",
    )
    sub(info, "event", f"{event['type'].replace('_', ' ')} damage assessment")
    sub(info, "responseType", "Assess")
    sub(info, "urgency", "Immediate")
    sub(info, "severity", SEVERITY_BY_WORST[worst])
    sub(info, "certainty", "Observed")
    sub(info, "senderName", f"{report['org']} via uavops hub")
    counts = ", ".join(f"{g}: {n}" for g, n in grades.items())
    sub(info, "headline", f"Drone damage map for {event['name']} from {report['org']}")
    sub(info, "description", f"Damage features by grade (Copernicus EMS): {counts}.")
    sub(info, "web", f"{base}/stac/collections/{event['id']}/items/{report['id']}")
    for name, value in (
        ("event_id", event["id"]),
        ("glide", event.get("glide")),
        ("gdacs_id", event.get("gdacs_id")),
    ):
        if value:
            p = sub(info, "parameter")
            sub(p, "valueName", name)
            sub(p, "value", value)
    area = sub(info, "area")
    sub(area, "areaDesc", f"Survey area of report {report['id']} ({', '.join(event['countries'])})")
    minx, miny, maxx, maxy = report["bbox"]
    ring = [(miny, minx), (miny, maxx), (maxy, maxx), (maxy, minx), (miny, minx)]
    sub(area, "polygon", " ".join(f"{lat:.6f},{lon:.6f}" for lat, lon in ring))
    if report.get("country"):
        code = sub(area, "geocode")
        sub(code, "valueName", "ISO3166-1")
        sub(code, "value", report["country"])
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)

"""OGC API – Features Part 1 (Core, GeoJSON) documents, one collection per event.

The API definition at ``/api`` is FastAPI's OpenAPI 3.1 document, so the optional ``oas30``
conformance class is deliberately not claimed.

Pure functions from service results to JSON documents; ``base`` is the hub's public URL without a
trailing slash, so every link is absolute and no endpoint ever answers with a redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

__all__ = [
    "CONFORMANCE",
    "OPENAPI_MEDIA_TYPE",
    "collection",
    "collections",
    "conformance",
    "items_page",
    "landing_page",
]

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.1"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GEOJSON = "application/geo+json"


def landing_page(base: str) -> dict[str, Any]:
    return {
        "title": "uavops regional coordination hub",
        "description": "Damage maps from national emergency authorities, one collection per event.",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": "application/json", "title": "This document"},
            {
                "href": f"{base}/api",
                "rel": "service-desc",
                "type": OPENAPI_MEDIA_TYPE,
                "title": "The API definition",
            },
            {
                "href": f"{base}/conformance",
                "rel": "conformance",
                "type": "application/json",
                "title": "Conformance classes",
            },
            {"href": f"{base}/collections", "rel": "data", "type": "application/json", "title": "Events"},
            {
                "href": f"{base}/stac",
                "rel": "alternate",
                "type": "application/json",
                "title": "STAC catalogue",
            },
            {"href": f"{base}/map", "rel": "alternate", "type": "text/html", "title": "Web map"},
        ],
    }


def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


def collection(base: str, event: dict[str, Any], extent: dict[str, Any]) -> dict[str, Any]:
    eid = event["id"]
    bbox = extent["bbox"] or [-180.0, -90.0, 180.0, 90.0]
    return {
        "id": eid,
        "title": event["name"],
        "description": f"{event['type']} in {', '.join(event['countries'])}: damage features from all reports.",
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {
            "spatial": {"bbox": [bbox], "crs": CRS84},
            "temporal": {
                "interval": [[extent["start"] or event["start_date"], extent["end"] or event["end_date"]]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
        "links": [
            {"href": f"{base}/collections/{eid}", "rel": "self", "type": "application/json"},
            {
                "href": f"{base}/collections/{eid}/items",
                "rel": "items",
                "type": GEOJSON,
                "title": "Damage features",
            },
            {
                "href": f"{base}/stac/collections/{eid}",
                "rel": "alternate",
                "type": "application/json",
                "title": "STAC Collection",
            },
            {
                "href": f"{base}/events/{eid}/summary.hxl.csv",
                "rel": "describedby",
                "type": "text/csv",
                "title": "HXL summary",
            },
        ],
        "event": {k: event[k] for k in ("type", "countries", "start_date", "end_date", "glide", "gdacs_id")},
    }


def collections(base: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
        "collections": items,
    }


def items_page(
    base: str,
    event_id: str,
    feats: list[dict[str, Any]],
    total: int,
    *,
    limit: int,
    offset: int,
    params: dict[str, str],
    timestamp: str,
) -> dict[str, Any]:
    """A FeatureCollection page with ``self``/``next``/``prev`` links that keep the other query parameters."""
    url = f"{base}/collections/{event_id}/items"

    def link(rel: str, off: int) -> dict[str, Any]:
        q = {**params, "limit": str(limit), "offset": str(off)}
        return {"href": f"{url}?{urlencode(q)}", "rel": rel, "type": GEOJSON}

    links = [
        link("self", offset),
        {"href": f"{base}/collections/{event_id}", "rel": "collection", "type": "application/json"},
    ]
    if offset + len(feats) < total:
        links.append(link("next", offset + len(feats)))
    if offset > 0:
        links.append(link("prev", max(0, offset - limit)))
    return {
        "type": "FeatureCollection",
        "features": feats,
        "links": links,
        "timeStamp": timestamp,
        "numberMatched": total,
        "numberReturned": len(feats),
    }

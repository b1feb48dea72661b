"""STAC 1.0 documents: a Catalog at ``/stac``, a Collection per event, an Item per report (mosaic).

The mosaic is the Item's ``data`` asset (a COG); checksums use the file extension's multihash
(``1220`` + SHA-256 hex), ``gsd`` is in metres and ``proj:epsg`` comes from the raster.
"""

from __future__ import annotations

from typing import Any

__all__ = ["catalog", "stac_collection", "stac_item"]

STAC_VERSION = "1.0.0"
EXT_PROJ = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
EXT_FILE = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"


def catalog(base: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "uavops-hub",
        "description": "Drone damage mosaics reported to the regional coordination mechanism.",
        "links": [
            {"rel": "self", "href": f"{base}/stac", "type": "application/json"},
            {"rel": "root", "href": f"{base}/stac", "type": "application/json"},
        ]
        + [
            {
                "rel": "child",
                "href": f"{base}/stac/collections/{e['id']}",
                "type": "application/json",
                "title": e["name"],
            }
            for e in events
        ],
    }


def stac_collection(
    base: str, event: dict[str, Any], extent: dict[str, Any], reports: list[dict[str, Any]]
) -> dict[str, Any]:
    eid = event["id"]
    bbox = extent["bbox"] or [-180.0, -90.0, 180.0, 90.0]
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": eid,
        "title": event["name"],
        "description": f"Drone mosaics and damage maps for {event['name']}.",
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {
                "interval": [[extent["start"] or event["start_date"], extent["end"] or event["end_date"]]]
            },
        },
        "keywords": [event["type"], *event["countries"]],
        "links": [
            {"rel": "self", "href": f"{base}/stac/collections/{eid}", "type": "application/json"},
            {"rel": "root", "href": f"{base}/stac", "type": "application/json"},
            {"rel": "parent", "href": f"{base}/stac", "type": "application/json"},
        ]
        + [
            {
                "rel": "item",
                "href": f"{base}/stac/collections/{eid}/items/{r['id']}",
                "type": "application/geo+json",
            }
            for r in reports
        ],
    }


def _asset(
    base: str, report: dict[str, Any], f: dict[str, Any], roles: list[str], title: str
) -> dict[str, Any]:
    media = COG if f["media_type"].startswith("image/tiff") else f["media_type"]
    return {
        "href": f"{base}/reports/{report['id']}/files/{f['role']}",
        "type": media,
        "title": title,
        "roles": roles,
        "file:checksum": "1220" + f["sha256"],
        "file:size": f["size_bytes"],
    }


def stac_item(base: str, report: dict[str, Any]) -> dict[str, Any]:
    files = {f["role"]: f for f in report["files"]}
    summary = report["summary"]
    minx, miny, maxx, maxy = report["bbox"]
    assets: dict[str, Any] = {}
    if "mosaic" in files:
        assets["mosaic"] = _asset(base, report, files["mosaic"], ["data"], "Orthomosaic (COG)")
    assets["damage_raster"] = _asset(
        base, report, files["damage_raster"], ["data"], "Damage grade raster (COG)"
    )
    assets["damage_geojson"] = _asset(base, report, files["damage_geojson"], ["data"], "Damage polygons")
    assets["preview"] = _asset(base, report, files["preview"], ["overview"], "WGS84 preview")
    for role, title in (("report", "Report"), ("summary", "Summary")):
        if role in files:
            assets[role] = _asset(base, report, files[role], ["metadata"], title)
    start, end = report["datetime"]["start"], report["datetime"]["end"]
    props: dict[str, Any] = {
        "datetime": start if start == end else None,
        "start_datetime": start,
        "end_datetime": end,
        "created": report["created"],
        "updated": report["updated"],
        "gsd": summary.get("gsd_m"),
        "proj:epsg": summary.get("epsg"),
        "providers": [{"name": report["org"], "roles": ["producer"]}],
        "uavops:org": report["org"],
        "uavops:version": report["version"],
        "uavops:package_id": report["package_id"],
        "uavops:grades": summary["grades"],
        "platform": report["meta"].get("platform"),
    }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [EXT_PROJ, EXT_FILE],
        "id": report["id"],
        "collection": report["event_id"],
        "bbox": [minx, miny, maxx, maxy],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]]],
        },
        "properties": props,
        "assets": assets,
        "links": [
            {
                "rel": "self",
                "href": f"{base}/stac/collections/{report['event_id']}/items/{report['id']}",
                "type": "application/geo+json",
            },
            {
                "rel": "collection",
                "href": f"{base}/stac/collections/{report['event_id']}",
                "type": "application/json",
            },
            {"rel": "root", "href": f"{base}/stac", "type": "application/json"},
            {
                "rel": "alternate",
                "href": f"{base}/reports/{report['id']}/cap.xml",
                "type": "application/cap+xml",
                "title": "CAP alert",
            },
        ],
    }

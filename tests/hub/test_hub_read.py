"""Read side in-process: OGC API Features, STAC, CAP 1.2, HXL CSV, access policy, no redirects."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest
from fixtures.hub import EVENT_ID, make_package

from uavops.hub.client import Outbox


@pytest.fixture
def loaded(hub, tmp_path):
    """Three reports: two from KG (Bishkek, different days), one from KZ (Almaty)."""
    ids = {}
    with hub.upload_client("kg") as c:
        ids["kg1"] = c.upload(
            make_package(tmp_path / "kg1", tag="kg1", n_features=8, acquired="2026-05-02T06:30:00Z"),
            Outbox(tmp_path / "o"),
        ).report_id
        ids["kg2"] = c.upload(
            make_package(
                tmp_path / "kg2", tag="kg2", n_features=4, mosaic=False, acquired="2026-05-05T06:30:00Z"
            ),
            Outbox(tmp_path / "o"),
        ).report_id
    with hub.upload_client("kz") as c:
        ids["kz"] = c.upload(
            make_package(
                tmp_path / "kz",
                tag="kz",
                producer="KZ-MChS",
                site="Almaty",
                n_features=4,
                acquired="2026-05-03T09:00:00Z",
            ),
            Outbox(tmp_path / "o"),
        ).report_id
    return hub, ids


def test_ogc_landing_conformance_collections(loaded):
    hub, _ = loaded
    with hub.http("coord") as http:
        landing = http.get("/").json()
        rels = {l["rel"] for l in landing["links"]}
        assert {"self", "service-desc", "conformance", "data"} <= rels
        conf = http.get("/conformance").json()["conformsTo"]
        assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
        assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
        api = http.get("/api")
        assert api.headers["content-type"].startswith("application/vnd.oai.openapi+json")
        assert "/collections/{event_id}/items" in api.json()["paths"]
        colls = http.get("/collections").json()["collections"]
        assert [c["id"] for c in colls] == [EVENT_ID]
        coll = http.get(f"/collections/{EVENT_ID}").json()
        bbox = coll["extent"]["spatial"]["bbox"][0]
        assert 74.0 < bbox[0] < 75.0 and 76.0 < bbox[2] < 77.5  # Bishkek to Almaty
        assert coll["extent"]["temporal"]["interval"][0] == ["2026-05-02T06:30:00Z", "2026-05-05T06:30:00Z"]


def test_items_paging_bbox_datetime(loaded):
    hub, ids = loaded
    with hub.http("kz") as http:
        page = http.get(f"/collections/{EVENT_ID}/items", params={"limit": 5})
        assert page.status_code == 200 and page.headers["content-type"] == "application/geo+json"
        body = page.json()
        assert body["numberMatched"] == 16 and body["numberReturned"] == 5
        seen = [f["id"] for f in body["features"]]
        while nxt := next((l["href"] for l in body["links"] if l["rel"] == "next"), None):
            assert nxt.startswith("http://hub.test/collections/")
            body = http.get(nxt).json()
            seen += [f["id"] for f in body["features"]]
        assert len(seen) == len(set(seen)) == 16
        almaty = http.get(f"/collections/{EVENT_ID}/items", params={"bbox": "76.5,43.0,77.2,43.5"}).json()
        assert almaty["numberMatched"] == 4 and {f["properties"]["org"] for f in almaty["features"]} == {
            "KZ-MChS"
        }
        day = http.get(
            f"/collections/{EVENT_ID}/items", params={"datetime": "2026-05-04T00:00:00Z/.."}
        ).json()
        assert {f["properties"]["report_id"] for f in day["features"]} == {ids["kg2"]}
        instant = http.get(
            f"/collections/{EVENT_ID}/items", params={"datetime": "2026-05-03T09:00:00Z"}
        ).json()
        assert instant["numberMatched"] == 4
        kg = http.get(f"/collections/{EVENT_ID}/items", params={"country": "KG", "limit": 100}).json()
        assert kg["numberMatched"] == 12
        fid = seen[0]
        one = http.get(f"/collections/{EVENT_ID}/items/{fid}")
        assert one.status_code == 200 and one.json()["id"] == fid
        assert one.json()["properties"]["damage_gra"] in (
            "No visible damage",
            "Possibly damaged",
            "Damaged",
            "Destroyed",
        )
        for bad in (
            {"bbox": "1,2,3"},
            {"datetime": "yesterday"},
            {"limit": 0},
            {"limit": 10001},
            {"foo": "1"},
            {"bbox": "0,95,1,96"},
        ):
            r = http.get(f"/collections/{EVENT_ID}/items", params=bad)
            assert r.status_code in (400, 422), (bad, r.text)
            assert r.json()["detail"]
        assert http.get("/collections/nope/items").status_code == 404
        assert http.get(f"/collections/{EVENT_ID}/items/999999").status_code == 404


def test_no_redirects_anywhere(loaded):
    hub, _ = loaded
    with hub.http("coord") as http:
        for path in ("/collections/", f"/collections/{EVENT_ID}/", "/stac/", "/conformance/"):
            r = http.get(path, follow_redirects=False)
            assert r.status_code == 404, path
        for path in ("/", "/collections", f"/collections/{EVENT_ID}/items", "/stac", "/map"):
            r = http.get(path, follow_redirects=False)
            assert r.status_code == 200, path


def test_stac_item_and_collection(loaded):
    hub, ids = loaded
    with hub.http("coord") as http:
        root = http.get("/stac").json()
        assert root["type"] == "Catalog" and any(l["rel"] == "child" for l in root["links"])
        coll = http.get(f"/stac/collections/{EVENT_ID}").json()
        assert coll["type"] == "Collection" and coll["stac_version"] == "1.0.0"
        assert sum(1 for l in coll["links"] if l["rel"] == "item") == 3
        item = http.get(f"/stac/collections/{EVENT_ID}/items/{ids['kg1']}").json()
        assert item["type"] == "Feature" and item["collection"] == EVENT_ID
        assert item["properties"]["proj:epsg"] == 32643
        assert item["properties"]["gsd"] == pytest.approx(0.8, rel=0.01)
        mosaic = item["assets"]["mosaic"]
        assert mosaic["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
        assert "data" in mosaic["roles"] and mosaic["file:checksum"].startswith("1220")
        blob = http.get(mosaic["href"])
        import hashlib

        assert "1220" + hashlib.sha256(blob.content).hexdigest() == mosaic["file:checksum"]
        no_mosaic = http.get(f"/stac/collections/{EVENT_ID}/items/{ids['kg2']}").json()
        assert "mosaic" not in no_mosaic["assets"] and "damage_raster" in no_mosaic["assets"]
        items = http.get(f"/stac/collections/{EVENT_ID}/items").json()
        assert len(items["features"]) == 3


def test_cap_alert(loaded):
    hub, ids = loaded
    ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
    with hub.http("coord") as http:
        r = http.get(f"/reports/{ids['kz']}/cap.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/cap+xml")
    root = ET.fromstring(r.content)
    assert root.tag == "{urn:oasis:names:tc:emergency:cap:1.2}alert"
    # element order of the CAP 1.2 XML schema (xs:sequence), required ones first
    alert_seq = [
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "source",
        "scope",
        "restriction",
        "addresses",
        "code",
        "note",
        "references",
        "incidents",
        "info",
    ]
    info_seq = [
        "language",
        "category",
        "event",
        "responseType",
        "urgency",
        "severity",
        "certainty",
        "audience",
        "eventCode",
        "effective",
        "onset",
        "expires",
        "senderName",
        "headline",
        "description",
        "instruction",
        "web",
        "contact",
        "parameter",
        "resource",
        "area",
    ]

    def in_schema_order(el, seq):
        tags = [child.tag.split("}")[1] for child in el]
        return all(t in seq for t in tags) and [seq.index(t) for t in tags] == sorted(
            seq.index(t) for t in tags
        )

    assert in_schema_order(root, alert_seq)
    assert {"identifier", "sender", "sent", "status", "msgType", "scope"} <= {
        c.tag.split("}")[1] for c in root
    }
    assert in_schema_order(root.find("cap:info", ns), info_seq)
    assert root.findtext("cap:scope", namespaces=ns) == "Restricted"
    assert root.findtext("cap:restriction", namespaces=ns)
    info = root.find("cap:info", ns)
    for tag in ("category", "event", "urgency", "severity", "certainty"):
        assert info.findtext(f"cap:{tag}", namespaces=ns), tag
    assert info.findtext("cap:severity", namespaces=ns) == "Extreme"  # the package has Destroyed features
    poly = info.find("cap:area", ns).findtext("cap:polygon", namespaces=ns).split()
    assert len(poly) == 5 and poly[0] == poly[-1]
    lat, lon = map(float, poly[0].split(","))
    assert 43.0 < lat < 43.5 and 76.5 < lon < 77.2  # CAP order is lat,lon
    import re

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", root.findtext("cap:sent", namespaces=ns)
    )


def test_hxl_csv(loaded):
    hub, ids = loaded
    with hub.http("coord") as http:
        r = http.get(f"/events/{EVENT_ID}/summary.hxl.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[1][0] == "#event+id" and all(t.startswith("#") for t in rows[1])
    data = [dict(zip(rows[1], row)) for row in rows[2:]]
    assert len(data) == 3
    kz = next(d for d in data if d["#org+code"] == "KZ-MChS")
    assert kz["#country+code"] == "KZ" and kz["#affected+buildings+destroyed+num"] == "1"
    assert kz["#meta+id"] == ids["kz"]


def test_read_side_needs_a_token_unless_public(hub, tmp_path):
    from dataclasses import replace

    import httpx

    from uavops.hub.app import create_app
    from uavops.hub.client import sync_transport

    with hub.http(None) as anon:
        for path in (
            "/",
            "/collections",
            f"/collections/{EVENT_ID}/items",
            "/stac",
            "/events",
            "/reports",
            f"/events/{EVENT_ID}/summary.hxl.csv",
        ):
            assert anon.get(path).status_code == 401, path
        for path in ("/conformance", "/api", "/map", "/static/leaflet/leaflet.js", "/healthz"):
            assert anon.get(path).status_code == 200, path
    public = create_app(replace(hub.config, public_read=True), service=hub.service)
    with httpx.Client(transport=sync_transport(httpx.ASGITransport(app=public)), base_url="http://h") as anon:
        assert anon.get("/collections").status_code == 200
        assert anon.delete("/reports/x").status_code == 401  # writes still need a token

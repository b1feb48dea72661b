"""Every bad input gets a clear 4xx JSON error and stores nothing."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from fixtures.hub import EVENT_ID, make_package, refresh_manifest


def tus_upload(http, data: bytes, package_id: str = "pkg-1", chunk: int = 1 << 20):
    """Raw tus upload of ``data``; returns the finalize response (or the first failing response)."""
    meta = {"package_id": package_id, "sha256": hashlib.sha256(data).hexdigest(), "filename": "x.tar"}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    r = http.post(
        "/uploads",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": header},
    )
    if r.status_code >= 400:
        return r
    url = r.headers["Location"]
    for off in range(0, len(data), chunk):
        piece = data[off : off + chunk]
        r = http.patch(
            url,
            content=piece,
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(off),
                "Content-Type": "application/offset+octet-stream",
                "Upload-Checksum": "sha256 " + base64.b64encode(hashlib.sha256(piece).digest()).decode(),
            },
        )
        if r.status_code >= 400:
            return r
    return http.post(f"{url}/finalize")


def tar_bytes(folder: Path, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for p in sorted(folder.iterdir()):
            tf.add(p, arcname=p.name)
        for info in extra or []:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
    return buf.getvalue()


def pid(folder: Path) -> str:
    return json.loads((folder / "package.json").read_text())["package_id"]


def assert_error(resp, status: int, *words: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) >= {"error", "detail", "status"} and body["status"] == status
    assert body["detail"].endswith(".") and "Traceback" not in body["detail"]
    for w in words:
        assert w.lower() in body["detail"].lower(), body["detail"]


def test_valid_raw_upload_is_accepted(sqlite_hub, hub_package):
    with sqlite_hub.http("kg") as http:
        r = tus_upload(http, tar_bytes(hub_package), pid(hub_package), chunk=7000)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "created"


@pytest.mark.parametrize(
    "case, status, words",
    [
        ("not_json", 422, ["not valid JSON"]),
        ("not_fc", 422, ["FeatureCollection"]),
        ("self_intersection", 422, ["invalid geometry", "Self-intersection"]),
        ("out_of_range", 422, ["outside WGS84"]),
        ("unclosed", 422, ["not closed"]),
        ("bad_grade", 422, ["damage_gra", "Destroyed"]),
        ("line", 422, ["LineString"]),
        ("projected_crs", 422, ["WGS84"]),
        ("too_many", 413, ["features, more than"]),
    ],
)
def test_bad_geojson(sqlite_hub, tmp_path, case, status, words):
    ring = [[74.57, 42.87], [74.571, 42.87], [74.571, 42.871], [74.57, 42.871], [74.57, 42.87]]
    feat = lambda geom, grade="Damaged": {
        "type": "Feature",
        "geometry": geom,
        "properties": {"damage_gra": grade},
    }
    poly = {"type": "Polygon", "coordinates": [ring]}
    docs = {
        "not_fc": {"type": "Feature", "geometry": poly, "properties": {}},
        "self_intersection": {
            "type": "FeatureCollection",
            "features": [
                feat(
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [74.57, 42.87],
                                [74.571, 42.871],
                                [74.571, 42.87],
                                [74.57, 42.871],
                                [74.57, 42.87],
                            ]
                        ],
                    }
                )
            ],
        },
        "out_of_range": {
            "type": "FeatureCollection",
            "features": [
                feat(
                    {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [500000.0, 4700000.0],
                                [500010.0, 4700000.0],
                                [500010.0, 4700010.0],
                                [500000.0, 4700000.0],
                            ]
                        ],
                    }
                )
            ],
        },
        "unclosed": {
            "type": "FeatureCollection",
            "features": [feat({"type": "Polygon", "coordinates": [ring[:-1]]})],
        },
        "bad_grade": {"type": "FeatureCollection", "features": [feat(poly, "Flattened")]},
        "line": {
            "type": "FeatureCollection",
            "features": [feat({"type": "LineString", "coordinates": ring})],
        },
        "projected_crs": {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32643"}},
            "features": [feat(poly)],
        },
        "too_many": {"type": "FeatureCollection", "features": [feat(poly)] * 30},
    }
    pkg = make_package(tmp_path / "p")
    if case == "not_json":
        (pkg / "damage.geojson").write_text("{not json")
    else:
        (pkg / "damage.geojson").write_text(json.dumps(docs[case]))
    refresh_manifest(pkg)
    from dataclasses import replace

    sqlite_hub.service.config = replace(sqlite_hub.service.config, max_features=20)
    with sqlite_hub.http("kg") as http:
        assert_error(tus_upload(http, tar_bytes(pkg), pid(pkg)), status, *words)
    assert sqlite_hub.service.list_reports() == []


def _vrt(path: Path) -> None:
    path.write_text(
        '<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1">'
        "<SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource>"
        "</VRTRasterBand></VRTDataset>"
    )


@pytest.mark.parametrize(
    "case, words",
    [
        ("vrt", ["wrong file signature"]),
        ("png", ["wrong file signature"]),
        ("truncated", ["cannot be read"]),
        ("no_crs", ["no coordinate system"]),
        ("big_untiled", ["not cloud-optimised"]),
    ],
)
def test_bad_geotiff(sqlite_hub, tmp_path, case, words):
    import numpy as np
    import rasterio

    pkg = make_package(tmp_path / "p")
    target = pkg / "mosaic.tif"
    if case == "vrt":
        _vrt(target)
    elif case == "png":
        from PIL import Image

        Image.new("RGB", (8, 8)).save(target, format="PNG")
    elif case == "truncated":
        target.write_bytes(target.read_bytes()[: int(target.stat().st_size * 0.6)])
    elif case == "no_crs":
        with rasterio.open(target, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8") as ds:
            ds.write(np.zeros((1, 8, 8), dtype=np.uint8))
    elif case == "big_untiled":
        from rasterio.transform import from_origin

        with rasterio.open(
            target,
            "w",
            driver="GTiff",
            width=1024,
            height=600,
            count=1,
            dtype="uint8",
            crs="EPSG:32643",
            transform=from_origin(500000, 4700000, 0.1, 0.1),
        ) as ds:
            ds.write(np.zeros((1, 600, 1024), dtype=np.uint8))
    refresh_manifest(pkg)
    with sqlite_hub.http("kg") as http:
        assert_error(tus_upload(http, tar_bytes(pkg), pid(pkg)), 422, *words)
    assert sqlite_hub.service.list_reports() == []


def test_geotiff_is_opened_only_with_the_gtiff_driver(tmp_path):
    """A VRT that pretends to be a TIFF (right magic, then XML) is refused by the driver restriction."""
    from uavops.errors import HubValidationError
    from uavops.hub.validation import validate_geotiff

    fake = tmp_path / "evil.tif"
    fake.write_bytes(b"II*\x00" + b"<VRTDataset></VRTDataset>")
    with pytest.raises(HubValidationError, match="cannot be read as a GeoTIFF"):
        validate_geotiff(fake, "mosaic")


def test_archive_path_traversal_symlink_and_hardlink(sqlite_hub, hub_package):
    evil = tarfile.TarInfo("../../etc/evil.txt")
    evil.size = 3
    link = tarfile.TarInfo("link.tif")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("hard.tif")
    hard.type, hard.linkname = tarfile.LNKTYPE, "damage.tif"
    with sqlite_hub.http("kg") as http:
        assert_error(
            tus_upload(http, tar_bytes(hub_package, [evil]), pid(hub_package)), 422, "outside the package"
        )
        assert_error(
            tus_upload(http, tar_bytes(hub_package, [link]), pid(hub_package) + "b"), 422, "link or special"
        )
        assert_error(
            tus_upload(http, tar_bytes(hub_package, [hard]), pid(hub_package) + "c"), 422, "link or special"
        )
        # zip members with a symlink mode bit are refused too
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for p in sorted(hub_package.iterdir()):
                zf.write(p, p.name)
            info = zipfile.ZipInfo("sneaky")
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
        assert_error(tus_upload(http, buf.getvalue(), pid(hub_package) + "d"), 422, "link or special")
    assert not (sqlite_hub.config.data_dir.parent / "etc").exists()
    assert sqlite_hub.service.list_reports() == []


def test_zip_bomb_is_refused(sqlite_hub, hub_package):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(hub_package.iterdir()):
            zf.write(p, p.name)
        zf.writestr("bomb.bin", b"\0" * (50 << 20))
    assert len(buf.getvalue()) < 1 << 20
    with sqlite_hub.http("kg") as http:
        assert_error(tus_upload(http, buf.getvalue(), pid(hub_package)), 413, "zip bomb")


def test_not_an_archive_and_missing_or_unlisted_files(sqlite_hub, hub_package):
    with sqlite_hub.http("kg") as http:
        assert_error(tus_upload(http, b"hello world" * 100, "junk"), 422, "not a .tar")
        (hub_package / "stray.txt").write_text("x")
        assert_error(
            tus_upload(http, tar_bytes(hub_package), pid(hub_package)), 422, "not listed", "stray.txt"
        )
        (hub_package / "stray.txt").unlink()
        (hub_package / "report.html").write_text("edited after packaging")
        assert_error(tus_upload(http, tar_bytes(hub_package), pid(hub_package) + "x"), 422, "does not match")


def test_truncated_tar_is_refused_and_gzip_tar_still_works(sqlite_hub, hub_package, tmp_path):
    """Members are copied straight out of an uncompressed tar; a cut-off one must not slip through."""
    data = tar_bytes(hub_package)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        mosaic = next(m for m in tf.getmembers() if m.name == "mosaic.tif")
    cut = data[: mosaic.offset_data + mosaic.size // 2]
    with sqlite_hub.http("kg") as http:
        assert_error(tus_upload(http, cut, pid(hub_package)), 422, "mosaic.tif", "cut short")
        gz = io.BytesIO()
        with tarfile.open(fileobj=gz, mode="w:gz") as tf:
            for p in sorted(hub_package.iterdir()):
                tf.add(p, arcname=p.name)
        r = tus_upload(http, gz.getvalue(), pid(hub_package))
        assert r.status_code == 201, r.text
        report = http.get(f"/reports/{r.json()['report_id']}/files/mosaic")
        assert report.content == (hub_package / "mosaic.tif").read_bytes()


def test_members_are_copied_without_copy_file_range(sqlite_hub, hub_package, monkeypatch):
    """Where the kernel cannot copy between files (other systems, some file systems) Python copies."""
    import os

    def unsupported(*args, **kwargs):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "copy_file_range", unsupported)
    with sqlite_hub.http("kg") as http:
        r = tus_upload(http, tar_bytes(hub_package), pid(hub_package))
        assert r.status_code == 201, r.text
        mosaic = http.get(f"/reports/{r.json()['report_id']}/files/mosaic")
        assert mosaic.content == (hub_package / "mosaic.tif").read_bytes()


def test_unknown_event_and_wrong_producer(sqlite_hub, tmp_path):
    with sqlite_hub.http("kg") as http:
        pkg = make_package(tmp_path / "e", event_id="NO-SUCH-EVENT")
        assert_error(tus_upload(http, tar_bytes(pkg), pid(pkg)), 422, "NO-SUCH-EVENT", "does not exist")
        pkg2 = make_package(tmp_path / "p", producer="KZ-MChS")
        assert_error(tus_upload(http, tar_bytes(pkg2), pid(pkg2)), 403, "KZ-MChS")


def test_size_limits_per_file_and_per_org(sqlite_hub, hub_package):
    from dataclasses import replace

    svc = sqlite_hub.service
    data = tar_bytes(hub_package)
    svc.config = replace(svc.config, max_file_bytes=5000)
    with sqlite_hub.http("kg") as http:
        assert_error(tus_upload(http, data, pid(hub_package)), 413, "allowed per file")
        svc.config = replace(svc.config, max_file_bytes=1 << 30, max_org_bytes=len(data) // 2)
        assert_error(tus_upload(http, data, pid(hub_package) + "-2"), 413, "quota")
        svc.config = replace(svc.config, max_org_bytes=1 << 30, max_upload_bytes=100)
        assert_error(tus_upload(http, data, pid(hub_package) + "-3"), 413, "in one upload")
    assert svc.list_reports() == []


def test_tus_discovery(sqlite_hub):
    with sqlite_hub.http("kg") as http:
        r = http.options("/uploads")
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0" and r.headers["Tus-Resumable"] == "1.0.0"
    assert set(r.headers["Tus-Extension"].split(",")) == {"creation", "checksum"}
    assert r.headers["Tus-Checksum-Algorithm"] == "sha256" and int(r.headers["Tus-Max-Size"]) > 0


def test_chunk_checksum_and_whole_file_hash(sqlite_hub, hub_package):
    data = tar_bytes(hub_package)
    meta = {"package_id": pid(hub_package), "sha256": hashlib.sha256(data).hexdigest()}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    with sqlite_hub.http("kg") as http:
        r = http.post(
            "/uploads",
            headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": header},
        )
        url = r.headers["Location"]
        bad = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        r = http.patch(
            url,
            content=data,
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
                "Upload-Checksum": bad,
            },
        )
        assert_error(r, 460, "damaged")
        assert http.head(url, headers={"Tus-Resumable": "1.0.0"}).headers["Upload-Offset"] == "0"
        # wrong offset, wrong content type, wrong tus version
        r = http.patch(
            url,
            content=data[:10],
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "5",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert_error(r, 409, "Upload-Offset 5")
        r = http.patch(
            url,
            content=data[:10],
            headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "text/plain"},
        )
        assert_error(r, 415, "offset+octet-stream")
        r = http.patch(
            url,
            content=data[:10],
            headers={
                "Tus-Resumable": "0.2.2",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert_error(r, 412, "Tus-Resumable")
        assert_error(http.post(f"{url}/finalize"), 409, "incomplete")
        # bytes that do not match the announced whole-file SHA-256
        corrupt = bytearray(data)
        corrupt[1000] ^= 0xFF
        r = http.patch(
            url,
            content=bytes(corrupt),
            headers={
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert r.status_code == 204
        assert_error(http.post(f"{url}/finalize"), 422, "SHA-256")
        assert http.head(url, headers={"Tus-Resumable": "1.0.0"}).headers["Upload-Offset"] == "0"


def test_bad_tokens_are_401(sqlite_hub, hub_package):
    import httpx

    from uavops.hub.app import create_app
    from uavops.hub.client import sync_transport

    svc = sqlite_hub.service
    expired = svc.create_token("KG-MChS", "operator", expires_days=0)["token"]
    revoked = svc.create_token("KG-MChS", "operator")
    svc.revoke_token(revoked["token_id"])
    transport = sync_transport(httpx.ASGITransport(app=create_app(sqlite_hub.config, service=svc)))
    with httpx.Client(transport=transport, base_url="http://hub.test") as http:
        assert_error(http.get("/collections"), 401, "needs an API token")
        assert_error(http.get("/collections", headers={"Authorization": "Basic abc"}), 401)
        assert_error(
            http.get("/collections", headers={"Authorization": "Bearer uvh_wrong"}), 401, "not valid"
        )
        assert_error(http.get("/collections", headers={"Authorization": f"Bearer {expired}"}), 401, "expired")
        assert_error(
            http.get("/collections", headers={"Authorization": f"Bearer {revoked['token']}"}), 401, "revoked"
        )
        r = http.post(
            "/uploads",
            headers={"Authorization": f"Bearer {expired}", "Tus-Resumable": "1.0.0", "Upload-Length": "10"},
        )
        assert_error(r, 401)
        # public endpoints
        assert http.get("/conformance").status_code == 200
        assert http.get("/map").status_code == 200


def test_operator_of_one_country_cannot_change_another_countrys_report(hub, hub_package, tmp_path):
    from uavops.hub.client import Outbox

    with hub.upload_client("kg") as client:
        report_id = client.upload(hub_package, Outbox(tmp_path / "ob")).report_id
    hub.service.add_event("2026-KG-FL-002", "flood", "Flood", ["KG"], "2026-06-01")
    with hub.http("kz") as kz:
        assert_error(kz.delete(f"/reports/{report_id}"), 403, "belongs to KG-MChS")
        assert_error(kz.patch(f"/reports/{report_id}", json={"event_id": "2026-KG-FL-002"}), 403, "KG-MChS")
        assert kz.get(f"/reports/{report_id}").status_code == 200  # reading is shared
    with hub.http("coord") as coord:
        assert_error(coord.delete(f"/reports/{report_id}"), 403)
    assert hub.service.get_report(report_id)["event_id"] == EVENT_ID
    with hub.http("kg") as kg:
        assert kg.patch(f"/reports/{report_id}", json={"event_id": "2026-KG-FL-002"}).status_code == 200
        assert kg.delete(f"/reports/{report_id}").status_code == 204
        assert_error(kg.get(f"/reports/{report_id}"), 404)
    actions = [
        (e["action"], e["org_code"])
        for e in hub.service.audit_entries(hub.service.authenticate(f"Bearer {hub.tokens['admin']}"))
    ]
    assert ("report.update", "KG-MChS") in actions and ("report.delete", "KG-MChS") in actions


def test_coordinator_cannot_upload_and_operator_cannot_add_events(sqlite_hub, hub_package):
    with sqlite_hub.http("coord") as http:
        assert_error(tus_upload(http, tar_bytes(hub_package), pid(hub_package)), 403, "operator")
    with sqlite_hub.http("kg") as http:
        r = http.post(
            "/events", json={"id": "X-1", "type": "flood", "countries": ["KG"], "start_date": "2026-01-01"}
        )
        assert_error(r, 403, "coordinator")
        assert_error(http.get("/audit"), 403)
    with sqlite_hub.http("coord") as http:
        r = http.post(
            "/events", json={"id": "X-1", "type": "volcano", "countries": ["KG"], "start_date": "2026-01-01"}
        )
        assert_error(r, 422, "volcano")
        r = http.post(
            "/events", json={"id": "X-1", "type": "flood", "countries": ["KG"], "start_date": "2026-01-01"}
        )
        assert r.status_code == 201
        assert_error(
            http.post(
                "/events",
                json={"id": "X-1", "type": "flood", "countries": ["KG"], "start_date": "2026-01-01"},
            ),
            409,
            "already exists",
        )

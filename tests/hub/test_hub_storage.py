"""Storage back ends: S3-compatible blob store (moto server on loopback) and Alembic migrations."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fixtures.hub import EVENT_ID, SeededHub, make_package, seed_hub

from uavops.errors import HubValidationError
from uavops.hub.client import Outbox


@pytest.fixture
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_s3_blob_store_round_trip(tmp_path, s3_endpoint, hub_database_url):
    import boto3

    from uavops.hub.config import HubConfig
    from uavops.hub.service import HubService

    config = HubConfig(
        data_dir=tmp_path / "hub",
        database_url=hub_database_url,
        blob_url="s3://uavops-hub/blobs",
        s3_endpoint_url=s3_endpoint,
        s3_access_key="test",
        s3_secret_key="test",
    )
    service = HubService(config)
    hub = SeededHub(config, service, seed_hub(service))
    pkg = make_package(tmp_path / "pkg", mosaic_px=96)
    with hub.upload_client() as client:
        report_id = client.upload(pkg, Outbox(tmp_path / "o")).report_id
    assert not (config.data_dir / "blobs").exists()
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="uavops-hub")["Contents"]]
    mosaic_sha = hashlib.sha256((pkg / "mosaic.tif").read_bytes()).hexdigest()
    assert f"blobs/sha256/{mosaic_sha[:2]}/{mosaic_sha}" in keys
    with hub.http("coord") as http:
        r = http.get(f"/reports/{report_id}/files/mosaic")
        assert r.status_code == 200 and r.content == (pkg / "mosaic.tif").read_bytes()
        data = (pkg / "mosaic.tif").read_bytes()
        part = http.get(f"/reports/{report_id}/files/mosaic", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        tail = http.get(f"/reports/{report_id}/files/mosaic", headers={"Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == data[-50:]
        head = http.head(f"/reports/{report_id}/files/mosaic")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
        bad = http.get(f"/reports/{report_id}/files/mosaic", headers={"Range": f"bytes={len(data) + 5}-"})
        assert bad.status_code == 416
        item = http.get(f"/stac/collections/{EVENT_ID}/items/{report_id}").json()
        assert item["assets"]["mosaic"]["file:checksum"] == "1220" + mosaic_sha
    service.close()


def test_migrations_match_the_schema(tmp_path, hub_database_url):
    """The Alembic history produces exactly the SQLAlchemy schema the code uses, on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from uavops.hub import db
    from uavops.hub.config import HubConfig

    config = HubConfig(data_dir=tmp_path, database_url=hub_database_url)
    engine = db.make_engine(config.sqlalchemy_url)
    db.migrate(engine)
    db.migrate(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    engine.dispose()
    assert diff == [] and version == "0003"


def test_audit_log_is_append_only(hub, hub_package, tmp_path):
    import sqlalchemy as sa
    from sqlalchemy.exc import DatabaseError

    from uavops.hub import db

    with hub.upload_client() as client:
        client.upload(hub_package, Outbox(tmp_path / "o"))
    with hub.service.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(db.audit_log)).scalar_one()
    assert n >= 8  # orgs, event, tokens, upload, report
    for stmt in (db.audit_log.update().values(action="tampered"), db.audit_log.delete()):
        with pytest.raises(DatabaseError, match="append-only"), hub.service.engine.begin() as conn:
            conn.execute(stmt)
    with hub.service.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.audit_log)).scalar_one() == n


def test_concurrent_finalise_gives_one_report(sqlite_hub, hub_package, tmp_path):
    """Two finalise calls racing (a client retry while the first still runs) register one report."""
    import threading

    from uavops.hub.service import UploadBusyError

    entry = Outbox(tmp_path / "o").enqueue(hub_package)
    kg = sqlite_hub.service.authenticate(f"Bearer {sqlite_hub.tokens['kg']}")
    state, _ = sqlite_hub.service.create_upload(
        kg, entry.size_bytes, entry.package_id, entry.sha256, entry.package_sha256
    )
    sqlite_hub.service.append_chunk(kg, state.id, 0, entry.archive.read_bytes(), None)
    results: list[object] = []

    def fin() -> None:
        try:
            results.append(sqlite_hub.service.finalize_upload(kg, state.id)["report_id"])
        except UploadBusyError as exc:
            results.append(exc)

    threads = [threading.Thread(target=fin) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = {r for r in results if isinstance(r, str)}
    assert len(ids) == 1 and len(sqlite_hub.service.list_reports()) == 1
    assert sqlite_hub.service.finalize_upload(kg, state.id)["report_id"] in ids


def test_stale_staging_files_are_purged(sqlite_hub):
    import os
    import time

    old = sqlite_hub.service.upload_dir / "deadbeef.bin"
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    fresh = sqlite_hub.service.upload_dir / "cafebabe.bin"
    fresh.write_bytes(b"y")
    assert sqlite_hub.service.purge_stale() == 1
    assert not old.exists() and fresh.exists()


def test_sqlite_runs_in_wal_mode(sqlite_hub):
    with sqlite_hub.service.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    assert Path(sqlite_hub.config.data_dir / "hub.sqlite").is_file()


def test_interrupted_chunk_and_restart_keep_the_whole_file_hash_right(sqlite_hub, hub_package, tmp_path):
    """A body cut off mid-way stores nothing; after a restart the hub re-hashes what it has, once.

    The running whole-file SHA-256 lives in memory; a fresh service (a restarted hub) must rebuild it
    from the bytes on disk, or finalisation would compare the wrong digest.
    """
    from uavops.hub.config import HubConfig
    from uavops.hub.service import HubService

    entry = Outbox(tmp_path / "o").enqueue(hub_package)
    data = entry.archive.read_bytes()
    svc = sqlite_hub.service
    kg = svc.authenticate(f"Bearer {sqlite_hub.tokens['kg']}")
    state, _ = svc.create_upload(kg, entry.size_bytes, entry.package_id, entry.sha256, entry.package_sha256)
    half = len(data) // 2
    svc.append_chunk(kg, state.id, 0, data[:half], None)
    # a second chunk whose connection drops after some bytes: aborted, nothing of it is kept
    writer = svc.open_chunk(kg, state.id, half, None, len(data) - half)
    writer.write(data[half : half + 1000])
    writer.abort()
    assert svc.upload_state(kg, state.id).offset == half
    upload_file = svc.upload_dir / f"{state.id}.bin"
    assert upload_file.stat().st_size == half
    # a chunk that would run past Upload-Length is refused before a byte is stored
    with pytest.raises(HubValidationError, match="Upload-Length"):
        svc.open_chunk(kg, state.id, half, None, len(data))
    # "restart": a new service on the same data folder knows nothing of the running hash
    restarted = HubService(HubConfig(data_dir=sqlite_hub.config.data_dir))
    try:
        assert restarted.upload_state(kg, state.id).offset == half
        restarted.append_chunk(kg, state.id, half, data[half:], None)
        result = restarted.finalize_upload(kg, state.id)
        assert result["status"] == "created"
        assert len(restarted.list_reports()) == 1
    finally:
        restarted.close()


def test_a_chunk_larger_than_the_limit_is_refused(tmp_path, hub_package):
    """PATCH bodies over max_chunk_bytes get 413, also when Content-Length is not announced."""
    import base64

    import httpx

    from uavops.hub.app import create_app
    from uavops.hub.client import sync_transport
    from uavops.hub.config import HubConfig
    from uavops.hub.service import HubService

    config = HubConfig(data_dir=tmp_path / "hub", max_chunk_bytes=10_000)
    svc = HubService(config)
    tokens = seed_hub(svc)
    entry = Outbox(tmp_path / "o").enqueue(hub_package)
    data = entry.archive.read_bytes()
    meta = {"package_id": entry.package_id, "sha256": entry.sha256}
    header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    tus = {"Tus-Resumable": "1.0.0"}
    with httpx.Client(
        transport=sync_transport(httpx.ASGITransport(app=create_app(config, service=svc))),
        base_url="http://hub.test",
        headers={"Authorization": f"Bearer {tokens['kg']}"},
    ) as http:
        r = http.post("/uploads", headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": header})
        url = r.headers["Location"]
        patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
        r = http.patch(url, content=data[:20_000], headers=patch)
        assert r.status_code == 413 and "at most 10000 bytes" in r.json()["detail"]
        # streamed without Content-Length (chunked): stopped while reading, nothing kept
        r = http.patch(url, content=iter([data[:8_000], data[8_000:16_000]]), headers=patch)
        assert r.status_code == 413
        assert http.head(url, headers=tus).headers["Upload-Offset"] == "0"
        piece = data[:10_000]
        digest = base64.b64encode(hashlib.sha256(piece).digest()).decode()
        r = http.patch(url, content=piece, headers={**patch, "Upload-Checksum": f"sha256 {digest}"})
        assert r.status_code == 204 and r.headers["Upload-Offset"] == "10000"
    svc.close()

"""Upload protocol end to end, in-process (ASGI) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fixtures.hub import EVENT_ID, make_package

from uavops.errors import ConflictError
from uavops.hub.client import HubUnreachableError, Outbox


def test_upload_registers_one_report_with_all_files(hub, hub_package, tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    with hub.upload_client(chunk_bytes=20_000) as client:
        result = client.upload(hub_package, outbox)
    assert result.status == "created" and result.version == 1
    assert outbox.entries() == []
    report = hub.service.get_report(result.report_id)
    assert report["org"] == "KG-MChS" and report["event_id"] == EVENT_ID
    roles = {f["role"] for f in report["files"]}
    assert {"damage_geojson", "damage_raster", "mosaic", "report", "summary", "package", "preview"} <= roles
    assert report["summary"]["grades"] == {
        "No visible damage": 1,
        "Possibly damaged": 1,
        "Damaged": 1,
        "Destroyed": 1,
    }
    with hub.http("coord") as http:
        r = http.get(f"/reports/{result.report_id}/files/mosaic")
        assert r.status_code == 200
        assert r.content == (hub_package / "mosaic.tif").read_bytes()
    feats, total = hub.service.query_features(EVENT_ID)
    assert total == 4 and {f["properties"]["tag"] for f in feats} == {"kg-1"}


def test_same_package_twice_is_one_report(hub, hub_package, tmp_path):
    outbox = Outbox(tmp_path / "outbox")
    with hub.upload_client() as client:
        first = client.upload(hub_package, outbox)
        second = client.upload(hub_package, outbox)
    assert second.report_id == first.report_id and second.status == "exists" and second.bytes_sent == 0
    assert len(hub.service.list_reports()) == 1
    assert hub.service.query_features(EVENT_ID)[1] == 4


def test_changed_package_with_same_id_is_a_new_version(hub, tmp_path):
    pkg = make_package(tmp_path / "p", package_id="kg-bishkek-0001", n_features=4, tag="v1")
    with hub.upload_client() as client:
        first = client.upload(pkg, Outbox(tmp_path / "ob"))
        pkg2 = make_package(tmp_path / "p2", package_id="kg-bishkek-0001", n_features=8, tag="v2")
        second = client.upload(pkg2, Outbox(tmp_path / "ob"))
    assert second.report_id == first.report_id and second.version == 2 and second.status == "new_version"
    feats, total = hub.service.query_features(EVENT_ID)
    assert total == 8 and {f["properties"]["tag"] for f in feats} == {"v2"}
    assert hub.service.get_report(first.report_id, version=1)["summary"]["features"] == 4
    actions = [e["action"] for e in hub.service.audit_entries(_admin(hub))]
    assert actions.count("report.create") == 1 and actions.count("report.version") == 1


def _admin(hub):
    return hub.service.authenticate(f"Bearer {hub.tokens['admin']}")


class FlakyTransport(httpx.BaseTransport):
    """Drops the connection on chosen PATCH requests: before the hub sees them, or after it answered."""

    def __init__(self, inner: httpx.BaseTransport, drop_before: set[int], drop_after: set[int]) -> None:
        self.inner, self.drop_before, self.drop_after = inner, drop_before, drop_after
        self.patches = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.patches += 1
            if self.patches in self.drop_before:
                raise httpx.ConnectError("link down")
            resp = self.inner.handle_request(request)
            if self.patches in self.drop_after:
                raise httpx.ReadError("connection reset after the hub stored the chunk")
            return resp
        return self.inner.handle_request(request)


def test_dropped_connections_resume_from_confirmed_byte(hub, hub_package, tmp_path):
    from uavops.hub.client import UploadClient, sync_transport

    inner = sync_transport(httpx.ASGITransport(app=hub.app))
    flaky = FlakyTransport(inner, drop_before={2, 5}, drop_after={3, 7})
    sleeps: list[float] = []
    client = UploadClient(
        "http://hub.test",
        hub.tokens["kg"],
        transport=flaky,
        chunk_bytes=4_000,
        backoff_s=0.2,
        sleep=sleeps.append,
    )
    result = client.upload(hub_package, Outbox(tmp_path / "ob"))
    assert result.status == "created"
    # patch 2 and its retry (3) fail back to back, so the delay doubles; it resets after a success
    assert sleeps == [0.2, 0.4, 0.2, 0.2]
    assert flaky.patches > 8
    report = hub.service.get_report(result.report_id)
    assert (
        next(f for f in report["files"] if f["role"] == "mosaic")["sha256"]
        == json.loads((hub_package / "package.json").read_text())["files"][2]["sha256"]
    )
    assert len(hub.service.list_reports()) == 1


def test_client_restart_resumes_from_state_on_disk(hub, hub_package, tmp_path):
    """A client that dies mid-upload leaves state.json; the next run continues from the hub's offset."""
    outbox = Outbox(tmp_path / "ob")
    entry = outbox.enqueue(hub_package)

    class Killed(Exception):
        pass

    def die_after_three(done: int, total: int) -> None:
        if done >= 3 * 10_000:
            raise Killed

    with hub.upload_client(chunk_bytes=10_000) as client, pytest.raises(Killed):
        client.send(entry, die_after_three)
    state = json.loads((entry.folder / "state.json").read_text())["state"]
    assert state["upload_url"].startswith("http://hub.test/uploads/")
    again = Outbox(tmp_path / "ob").enqueue(hub_package)  # a new process finds the same entry
    assert again.state["upload_url"] == state["upload_url"]
    with hub.upload_client(chunk_bytes=10_000) as client:
        result = client.send(again)
    assert result.resumed_from == 30_000 and result.bytes_sent == again.size_bytes - 30_000
    assert len(hub.service.list_reports()) == 1


def test_lost_state_still_resumes_by_package_id(hub, hub_package, tmp_path):
    """Even without state.json the hub finds the unfinished upload by package id + SHA-256."""
    outbox = Outbox(tmp_path / "ob")
    entry = outbox.enqueue(hub_package)
    with hub.upload_client(chunk_bytes=10_000) as client:
        with pytest.raises(RuntimeError):
            client.send(
                entry, lambda done, total: (_ for _ in ()).throw(RuntimeError()) if done >= 20_000 else None
            )
    entry.state.clear()
    entry.save()
    with hub.upload_client(chunk_bytes=10_000) as client:
        result = client.send(Outbox(tmp_path / "ob").enqueue(hub_package))
    assert result.resumed_from == 20_000
    assert len(hub.service.list_reports()) == 1


def test_outbox_queues_while_offline_and_flush_sends_later(hub, tmp_path, run_cli):
    from uavops.hub.client import UploadClient

    outbox = Outbox(tmp_path / "ob")
    pkgs = [make_package(tmp_path / f"p{i}", tag=f"t{i}") for i in range(2)]
    offline = UploadClient("http://127.0.0.1:9", hub.tokens["kg"], max_retries=2, backoff_s=0.0)
    for p in pkgs:
        with pytest.raises(HubUnreachableError):
            offline.upload(p, outbox)
    assert len(outbox.entries()) == 2
    with hub.upload_client() as client:
        results = client.flush(outbox)
    assert all(not isinstance(r, Exception) for _, r in results) and len(results) == 2
    assert outbox.entries() == []
    assert {r["package_id"] for r in hub.service.list_reports()} == {
        json.loads((p / "package.json").read_text())["package_id"] for p in pkgs
    }


def test_other_org_cannot_reuse_a_package_id(hub, hub_package, tmp_path):
    with hub.upload_client("kg") as client:
        client.upload(hub_package, Outbox(tmp_path / "a"))
    other = make_package(
        tmp_path / "kz",
        producer="KZ-MChS",
        site="Almaty",
        package_id=json.loads((hub_package / "package.json").read_text())["package_id"],
    )
    with hub.upload_client("kz") as client, pytest.raises(ConflictError, match="KG-MChS"):
        client.upload(other, Outbox(tmp_path / "b"))


def test_tar_and_zip_packages_are_accepted(hub, tmp_path):
    import shutil

    pkg = make_package(tmp_path / "zipped", tag="z")
    archive = Path(shutil.make_archive(str(tmp_path / "pkgzip"), "zip", pkg))
    with hub.upload_client() as client:
        result = client.upload(archive, Outbox(tmp_path / "ob"))
    assert result.status == "created"
    pkg2 = make_package(tmp_path / "tarred", tag="t")
    archive2 = Path(shutil.make_archive(str(tmp_path / "pkgtar"), "gztar", pkg2))
    with hub.upload_client() as client:
        assert client.upload(archive2, Outbox(tmp_path / "ob")).status == "created"
    assert hub.service.query_features(EVENT_ID)[1] == 8


class SizeRecorder(FlakyTransport):
    """FlakyTransport that also records the size of every PATCH body."""

    def __init__(self, inner: httpx.BaseTransport, drop_before: set[int]) -> None:
        super().__init__(inner, drop_before, set())
        self.sizes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.sizes.append(int(request.headers["Content-Length"]))
        return super().handle_request(request)


def test_adaptive_chunks_grow_on_a_fast_link_and_shrink_after_failures(sqlite_hub, tmp_path):
    from uavops.hub.client import UploadClient, sync_transport

    pkg = make_package(tmp_path / "pkg", mosaic_px=320, tag="adaptive")
    inner = sync_transport(httpx.ASGITransport(app=sqlite_hub.app))
    link = SizeRecorder(inner, drop_before={4, 5})
    sleeps: list[float] = []
    client = UploadClient(
        "http://hub.test",
        sqlite_hub.tokens["kg"],
        transport=link,
        chunk_bytes=8_000,
        max_chunk_bytes=64_000,
        backoff_s=0.01,
        sleep=sleeps.append,
    )
    result = client.upload(pkg, Outbox(tmp_path / "ob"))
    assert result.status == "created"
    s = link.sizes
    # fast chunks double (8 k, 16 k, 32 k), the two dropped ones halve it (64 k -> 32 k -> 16 k) ...
    assert s[:3] == [8_000, 16_000, 32_000]
    assert s[3] == 64_000 and s[4] == 32_000 and s[5] == 16_000
    # ... and it grows again up to the ceiling, never beyond
    assert max(s) == 64_000 and s[6] == 32_000 and all(n <= 64_000 for n in s)
    report = sqlite_hub.service.get_report(result.report_id)
    mosaic = next(f for f in report["files"] if f["role"] == "mosaic")
    assert mosaic["sha256"] == json.loads((pkg / "package.json").read_text())["files"][2]["sha256"]


def test_adaptive_chunks_stay_small_on_a_slow_link(sqlite_hub, tmp_path):
    """A chunk that takes longer than the target time is not doubled; a fixed size never changes."""
    from uavops.hub.client import UploadClient

    client = UploadClient("http://hub.test", "uvh_x", chunk_bytes=400_000, max_chunk_bytes=1_000_000)
    client._adapt(400_000, 6.0)  # 400 kB in 6 s: twice the 3 s target, so halve
    assert client.chunk_bytes == 200_000
    client._adapt(200_000, 3.0)  # on target: keep
    assert client.chunk_bytes == 200_000
    client._adapt(200_000, 0.001)  # very fast: at most double
    assert client.chunk_bytes == 400_000
    for _ in range(20):
        client._adapt(client.chunk_bytes, None)  # failures: halve down to the floor, not below
    assert client.chunk_bytes == 64 << 10
    fixed = UploadClient("http://hub.test", "uvh_x", chunk_bytes=4_000)
    fixed._adapt(4_000, 0.001)
    fixed._adapt(4_000, None)
    assert fixed.chunk_bytes == 4_000
    default = UploadClient("http://hub.test", "uvh_x")
    assert default.chunk_bytes == 2 << 20 and default.max_chunk_bytes == 32 << 20

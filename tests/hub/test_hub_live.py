"""A real uvicorn hub on loopback (SQLite; PostgreSQL with two workers): uploads, crashes, concurrency,
and third-party OGC clients (GDAL's ogrinfo and pyogrio) reading what was uploaded."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fixtures.hub import EVENT_ID, make_package

from uavops.hub.client import Outbox, UploadClient

requires_ogrinfo = pytest.mark.skipif(
    shutil.which("ogrinfo") is None, reason="needs ogrinfo (Debian gdal-bin)"
)


def auth(live, who="coord"):
    return {"Authorization": f"Bearer {live.tokens[who]}"}


@requires_ogrinfo
def test_cli_upload_then_visible_in_ogc_stac_cap_map_and_gdal(live_hub, tmp_path, run_cli):
    pkg = make_package(tmp_path / "pkg", tag="live", n_features=8)
    r = run_cli("upload", str(pkg), "--hub", live_hub.url, "--token", live_hub.tokens["kg"])
    assert r.exit_code == 0, r.stderr
    report_id = r.stdout.strip()
    assert len(report_id) == 16
    h = auth(live_hub)
    items = httpx.get(f"{live_hub.url}/collections/{EVENT_ID}/items", headers=h).json()
    assert items["numberMatched"] == 8 and {f["properties"]["report_id"] for f in items["features"]} == {
        report_id
    }
    stac = httpx.get(f"{live_hub.url}/stac/collections/{EVENT_ID}/items/{report_id}", headers=h).json()
    assert stac["assets"]["mosaic"]["href"].startswith(live_hub.url)
    # the STAC mosaic asset is a COG that GDAL reads in place over HTTP range requests
    import rasterio

    with rasterio.Env(
        GDAL_HTTP_AUTH="BEARER",
        GDAL_HTTP_BEARER=live_hub.tokens["coord"],
        GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR",
    ):
        with rasterio.open(f"/vsicurl/{stac['assets']['mosaic']['href']}") as cog:
            assert cog.driver == "GTiff" and cog.crs.to_epsg() == stac["properties"]["proj:epsg"]
            with rasterio.open(pkg / "mosaic.tif") as orig:
                assert (cog.read() == orig.read()).all()
    cap = httpx.get(f"{live_hub.url}/reports/{report_id}/cap.xml", headers=h)
    assert cap.status_code == 200 and b"<scope>Restricted</scope>" in cap.content
    assert "leaflet.js" in httpx.get(f"{live_hub.url}/map").text
    # GDAL's OGC API - Features driver (a client nobody here wrote), token passed as a header
    env = {**os.environ, "GDAL_HTTP_HEADERS": f"Authorization: Bearer {live_hub.tokens['coord']}"}
    out = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", f"OAPIF:{live_hub.url}", EVENT_ID],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "Feature Count: 8" in out.stdout and "damage_gra" in out.stdout
    full = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-al",
            "-q",
            "-spat",
            "74.5",
            "42.8",
            "74.7",
            "42.9",
            f"OAPIF:{live_hub.url}",
            EVENT_ID,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert full.returncode == 0, full.stderr
    assert full.stdout.count("POLYGON") == 8 and "Destroyed" in full.stdout
    denied = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{live_hub.url}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "GDAL_HTTP_HEADERS"},
    )
    assert denied.returncode != 0  # no token, no data
    # pyogrio (GDAL through Python) pages through the collection with a small page size
    import pyogrio
    from pyogrio.raw import read

    pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": live_hub.tokens["kz"]})
    try:
        meta, _fids, geometry, fields = read(f"OAPIF:{live_hub.url}", layer=EVENT_ID, PAGE_SIZE=3)
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_AUTH": None, "GDAL_HTTP_BEARER": None})
    grades = list(fields[list(meta["fields"]).index("damage_gra")])
    assert len(geometry) == 8 and sorted(set(grades)) == [
        "Damaged",
        "Destroyed",
        "No visible damage",
        "Possibly damaged",
    ]


def test_server_killed_mid_upload_client_resumes(live_hub_scaled, tmp_path):
    live_hub = live_hub_scaled
    pkg = make_package(tmp_path / "pkg", mosaic_px=256, tag="crash")
    progress: list[int] = []
    killed = threading.Event()

    def restart_later() -> None:
        time.sleep(1.0)
        live_hub.start()

    def on_progress(done: int, total: int) -> None:
        progress.append(done)
        if not killed.is_set() and done >= 4 * 16_384:
            live_hub.kill()  # SIGKILL, mid-upload
            killed.set()
            threading.Thread(target=restart_later, daemon=True).start()

    client = UploadClient(
        live_hub.url,
        live_hub.tokens["kg"],
        chunk_bytes=16_384,
        backoff_s=0.2,
        max_backoff_s=1.0,
        max_retries=60,
    )
    with client:
        result = client.upload(pkg, Outbox(tmp_path / "ob"), on_progress)
    assert killed.is_set()
    assert progress == sorted(progress)  # resumed, never restarted from byte 0
    kill_at = next(i for i, v in enumerate(progress) if v >= 4 * 16_384)
    assert progress[kill_at + 1] >= progress[kill_at]
    h = auth(live_hub)
    reports = httpx.get(f"{live_hub.url}/reports", headers=h).json()
    assert [r["id"] for r in reports] == [result.report_id]
    mosaic = httpx.get(f"{live_hub.url}/reports/{result.report_id}/files/mosaic", headers=h)
    assert mosaic.content == (pkg / "mosaic.tif").read_bytes()
    assert httpx.get(f"{live_hub.url}/collections/{EVENT_ID}/items", headers=h).json()["numberMatched"] == 4


def test_server_killed_in_the_middle_of_a_chunk_body(live_hub, tmp_path):
    """SIGKILL while a large chunk is still streaming in, with part of it already on disk: the bytes
    past the confirmed offset are dropped on the next PATCH, the restarted hub re-hashes what it had
    confirmed, and the upload ends as one complete report (nothing is fsynced before finalisation)."""
    pkg = make_package(tmp_path / "pkg", mosaic_px=900, tag="mid-chunk")
    entry = Outbox(tmp_path / "ob").enqueue(pkg)
    tus = {**auth(live_hub, "kg"), "Tus-Resumable": "1.0.0"}
    seen: dict[str, int] = {}

    def kill_mid_chunk() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.02)
            url = entry.state.get("upload_url")
            files = list((live_hub.data_dir / "uploads").glob("*.bin"))
            if not url or not files:
                continue
            before = int(httpx.head(url, headers=tus).headers["Upload-Offset"])
            size = files[0].stat().st_size
            after = int(httpx.head(url, headers=tus).headers["Upload-Offset"])
            if before == after and size > after:  # a chunk is half on disk, not yet confirmed
                live_hub.kill()
                seen.update(offset=after, size=size)
                time.sleep(1.0)
                live_hub.start()
                return

    sleeps: list[float] = []
    client = UploadClient(
        live_hub.url,
        live_hub.tokens["kg"],
        chunk_bytes=1_500_000,
        max_rate_bps=1_200_000,
        backoff_s=0.2,
        max_backoff_s=1.0,
        max_retries=60,
        sleep=lambda s: (sleeps.append(s), time.sleep(s)),
    )
    killer = threading.Thread(target=kill_mid_chunk, daemon=True)
    killer.start()
    with client:
        result = client.send(entry)
    killer.join(timeout=30)
    assert seen and seen["size"] > seen["offset"], "the hub was not killed in the middle of a chunk"
    assert result.status == "created" and sleeps  # it had to retry
    h = auth(live_hub)
    reports = httpx.get(f"{live_hub.url}/reports", headers=h).json()
    assert [r["id"] for r in reports] == [result.report_id]
    mosaic = httpx.get(f"{live_hub.url}/reports/{result.report_id}/files/mosaic", headers=h)
    assert mosaic.content == (pkg / "mosaic.tif").read_bytes()
    assert not list((live_hub.data_dir / "uploads").glob("*.bin"))  # finalised and removed


def test_client_killed_mid_upload_rerun_resumes(live_hub, tmp_path):
    pkg = make_package(tmp_path / "pkg", mosaic_px=256, tag="client-crash")
    outbox = tmp_path / "outbox"
    env = {**os.environ, "UAVOPS_OUTBOX_DIR": str(outbox)}
    base = [
        sys.executable,
        "-m",
        "uavops.cli.main",
        "upload",
        str(pkg),
        "--hub",
        live_hub.url,
        "--token",
        live_hub.tokens["kg"],
        "--json",
        "--chunk-mb",
        "0.016",
    ]
    proc = subprocess.Popen(
        base + ["--max-rate-kbps", "60"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    offset = 0
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and offset < 50_000:
            time.sleep(0.2)
            states = list(outbox.glob("*/state.json"))
            if states:
                url = json.loads(states[0].read_text())["state"].get("upload_url")
                if url:
                    r = httpx.head(url, headers={**auth(live_hub, "kg"), "Tus-Resumable": "1.0.0"})
                    offset = int(r.headers.get("Upload-Offset", 0))
        assert proc.poll() is None, "client finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert offset >= 50_000
    done = subprocess.run(base, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "created" and result["resumed_from"] >= offset
    reports = httpx.get(f"{live_hub.url}/reports", headers=auth(live_hub)).json()
    assert [r["id"] for r in reports] == [result["report_id"]]
    again = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(again.stdout)["report_id"] == result["report_id"]
    assert json.loads(again.stdout)["status"] == "exists"


def test_twenty_concurrent_uploads_from_different_orgs(live_hub_scaled, tmp_path):
    live_hub = live_hub_scaled
    if live_hub.database_url:  # the scaled deployment really runs several worker processes
        import psutil

        workers = [
            p
            for p in psutil.Process(live_hub.proc.pid).children(recursive=True)
            if "spawn_main" in " ".join(p.cmdline())
        ]
        assert len(workers) == 2
    from uavops.hub.config import HubConfig
    from uavops.hub.service import HubService

    svc = HubService(HubConfig(data_dir=live_hub.data_dir, database_url=live_hub.database_url), migrate=False)
    countries = ["KG", "KZ", "TJ", "UZ", "TM"]
    tokens = {}
    for i in range(20):
        code = f"{countries[i % 5]}-ORG{i:02d}"
        svc.add_org(code, f"Authority {i}", countries[i % 5])
        tokens[code] = svc.create_token(code, "operator")["token"]
    svc.close()
    pkgs = {
        code: make_package(
            tmp_path / code,
            producer=code,
            tag=code,
            site="Bishkek" if i % 2 else "Almaty",
            n_features=4 + i % 3,
            mosaic_px=96,
            seed=i,
        )
        for i, code in enumerate(tokens)
    }
    results: dict[str, object] = {}

    def send(code: str) -> None:
        try:
            with UploadClient(
                live_hub.url, tokens[code], chunk_bytes=8_192, backoff_s=0.1, max_retries=20
            ) as c:
                results[code] = c.upload(pkgs[code], Outbox(tmp_path / f"ob-{code}"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[code] = exc

    threads = [threading.Thread(target=send, args=(code,)) for code in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    failures = {k: v for k, v in results.items() if isinstance(v, Exception)}
    assert not failures and len(results) == 20
    h = auth(live_hub)
    reports = httpx.get(f"{live_hub.url}/reports", headers=h).json()
    assert len(reports) == 20
    by_org = {r["org"]: r for r in reports}
    assert set(by_org) == set(tokens)
    items = httpx.get(
        f"{live_hub.url}/collections/{EVENT_ID}/items", params={"limit": 1000}, headers=h
    ).json()
    assert items["numberMatched"] == sum(4 + i % 3 for i in range(20))
    for feat in items["features"]:  # nothing mixed: every feature sits in its own org's report
        p = feat["properties"]
        assert p["tag"] == p["org"] and by_org[p["org"]]["id"] == p["report_id"]
    for code, res in results.items():
        assert by_org[code]["id"] == res.report_id
        mosaic = httpx.get(f"{live_hub.url}/reports/{res.report_id}/files/mosaic", headers=h)
        assert mosaic.content == (pkgs[code] / "mosaic.tif").read_bytes()

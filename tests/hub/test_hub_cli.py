"""The command line: ``uavops hub org/token/event`` and ``uavops upload`` exactly as the issue names them."""

from __future__ import annotations

import json

from fixtures.hub import EVENT_ID, make_package


def test_admin_commands_and_upload_via_asgi(tmp_path, run_cli):
    data = tmp_path / "hub"
    r = run_cli("hub", "org", "add", "KG-MChS", "--name", "MChS of Kyrgyzstan", "--data-dir", str(data))
    assert r.exit_code == 0 and r.stdout.strip() == "KG-MChS"
    r = run_cli("hub", "token", "create", "--data-dir", str(data), "--org", "KG-MChS", "--role", "operator")
    assert r.exit_code == 0
    token = r.stdout.strip()
    assert token.startswith("uvh_") and len(token) > 40
    r = run_cli(
        "hub",
        "event",
        "add",
        EVENT_ID,
        "--type",
        "earthquake",
        "--countries",
        "KG,KZ",
        "--start",
        "2026-05-01",
        "--glide",
        "EQ-2026-000123-KGZ",
        "--data-dir",
        str(data),
        "--json",
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["countries"] == ["KG", "KZ"]
    r = run_cli("hub", "token", "list", "--data-dir", str(data), "--json")
    listed = json.loads(r.stdout)
    assert (
        len(listed) == 1 and token not in r.stdout and "token_hash" not in r.stdout
    )  # only the hash is stored
    r = run_cli("hub", "event", "list", "--data-dir", str(data))
    assert EVENT_ID in r.stdout
    # the token is stored hashed: its text appears nowhere in the database file
    assert token.encode() not in (data / "hub.sqlite").read_bytes()
    r = run_cli("hub", "token", "revoke", listed[0]["id"], "--data-dir", str(data))
    assert r.exit_code == 0


def test_cli_errors_are_one_sentence_exit_2(tmp_path, run_cli):
    data = tmp_path / "hub"
    r = run_cli("hub", "token", "create", "--data-dir", str(data), "--org", "XX-Nobody", "--role", "operator")
    assert r.exit_code == 2 and r.stderr.startswith("Error: Organisation XX-Nobody does not exist")
    r = run_cli("hub", "org", "add", "kyrgyz", "--data-dir", str(data))
    assert r.exit_code == 2 and "must look like KG-MChS" in r.stderr
    r = run_cli(
        "hub",
        "event",
        "add",
        "E1",
        "--type",
        "volcano",
        "--countries",
        "KG",
        "--start",
        "2026-01-01",
        "--data-dir",
        str(data),
    )
    assert r.exit_code == 2 and "volcano" in r.stderr
    r = run_cli("hub", "token", "list")
    assert r.exit_code == 2 and "--data-dir" in r.stderr
    r = run_cli("hub", "serve", "--data-dir", str(data), "--database-url", "mysql://x")
    assert r.exit_code == 2 and "not supported" in r.stderr
    pkg = make_package(tmp_path / "pkg")
    r = run_cli("upload", str(pkg), "--hub", "ftp://x", "--token", "t")
    assert r.exit_code == 2 and "http://" in r.stderr
    r = run_cli("upload", str(pkg), "--hub", "http://127.0.0.1:9")
    assert r.exit_code == 2 and "token" in r.stderr
    r = run_cli("upload", str(tmp_path), "--hub", "http://127.0.0.1:9", "--token", "t")
    assert r.exit_code == 2 and "package.json" in r.stderr
    r = run_cli("upload")
    assert r.exit_code == 2 and "--flush" in r.stderr
    for args in (["hub", "--help"], ["hub", "serve", "--help"], ["upload", "--help"]):
        assert run_cli(*args).exit_code == 0


def test_upload_offline_queues_then_flush(live_hub, tmp_path, run_cli):
    pkg = make_package(tmp_path / "pkg", tag="queued")
    r = run_cli(
        "upload",
        str(pkg),
        "--hub",
        "http://127.0.0.1:9",
        "--token",
        live_hub.tokens["kg"],
        "--retries",
        "1",
        "--backoff-s",
        "0",
    )
    assert r.exit_code == 2 and "upload --flush" in r.stderr and "outbox" in r.stderr
    r = run_cli("upload", "--flush", "--hub", live_hub.url, "--token", live_hub.tokens["kg"], "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out) == 1 and out[0]["status"] == "created"
    r = run_cli("upload", str(pkg), "--hub", live_hub.url, "--token", live_hub.tokens["kg"])
    assert r.exit_code == 0 and r.stdout.strip() == out[0]["report_id"]  # same package: same report
    r = run_cli("upload", str(pkg), "--hub", live_hub.url, "--token", "uvh_wrong")
    assert r.exit_code == 2 and "not valid" in r.stderr


def _pre_post(folder, size_px: int = 400):
    """Two georeferenced RGB GeoTIFFs over Bishkek: a collapsed block and debris in the post image."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(1)
    pre = (rng.random((3, size_px, size_px)) * 60 + 100).astype(np.uint8)
    post = pre.copy()
    post[:, 100:200, 100:200] = 30
    post[:, 250:300, 250:330] = 240
    paths = []
    for name, arr in (("pre.tif", pre), ("post.tif", post)):
        path = folder / name
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=size_px,
            height=size_px,
            count=3,
            dtype="uint8",
            crs="EPSG:32643",
            transform=from_origin(475000, 4747000, 0.2, 0.2),
            tiled=True,
        ) as ds:
            ds.write(arr)
        paths.append(path)
    return paths


def test_package_written_by_uavops_damage_uploads_with_its_mosaic(live_hub, tmp_path, run_cli):
    import httpx

    pre, post = _pre_post(tmp_path)
    out = tmp_path / "damage"
    r = run_cli(
        "damage",
        "--post",
        str(post),
        "--pre",
        str(pre),
        "--out",
        str(out),
        "--producer",
        "KG-MChS",
        "--event",
        "earthquake",
        "--no-progress",
    )
    assert r.exit_code == 0, r.stderr
    meta = json.loads((out / "package.json").read_text())
    assert meta["event"]["incident_id"] is None  # the damage stage does not know the hub's event id
    base = ["upload", str(out), "--hub", live_hub.url, "--token", live_hub.tokens["kg"]]
    r = run_cli(*base, "--mosaic", str(post))
    assert r.exit_code == 2 and "--event" in r.stderr
    r = run_cli(*base, "--mosaic", str(post), "--event", EVENT_ID, "--json")  # resumes the complete upload
    assert r.exit_code == 0, r.stderr
    report_id = json.loads(r.stdout)["report_id"]
    assert json.loads(r.stdout)["bytes_sent"] == 0  # nothing resent: the hub already had every byte
    h = {"Authorization": f"Bearer {live_hub.tokens['coord']}"}
    item = httpx.get(f"{live_hub.url}/stac/collections/{EVENT_ID}/items/{report_id}", headers=h).json()
    assert item["assets"]["mosaic"]["file:size"] == post.stat().st_size
    assert item["properties"]["start_datetime"].startswith(meta["obs_date"])
    got = httpx.get(item["assets"]["mosaic"]["href"], headers=h).content
    assert got == post.read_bytes()
    roles = {f["role"] for f in httpx.get(f"{live_hub.url}/reports/{report_id}", headers=h).json()["files"]}
    assert {"damage_geojson", "damage_raster", "mosaic", "other", "report", "summary"} <= roles

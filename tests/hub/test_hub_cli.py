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
    r = run_cli("hub", "event", "add", EVENT_ID, "--type", "earthquake", "--countries", "KG,KZ", "--start",
                "2026-05-01", "--glide", "EQ-2026-000123-KGZ", "--data-dir", str(data), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["countries"] == ["KG", "KZ"]
    r = run_cli("hub", "token", "list", "--data-dir", str(data), "--json")
    listed = json.loads(r.stdout)
    assert len(listed) == 1 and token not in r.stdout and "token_hash" not in r.stdout  # only the hash is stored
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
    r = run_cli("hub", "event", "add", "E1", "--type", "volcano", "--countries", "KG", "--start", "2026-01-01",
                "--data-dir", str(data))
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
    r = run_cli("upload", str(pkg), "--hub", "http://127.0.0.1:9", "--token", live_hub.tokens["kg"], "--retries",
                "1", "--backoff-s", "0")
    assert r.exit_code == 2 and "upload --flush" in r.stderr and "outbox" in r.stderr
    r = run_cli("upload", "--flush", "--hub", live_hub.url, "--token", live_hub.tokens["kg"], "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out) == 1 and out[0]["status"] == "created"
    r = run_cli("upload", str(pkg), "--hub", live_hub.url, "--token", live_hub.tokens["kg"])
    assert r.exit_code == 0 and r.stdout.strip() == out[0]["report_id"]  # same package: same report
    r = run_cli("upload", str(pkg), "--hub", live_hub.url, "--token", "uvh_wrong")
    assert r.exit_code == 2 and "not valid" in r.stderr

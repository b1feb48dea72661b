from __future__ import annotations

import json
import threading
import time
from pathlib import Path


def test_camera_cli_writes_a_photo_per_trigger(run_cli, tmp_path: Path, small_quake_scene):
    from fixtures.vehicles import MavClient, start_vehicle

    with start_vehicle("builtin", tmp_path, extra_tcp_ports=(0,)) as vehicle:
        gcs = MavClient(vehicle.connect_url, vehicle.speedup)
        gcs.request_streams(4)
        done = threading.Event()

        def shoot() -> None:
            time.sleep(1.5)  # the camera attaches first
            for _ in range(3):
                gcs.command(203, 0, 0, 0, 0, 1)  # DO_DIGICAM_CONTROL shoot
                time.sleep(0.3)
            done.set()

        th = threading.Thread(target=shoot)
        th.start()
        r = run_cli("camera", "--connect", vehicle.extra_urls[0], "--scene", str(small_quake_scene.root),
                    "--photos", str(tmp_path / "photos"), "--camera", "DJI Phantom 3 FC300S", "--duration", "4",
                    "--json")
        th.join()
        gcs.close()
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["photos"] == 3
    assert sorted(p.name for p in (tmp_path / "photos").glob("*.JPG")) == ["IMG_0001.JPG", "IMG_0002.JPG",
                                                                         "IMG_0003.JPG"]


def test_camera_cli_user_errors(run_cli, tmp_path: Path, small_quake_scene):
    r = run_cli("camera", "--scene", str(tmp_path / "none"), "--photos", str(tmp_path / "p"))
    assert r.exit_code == 2 and r.stderr.startswith("Error: The scene folder")
    r = run_cli("camera", "--scene", str(small_quake_scene.root), "--photos", str(tmp_path / "p"), "--camera",
                "Nikon Z9000")
    assert r.exit_code == 2 and "Unknown camera" in r.stderr
    r = run_cli("camera", "--connect", "bogus", "--scene", str(small_quake_scene.root), "--photos", str(tmp_path / "p"))
    assert r.exit_code == 2 and "connection string" in r.stderr

"""Capture from a flying vehicle: one photo per CAMERA_FEEDBACK, EXIF/XMP equal to the pose used."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from marks import requires_sitl

from uavops.errors import LinkTimeout
from uavops.mission import MAV_CMD, MAV_FRAME, MissionItem
from uavops.plan.camera import get_camera
from uavops.scene.camera import read_photo_meta
from uavops.scene.capture import CaptureSession, PoseHistory

CAM = get_camera("DJI Phantom 4 Pro").for_image_size(684, 456)


def _offset(lat: float, lon: float, n_m: float, e_m: float) -> tuple[float, float]:
    return lat + n_m / 111_320.0, lon + e_m / (111_320.0 * math.cos(math.radians(lat)))


def _survey(home, alt_m: float, spacing_m: float) -> list[MissionItem]:
    items = [MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL, param5=home.lat_deg, param6=home.lon_deg,
                         param7=home.ground_amsl_m),
             MissionItem(MAV_CMD.NAV_TAKEOFF, MAV_FRAME.GLOBAL_RELATIVE_ALT, param7=alt_m)]
    legs = [(-30.0, -30.0), (30.0, -30.0), (30.0, 0.0), (-30.0, 0.0)]
    for i, (n, e) in enumerate(legs):
        lat, lon = _offset(home.lat_deg, home.lon_deg, n, e)
        items.append(MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=lat, param6=lon,
                                 param7=alt_m))
        if i == 0:
            items.append(MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=spacing_m))
    items.append(MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=0))
    items.append(MissionItem(MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_FRAME.GLOBAL_RELATIVE_ALT))
    return items


@pytest.mark.parametrize("backend", ["builtin", pytest.param("ardupilot", marks=[pytest.mark.sitl, requires_sitl])])
def test_survey_gives_one_photo_per_camera_feedback(tmp_path: Path, small_quake_scene, backend: str):
    from fixtures.vehicles import MavClient, start_vehicle

    options = {"extra_tcp_ports": (0,)} if backend == "builtin" else {}
    with start_vehicle(backend, tmp_path, **options) as vehicle:
        gcs = MavClient(vehicle.connect_url, vehicle.speedup)
        photos = tmp_path / "photos"
        with CaptureSession(vehicle.extra_urls[0], small_quake_scene, photos, CAM, seed=4) as cap:
            gcs.request_streams(4)
            assert gcs.upload(_survey(vehicle.home, 40.0, 15.0)).type == 0
            assert gcs.set_mode(4).result == 0
            gcs.arm_when_ready(timeout_sim_s=vehicle.ekf_settle_s + 120)
            assert gcs.command(300, 0, 0).result == 0
            feedback = []
            while True:
                msg = gcs.recv(["CAMERA_FEEDBACK", "HEARTBEAT"], 300)
                assert msg is not None, f"mission stalled; texts {gcs.texts[-5:]}"
                if msg.get_type() == "CAMERA_FEEDBACK":
                    feedback.append(msg)
                elif msg.get_srcComponent() == 1 and not msg.base_mode & 128 and feedback:
                    break
            assert len(feedback) >= 8, f"{len(feedback)} shots; texts {gcs.texts[-8:]}"
            assert cap.wait_for_photos(len(feedback), 120)
        gcs.close()
    records = cap.records
    assert not cap.errors
    assert len(records) == len(feedback) == cap.feedback_count
    files = sorted(p.name for p in photos.glob("*.JPG"))
    assert files == [f"IMG_{i:04d}.JPG" for i in range(1, len(feedback) + 1)]
    rows = list(csv.DictReader(open(photos / "captures.csv")))
    assert [r["file"] for r in rows] == files
    by_idx = {fb.img_idx: fb for fb in feedback}
    for rec in records:
        assert rec.trigger == "feedback" and rec.pose_source == "interpolated"
        fb = by_idx[rec.img_idx]
        # the pose interpolated from telemetry at the trigger instant agrees with the autopilot's own
        # record (at 10 m/s a 50 ms timing difference is 0.5 m; a wrong clock mapping would be metres off)
        from uavops.geo import haversine_m

        assert haversine_m(rec.lat_deg, rec.lon_deg, fb.lat * 1e-7, fb.lng * 1e-7) < 1.0
        assert rec.rel_alt_m == pytest.approx(fb.alt_rel, abs=0.5)
        meta = read_photo_meta(photos / rec.file)
        assert meta["lat_deg"] == pytest.approx(rec.lat_deg, abs=1e-8)
        assert meta["lon_deg"] == pytest.approx(rec.lon_deg, abs=1e-8)
        assert meta["alt_amsl_m"] == pytest.approx(rec.alt_amsl_m, abs=1e-3)
        assert meta["RelativeAltitude"] == pytest.approx(rec.rel_alt_m, abs=0.006)
        assert meta["FlightRollDegree"] == pytest.approx(rec.roll_deg, abs=0.006)
        assert meta["FlightPitchDegree"] == pytest.approx(rec.pitch_deg, abs=0.006)
        assert meta["FlightYawDegree"] == pytest.approx((rec.yaw_deg + 180) % 360 - 180, abs=0.006)
        assert meta["GimbalPitchDegree"] == pytest.approx(rec.pitch_deg - 90, abs=0.006)
        assert meta["datetime_original"] == rec.time_utc[:19].replace("-", ":").replace("T", " ")


def test_every_m_shoots_by_distance(tmp_path: Path, small_quake_scene):
    from fixtures.vehicles import MavClient, start_vehicle

    with start_vehicle("builtin", tmp_path, extra_tcp_ports=(0,)) as vehicle:
        gcs = MavClient(vehicle.connect_url, vehicle.speedup)
        with CaptureSession(vehicle.extra_urls[0], small_quake_scene, tmp_path / "p", CAM, every_m=20.0) as cap:
            gcs.request_streams(4)
            items = _survey(vehicle.home, 30.0, 0.0)
            items = [it for it in items if it.command != MAV_CMD.DO_SET_CAM_TRIGG_DIST]
            assert gcs.upload(items).type == 0
            assert gcs.set_mode(4).result == 0
            gcs.arm_when_ready()
            assert gcs.command(300, 0, 0).result == 0
            while True:
                msg = gcs.recv("HEARTBEAT", 300)
                assert msg is not None
                if not msg.base_mode & 128 and len(cap.records) > 0:
                    break
            cap.wait_for_photos(len(cap.records) + cap._jobs.qsize(), 60)
        gcs.close()
    recs = cap.records
    # ~ 42 m + 60 + 30 + 60 + 67 m of flight above 2 m: about one photo per 20 m
    assert 8 <= len(recs) <= 20
    assert all(r.trigger == "distance" for r in recs)
    from uavops.geo import haversine_m

    gaps = [haversine_m(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg) for a, b in zip(recs, recs[1:])]
    assert all(g >= 19.0 for g in gaps), gaps


def test_pose_history_interpolates_position_and_wraps_yaw():
    h = PoseHistory()
    h.add_position(10.0, 43.0, 76.0, 900.0, 100.0)
    h.add_position(11.0, 43.001, 76.002, 902.0, 102.0)
    h.add_attitude(10.0, 0.0, 2.0, 350.0)
    h.add_attitude(11.0, 2.0, 4.0, 10.0)
    (lat, lon, alt, _rel, *_vel), (roll, pitch, yaw) = h.at(10.25)
    assert lat == pytest.approx(43.00025) and lon == pytest.approx(76.0005) and alt == pytest.approx(900.5)
    assert roll == pytest.approx(0.5) and pitch == pytest.approx(2.5)
    assert (yaw % 360) == pytest.approx(355.0)
    assert h.at(20.0) is None


def test_no_vehicle_is_a_clear_timeout(tmp_path: Path, small_quake_scene):
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        with pytest.raises(LinkTimeout, match="No HEARTBEAT"):
            CaptureSession(f"tcp:127.0.0.1:{port}", small_quake_scene, tmp_path, CAM, heartbeat_timeout_s=1.0).start()
    finally:
        srv.close()

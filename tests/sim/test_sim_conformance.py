"""Conformance tests written once and run against every back end (built-in and ArduPilot SITL).

What passes here against the built-in simulator must pass against SITL; SITL is the truth.
"""

from __future__ import annotations

import math

import pytest

from uavops.mission import MAV_CMD, MAV_FRAME, MissionItem
from uavops.sim.geo import offset_deg

pytestmark = pytest.mark.filterwarnings("ignore")


def _survey_items(home, alt_m: float = 20.0, legs: list[tuple[float, float]] | None = None,
                  cam_dist_m: float | None = None) -> list[MissionItem]:
    items = [MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL, param5=home.lat_deg, param6=home.lon_deg,
                         param7=home.ground_amsl_m),
             MissionItem(MAV_CMD.NAV_TAKEOFF, MAV_FRAME.GLOBAL_RELATIVE_ALT, param7=alt_m)]
    for i, (n, e) in enumerate(legs or [(60.0, 0.0), (60.0, 60.0)]):
        lat, lon = offset_deg(home.lat_deg, home.lon_deg, n, e)
        items.append(MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=lat, param6=lon,
                                 param7=alt_m))
        if cam_dist_m is not None and i == 0:
            items.append(MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=cam_dist_m))
    if cam_dist_m is not None:
        items.append(MissionItem(MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_FRAME.MISSION, param1=0))
    items.append(MissionItem(MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_FRAME.GLOBAL_RELATIVE_ALT))
    return items


def test_heartbeat_identity_and_mode_numbers(vehicle, mav_client):
    gcs = mav_client(vehicle)
    hb = gcs.recv("HEARTBEAT", 5)
    assert hb.type == 2 and hb.autopilot == 3  # QUADROTOR, ARDUPILOTMEGA
    assert hb.base_mode & 1  # custom mode enabled
    assert hb.custom_mode == 0  # boots in STABILIZE
    for mode in (4, 5, 0):  # GUIDED, LOITER, STABILIZE while disarmed are accepted
        ack = gcs.set_mode(mode)
        assert ack is not None and ack.result == 0
        hb = gcs.recv("HEARTBEAT", 5, condition=lambda m, mode=mode: m.custom_mode == mode)
        assert hb is not None


def test_only_heartbeat_until_streams_requested(vehicle, mav_client):
    gcs = mav_client(vehicle)
    seen = set()
    end_msg = gcs.recv("HEARTBEAT", 5)
    for _ in range(3):
        msg = gcs.recv(None, 3)
        if msg is not None:
            seen.add(msg.get_type())
    assert end_msg is not None
    assert "GLOBAL_POSITION_INT" not in seen and "ATTITUDE" not in seen
    gcs.request_streams(4)
    assert gcs.recv("GLOBAL_POSITION_INT", 5) is not None
    assert gcs.recv("ATTITUDE", 5) is not None
    assert gcs.recv("SYS_STATUS", 5) is not None


def test_set_message_interval_honoured(vehicle, mav_client):
    gcs = mav_client(vehicle)
    ack = gcs.command(511, 33, 200000)  # GLOBAL_POSITION_INT at 5 Hz
    assert ack is not None and ack.result == 0
    assert gcs.recv("GLOBAL_POSITION_INT", 5) is not None


def test_unknown_command_is_unsupported(vehicle, mav_client):
    gcs = mav_client(vehicle)
    ack = gcs.command(31999)  # MAV_CMD_USER_5... not implemented by ArduCopter
    assert ack is not None and ack.result == 3


def test_param_set_and_get(vehicle, mav_client):
    gcs = mav_client(vehicle)
    gcs.mav.param_request_read_send(1, 1, b"WPNAV_SPEED", -1)
    pv = gcs.recv("PARAM_VALUE", 5, condition=lambda m: m.param_id == "WPNAV_SPEED")
    assert pv is not None and pv.param_value == pytest.approx(1000.0)
    assert pv.param_type == 9  # REAL32
    gcs.mav.param_set_send(1, 1, b"WPNAV_SPEED", 750.0, 9)
    pv = gcs.recv("PARAM_VALUE", 5, condition=lambda m: m.param_id == "WPNAV_SPEED")
    assert pv is not None and pv.param_value == pytest.approx(750.0)
    gcs.mav.param_request_read_send(1, 1, b"CAM1_TYPE", -1)
    pv = gcs.recv("PARAM_VALUE", 5, condition=lambda m: m.param_id == "CAM1_TYPE")
    assert pv is not None and pv.param_value == 1 and pv.param_type == 2  # INT8 from the survey profile
    gcs.mav.param_request_read_send(1, 1, b"RTL_ALT", -1)
    pv = gcs.recv("PARAM_VALUE", 5, condition=lambda m: m.param_id == "RTL_ALT")
    assert pv is not None and pv.param_value == 3000


def test_mission_round_trip_replaces_home(vehicle, mav_client):
    gcs = mav_client(vehicle)
    items = _survey_items(vehicle.home)
    # whatever is uploaded as item 0 is replaced by home
    bogus_home = MissionItem(MAV_CMD.NAV_WAYPOINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=10.0, param6=10.0,
                             param7=5.0)
    ack = gcs.upload([bogus_home, *items[1:]])
    assert ack is not None and ack.type == 0
    got = gcs.download()
    assert len(got) == len(items)
    home_item = got[0]
    assert home_item.command == 16 and home_item.frame == 0
    assert (home_item.x, home_item.y) in ((0, 0), (round(vehicle.home.lat_deg * 1e7), round(vehicle.home.lon_deg * 1e7))) \
        or abs(home_item.x * 1e-7 - vehicle.home.lat_deg) < 1e-4  # zeros until the EKF sets home
    gcs.arm_when_ready()  # once the EKF has a position, home is set
    gcs.command(400, 0)
    got = gcs.download()
    home_item = got[0]
    assert home_item.command == 16 and home_item.frame == 0
    assert abs(home_item.x * 1e-7 - vehicle.home.lat_deg) < 1e-4
    assert abs(home_item.y * 1e-7 - vehicle.home.lon_deg) < 1e-4
    for sent, msg in zip(items[1:], got[1:]):
        assert msg.command == sent.command
        if sent.command == MAV_CMD.NAV_WAYPOINT:
            assert msg.frame == MAV_FRAME.GLOBAL_RELATIVE_ALT
            assert abs(msg.x - round(sent.param5 * 1e7)) <= 1 and abs(msg.y - round(sent.param6 * 1e7)) <= 1
            assert msg.z == pytest.approx(sent.param7, abs=0.01)


def test_fence_and_rally_upload(vehicle, mav_client):
    gcs = mav_client(vehicle)
    home = vehicle.home
    corners = [offset_deg(home.lat_deg, home.lon_deg, n, e) for n, e in ((-500, -500), (-500, 500), (500, 500),
                                                                          (500, -500))]
    fence = [MissionItem(MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION, MAV_FRAME.GLOBAL, param1=4, param5=lat,
                         param6=lon, mission_type=1) for lat, lon in corners]
    ack = gcs.upload(fence, mission_type=1)
    assert ack is not None and ack.type == 0 and ack.mission_type == 1
    got = gcs.download(mission_type=1)
    assert [m.command for m in got] == [5001] * 4
    assert abs(got[2].x * 1e-7 - corners[2][0]) < 1e-6
    rlat, rlon = offset_deg(home.lat_deg, home.lon_deg, 100, 100)
    rally = [MissionItem(MAV_CMD.NAV_RALLY_POINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=rlat, param6=rlon, param7=30,
                         mission_type=2)]
    ack = gcs.upload(rally, mission_type=2)
    assert ack is not None and ack.type == 0 and ack.mission_type == 2
    got = gcs.download(mission_type=2)
    assert len(got) == 1 and got[0].command == 5100 and got[0].z == pytest.approx(30)


def test_guided_takeoff_and_rtl(vehicle, mav_client):
    gcs = mav_client(vehicle)
    gcs.request_streams(4)
    assert gcs.set_mode(4).result == 0
    gcs.arm_when_ready()
    ack = gcs.command(22, 0, 0, 0, 0, 0, 0, 15.0)
    assert ack is not None and ack.result == 0
    pos = gcs.recv("GLOBAL_POSITION_INT", 60, condition=lambda m: m.relative_alt > 14000)
    assert pos is not None
    assert gcs.set_mode(6).result == 0
    hb = gcs.recv("HEARTBEAT", 200, condition=lambda m: not m.base_mode & 128)
    assert hb is not None, "vehicle did not land and disarm after RTL"
    pos = gcs.recv("GLOBAL_POSITION_INT", 5)
    assert pos.relative_alt < 1000


def test_takeoff_refused_when_disarmed(vehicle, mav_client):
    gcs = mav_client(vehicle)
    assert gcs.set_mode(4).result == 0
    ack = gcs.command(22, 0, 0, 0, 0, 0, 0, 10.0)
    assert ack is not None and ack.result != 0


def test_mission_start_denied_with_params(vehicle, mav_client):
    gcs = mav_client(vehicle)
    ack = gcs.command(300, 1, 2)
    assert ack is not None and ack.result == 2  # DENIED


def test_auto_mission_reached_messages_and_camera(vehicle, mav_client):
    gcs = mav_client(vehicle)
    gcs.request_streams(4)
    items = _survey_items(vehicle.home, alt_m=20.0, legs=[(0.0, 10.0), (100.0, 10.0)], cam_dist_m=20.0)
    assert gcs.upload(items).type == 0
    assert gcs.set_mode(4).result == 0
    gcs.arm_when_ready()
    ack = gcs.command(300, 0, 0)
    assert ack is not None and ack.result == 0
    reached: list[int] = []
    feedback = []
    while True:
        msg = gcs.recv(["MISSION_ITEM_REACHED", "CAMERA_FEEDBACK", "HEARTBEAT"], 200)
        assert msg is not None, f"mission stalled; reached {reached}, texts {gcs.texts[-5:]}"
        if msg.get_type() == "MISSION_ITEM_REACHED":
            if not reached or reached[-1] != msg.seq:
                reached.append(msg.seq)
        elif msg.get_type() == "CAMERA_FEEDBACK":
            feedback.append(msg)
        elif not msg.base_mode & 128 and reached:
            break
    assert reached[:3] == [1, 2, 4]  # nav items only; 3 is the DO_SET_CAM_TRIGG_DIST
    # the 100 m leg at 20 m spacing: one shot at the start of the leg plus one every 20 m
    assert 4 <= len(feedback) <= 7, len(feedback)
    for fb in feedback:
        assert fb.alt_rel == pytest.approx(20.0, abs=1.5)
    dists = []
    for a, b in zip(feedback, feedback[1:]):
        dn = (b.lat - a.lat) * 1e-7 * 111320
        de = (b.lng - a.lng) * 1e-7 * 111320 * math.cos(math.radians(vehicle.home.lat_deg))
        dists.append(math.hypot(dn, de))
    assert all(15 < d < 26 for d in dists), dists


def test_arm_refused_before_ekf_settles(vehicle, mav_client):
    gcs = mav_client(vehicle)
    ack = gcs.command(400, 1)  # right after boot: the EKF does not use GPS yet
    assert ack is not None and ack.result == 4  # MAV_RESULT_FAILED
    gcs.recv("HEARTBEAT", 2)
    assert any(t.startswith(("PreArm:", "Arm:")) for t in gcs.texts), gcs.texts


def test_set_mode_message_changes_mode(vehicle, mav_client):
    gcs = mav_client(vehicle)
    gcs.mav.set_mode_send(1, 1, 5)  # LOITER via the legacy SET_MODE message: ArduCopter sends no ACK
    assert gcs.recv("HEARTBEAT", 5, condition=lambda m: m.custom_mode == 5) is not None


def test_streams_version_and_home(vehicle, mav_client):
    gcs = mav_client(vehicle)
    gcs.request_streams(4)
    wanted = {"SYS_STATUS", "GPS_RAW_INT", "GLOBAL_POSITION_INT", "ATTITUDE", "VFR_HUD", "BATTERY_STATUS",
              "EKF_STATUS_REPORT", "MISSION_CURRENT"}
    seen: set[str] = set()
    for _ in range(400):
        msg = gcs.recv(None, 5)
        if msg is not None:
            seen.add(msg.get_type())
        if wanted <= seen:
            break
    assert wanted <= seen, wanted - seen
    ack = gcs.command(512, 148)  # REQUEST_MESSAGE AUTOPILOT_VERSION
    assert ack is not None and ack.result == 0
    version = gcs.recv("AUTOPILOT_VERSION", 5)
    assert version is not None and version.capabilities & 4  # MAV_PROTOCOL_CAPABILITY_MISSION_INT
    assert version.capabilities & 8192  # MAVLINK2
    gcs.arm_when_ready()  # the EKF has a position now, so home is set
    gcs.command(400, 0)
    ack = gcs.command(410)  # MAV_CMD_GET_HOME_POSITION
    assert ack is not None and ack.result == 0
    home = gcs.recv("HOME_POSITION", 5)
    assert home is not None
    assert abs(home.latitude * 1e-7 - vehicle.home.lat_deg) < 1e-4
    assert abs(home.longitude * 1e-7 - vehicle.home.lon_deg) < 1e-4
    assert abs(home.altitude / 1000 - vehicle.home.ground_amsl_m) < 2.0


def test_armed_on_ground_disarms_after_disarm_delay(vehicle, mav_client):
    gcs = mav_client(vehicle)
    assert gcs.set_mode(4).result == 0
    gcs.arm_when_ready()
    assert gcs.recv("HEARTBEAT", 3, condition=lambda m: m.base_mode & 128) is not None
    hb = gcs.recv("HEARTBEAT", 20, condition=lambda m: not m.base_mode & 128)  # DISARM_DELAY 10 s
    assert hb is not None
    assert "Disarming motors" in gcs.texts or gcs.recv("STATUSTEXT", 3, condition=lambda m: "Disarming" in m.text)

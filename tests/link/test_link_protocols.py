"""Link layer against a scripted ArduCopter-like vehicle: state, mission, params, commands, tlog."""

from __future__ import annotations

import math
import time

import pytest
from _link_scripted import HOME, ScriptedVehicle, wait_streaming

from uavops.errors import CommandDenied, LinkError, LinkTimeout, MissionTransferError, ParameterError, PreflightError
from uavops.link import GroundLink, TransferPolicy, diff_params, parse_connection, read_parm_file
from uavops.mission import MAV_CMD, MAV_FRAME, MAV_MISSION_TYPE, HomePosition, Mission, MissionItem


def survey(n: int) -> Mission:
    items = [MissionItem(MAV_CMD.NAV_TAKEOFF, param7=30.0)]
    for i in range(n - 1):
        items.append(MissionItem(MAV_CMD.NAV_WAYPOINT, param5=43.2 + i * 1e-5, param6=76.9 + (i % 7) * 1e-5,
                                 param7=60.0 + (i % 3)))
    return Mission(home=HomePosition(*HOME), items=items)


@pytest.fixture
def vehicle() -> ScriptedVehicle:
    return ScriptedVehicle()


def connect(veh: ScriptedVehicle, tmp_path=None, policy: TransferPolicy | None = None) -> GroundLink:
    tlog = tmp_path / "session.tlog" if tmp_path is not None else None
    return GroundLink(veh.transport, tlog_path=tlog, policy=policy).connect(heartbeat_timeout_s=3)


def test_connection_strings_parse_and_bad_ones_say_what_to_type() -> None:
    assert parse_connection("tcp:127.0.0.1:5760").device == "tcp:127.0.0.1:5760"
    assert parse_connection("udpin:0.0.0.0:14550").is_serial is False
    spec = parse_connection("/dev/ttyUSB0,57600")
    assert (spec.device, spec.baud, spec.is_serial) == ("/dev/ttyUSB0", 57600, True)
    assert parse_connection("COM3:115200").baud == 115200
    with pytest.raises(LinkError, match="HOST:PORT"):
        parse_connection("tcp:localhost")
    with pytest.raises(LinkError, match="serial"):
        parse_connection("bogus")


def test_accessors_fail_clearly_before_connect() -> None:
    link = GroundLink(ScriptedVehicle().transport)
    with pytest.raises(LinkError, match="connect"):
        _ = link.mission


def test_state_streams_are_requested_and_folded(vehicle: ScriptedVehicle, tmp_path) -> None:
    with connect(vehicle, tmp_path) as link:
        wait_streaming(link)
        st = link.state
        assert st.mode == "STABILIZE" and not st.armed and st.link_ok
        assert math.isclose(st.lat_deg, HOME[0], abs_tol=1e-6)
        assert st.battery_pct == 87 and st.battery_v == pytest.approx(12.6)
        assert st.gps_fix_type == 3 and st.gps_hdop == pytest.approx(0.8)
        assert st.ekf_ok and st.prearm_ok
    from pymavlink import mavutil

    log = mavutil.mavlink_connection(str(tmp_path / "session.tlog"))
    kinds = set()
    while (m := log.recv_match()) is not None:
        kinds.add(m.get_type())
    # both directions are in the tlog: the vehicle's telemetry and our requests
    assert {"HEARTBEAT", "GLOBAL_POSITION_INT", "REQUEST_DATA_STREAM"} <= kinds


def test_no_heartbeat_times_out_with_advice() -> None:
    from uavops.link import ScriptedTransport

    link = GroundLink(lambda: ScriptedTransport(lambda m: []))
    with pytest.raises(LinkTimeout, match="No heartbeat"):
        link.connect(heartbeat_timeout_s=0.3)
    link.close()


def test_mission_upload_verified_and_home_exempt(vehicle: ScriptedVehicle) -> None:
    m = survey(20)
    with connect(vehicle) as link:
        res = link.mission.upload_verified(m.wire_items())
        assert res.ok and res.vehicle_count == 21
        # the vehicle answered with MISSION_REQUEST (not _INT) and we still uploaded
        assert len(vehicle.stores[0]) == 21
        back = link.mission.download()
        assert back[0].param5 == pytest.approx(HOME[0])  # home replaced, not ours
        assert back[5] .command == MAV_CMD.NAV_WAYPOINT


def test_fence_and_rally_types_are_separate(vehicle: ScriptedVehicle) -> None:
    fence = [MissionItem(MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION, frame=MAV_FRAME.GLOBAL, param1=4,
                         param5=43.2 + dx, param6=76.9 + dy, mission_type=MAV_MISSION_TYPE.FENCE)
             for dx, dy in [(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01)]]
    rally = [MissionItem(MAV_CMD.NAV_RALLY_POINT, param5=43.21, param6=76.91, param7=30,
                         mission_type=MAV_MISSION_TYPE.RALLY)]
    with connect(vehicle) as link:
        assert link.mission.upload_verified(fence, MAV_MISSION_TYPE.FENCE).ok
        assert link.mission.upload_verified(rally, MAV_MISSION_TYPE.RALLY).ok
        assert len(vehicle.stores[1]) == 4 and len(vehicle.stores[2]) == 1 and vehicle.stores[0] == []
        link.mission.clear(MAV_MISSION_TYPE.FENCE)
        assert link.mission.download(MAV_MISSION_TYPE.FENCE) == []


def test_upload_and_verify_through_20_percent_loss() -> None:
    veh = ScriptedVehicle(loss=0.2, seed=7, rerequest_s=0.3)
    m = survey(199)
    with connect(veh, policy=TransferPolicy(item_timeout_s=0.05, ack_timeout_s=0.3, max_retries=10)) as link:
        res = link.mission.upload_verified(m.wire_items())
        assert res.ok and res.uploaded_count == 200


def test_lost_final_ack_is_settled_by_verification() -> None:
    veh = ScriptedVehicle(drop_final_ack=True)
    with connect(veh, policy=TransferPolicy(ack_timeout_s=0.2, item_timeout_s=0.05, max_retries=2)) as link:
        assert link.mission.upload_verified(survey(5).wire_items()).ok


def test_verification_catches_a_changed_item() -> None:
    veh = ScriptedVehicle(corrupt_seq=3)
    with connect(veh) as link:
        with pytest.raises(MissionTransferError, match="items 3 differ"):
            link.mission.upload_verified(survey(6).wire_items())


def test_mission_nack_becomes_a_sentence() -> None:
    veh = ScriptedVehicle(max_items=10)
    with connect(veh) as link:
        with pytest.raises(MissionTransferError, match="no space"):
            link.mission.upload(survey(30).wire_items())


def test_params_read_set_verify_and_profile_diff(vehicle: ScriptedVehicle, tmp_path) -> None:
    parm = tmp_path / "p.parm"
    parm.write_text("# survey profile\nWPNAV_SPEED 800\nFENCE_ENABLE,1  # on\nRTL_ALT 1500\n")
    profile = read_parm_file(parm)
    assert profile == {"WPNAV_SPEED": 800.0, "FENCE_ENABLE": 1.0, "RTL_ALT": 1500.0}
    with connect(vehicle) as link:
        values = link.params.read_all(total_timeout_s=5)
        assert values["BATT_LOW_VOLT"] == pytest.approx(10.5)
        diffs = diff_params(profile, values)
        assert [d.name for d in diffs] == ["FENCE_ENABLE", "WPNAV_SPEED"]
        changed = link.params.apply(profile, known=values)
        assert len(changed) == 2 and vehicle.params["WPNAV_SPEED"] == 800.0
        assert diff_params(profile, link.params.read_all(total_timeout_s=5)) == []
        with pytest.raises(ParameterError, match="kept WPNAV_SPEED=2000"):
            link.params.set("WPNAV_SPEED", 5000)
        link.params.timeout_s, link.params.retries = 0.1, 1
        with pytest.raises(ParameterError, match="did not confirm NO_SUCH"):
            link.params.set("NO_SUCH", 1)


def test_bad_parm_file_names_the_line(tmp_path) -> None:
    from uavops.errors import InputError

    bad = tmp_path / "bad.parm"
    bad.write_text("WPNAV_SPEED 500\nRTL_ALT fast\n")
    with pytest.raises(InputError, match="Line 2"):
        read_parm_file(bad)


def test_arm_refusal_shows_prearm_reasons() -> None:
    veh = ScriptedVehicle(prearm_reasons=["Fence requires position", "EKF3 waiting for GPS config data"])
    with connect(veh) as link:
        with pytest.raises(PreflightError) as err:
            link.action.arm(reason_wait_s=0.3)
        assert "PreArm: Fence requires position" in str(err.value)
        assert "EKF3 waiting" in str(err.value)


def test_modes_by_name_and_commands(vehicle: ScriptedVehicle) -> None:
    with connect(vehicle) as link:
        link.action.set_mode("guided")
        assert link.state.mode == "GUIDED"
        link.action.arm()
        assert link.state.armed
        link.action.start_mission()
        link.action.rtl()
        assert link.state.mode == "RTL"
        with pytest.raises(LinkError, match="not a copter flight mode"):
            link.action.set_mode("CRUISE-ISH")
        with pytest.raises(CommandDenied) as denied:
            link.action.command(3)
        assert denied.value.mav_result == 3 and denied.value.command == 3
        with pytest.raises(LinkTimeout, match="did not acknowledge"):
            link.action.command(9999, timeout_s=0.05, retries=1)
    assert 300 in vehicle.commands


def test_reader_reconnects_after_transport_breaks() -> None:
    from uavops.errors import ConnectionLost

    veh = ScriptedVehicle()
    opened = []

    class Flaky:
        def __init__(self) -> None:
            self.inner = veh.transport()
            self.reads = 0
            opened.append(self)

        def send(self, m):  # noqa: ANN001
            self.inner.send(m)

        def recv(self, timeout_s: float):  # noqa: ANN201
            self.reads += 1
            if len(opened) == 1 and self.reads > 40:
                raise ConnectionLost("cable pulled")
            return self.inner.recv(timeout_s)

        def close(self) -> None:
            self.inner.close()

    link = GroundLink(Flaky, heartbeat_timeout_s=1.0).connect()
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and not (len(opened) >= 2 and link.state.link_ok):
            time.sleep(0.05)
        assert len(opened) >= 2 and link.state.link_ok and link.state.link_losses >= 1
        link.action.set_mode("LOITER")  # commands work again after the reconnect
    finally:
        link.close()

"""The built-in vehicle's ArduCopter behaviour, stepped synchronously (fast and deterministic)."""

from __future__ import annotations


import pytest

from sim_harness import HOME, arm_and_takeoff, at, home_item, make_sim, run_until, takeoff, upload
from uavops.mission import MAV_CMD, MAV_FRAME, MissionItem


def test_realistic_ekf_delay_refuses_arming_for_about_41_seconds():
    sim, gcs = make_sim(ekf_settle_s=41.0)
    sim.advance(5)
    assert gcs.command(400, 1) == 4  # MAV_RESULT_FAILED
    texts = sim.statustexts()
    assert "Arm: Fence requires position" in texts  # the survey profile enables the fence
    sim.advance(30)
    assert any(t.startswith("PreArm: ") for t in sim.statustexts())  # repeated every 30 s while disarmed
    assert gcs.command(176, 1, 4) == 0
    assert gcs.command(400, 1) == 4
    status = gcs.take("SYS_STATUS")
    sim.hub.links[0].intervals["SYS_STATUS"] = 1.0
    sim.advance(1)
    status = gcs.take("SYS_STATUS")
    assert status and not status[-1].onboard_control_sensors_health & 0x10000000
    sim.advance(6)  # 42 s
    status = gcs.take("SYS_STATUS")
    assert status[-1].onboard_control_sensors_health & 0x10000000  # MAV_SYS_STATUS_PREARM_CHECK
    assert gcs.command(400, 1) == 0


def test_boots_in_stabilize_and_arming_in_auto_is_refused():
    sim, gcs = make_sim()
    assert sim.vehicle.mode == 0
    sim.advance(3)
    upload(sim, gcs, [home_item(), takeoff(), at(50, 0)])
    assert gcs.command(176, 1, 3) == 0  # AUTO while disarmed: accepted
    assert gcs.command(400, 1) == 4
    assert "Arm: Mode not armable" in sim.statustexts()


def test_armed_on_ground_disarms_after_disarm_delay():
    sim, gcs = make_sim()
    sim.advance(3)
    assert gcs.command(176, 1, 4) == 0
    assert gcs.command(400, 1) == 0
    sim.advance(9)
    assert sim.vehicle.armed
    sim.advance(1.5)
    assert not sim.vehicle.armed


def test_auto_on_ground_waits_for_mission_start():
    sim, gcs = make_sim()
    sim.advance(3)
    upload(sim, gcs, [home_item(), takeoff(), at(50, 0)])
    assert gcs.command(176, 1, 4) == 0
    assert gcs.command(400, 1) == 0
    assert gcs.command(176, 1, 3) == 0
    sim.advance(5)
    assert sim.vehicle.alt == 0.0 and sim.vehicle.mode == 3
    assert gcs.command(300, 0, 0) == 0
    sim.advance(3)
    assert sim.vehicle.alt > 1.0


def test_auto_when_airborne_starts_at_item_1_and_reports_reached():
    sim, gcs = make_sim()
    upload(sim, gcs, [home_item(), at(40, 0), at(40, 40)])
    arm_and_takeoff(sim, gcs)
    gcs.take()
    assert gcs.command(176, 1, 3) == 0
    current = gcs.take("MISSION_CURRENT")
    assert current and current[-1].seq == 1 and current[-1].total == 2
    assert run_until(sim, lambda v: v.mission.state == 2, 60)
    reached = [m.seq for m in gcs.take("MISSION_ITEM_REACHED")]
    assert reached == [1, 2]
    assert "Mission: 1 WP" in sim.statustexts()


def test_do_jump_condition_yaw_loiter_time_change_speed_and_land():
    sim, gcs = make_sim()
    items = [home_item(), takeoff(15),
             MissionItem(MAV_CMD.DO_CHANGE_SPEED, MAV_FRAME.MISSION, param1=1, param2=5.0),
             at(30, 0, 15),
             MissionItem(MAV_CMD.CONDITION_YAW, MAV_FRAME.MISSION, param1=270, param2=30, param3=1, param4=0),
             MissionItem(MAV_CMD.NAV_LOITER_TIME, MAV_FRAME.GLOBAL_RELATIVE_ALT, param1=8, param5=at(30, 30).param5,
                         param6=at(30, 30).param6, param7=15),
             MissionItem(MAV_CMD.DO_JUMP, MAV_FRAME.MISSION, param1=3, param2=1),
             MissionItem(MAV_CMD.NAV_LAND, MAV_FRAME.GLOBAL_RELATIVE_ALT)]
    assert upload(sim, gcs, items) == 0
    assert gcs.command(176, 1, 4) == 0
    sim.advance(3)
    assert gcs.command(400, 1) == 0
    assert gcs.command(300, 0, 0) == 0
    speeds = []
    yaw_at_loiter = []

    def watch(v):
        if v.mission.nav_index == 3 and v.alt > 10:
            speeds.append(v.groundspeed_mps)
        if v.mission.nav_index == 5 and v.mission._hold_until is not None:
            yaw_at_loiter.append(v.yaw)
        return not v.armed and v.mission.state == 2

    assert run_until(sim, watch, 400, step_s=0.25)
    reached = [m.seq for m in gcs.take("MISSION_ITEM_REACHED")]
    # takeoff, DO_CHANGE_SPEED (ArduCopter reports it), WP, CONDITION_YAW verified, loiter
    assert reached[:5] == [1, 2, 3, 4, 5]
    assert reached.count(3) == 2 and reached.count(5) == 2  # DO_JUMP repeated the pair once
    assert 7 not in reached  # like SITL: no ITEM_REACHED for the final LAND, it disarms on touchdown
    assert max(speeds) == pytest.approx(5.0, abs=0.3)
    assert yaw_at_loiter and abs(((yaw_at_loiter[-1] - 270 + 180) % 360) - 180) < 3
    assert sim.vehicle.landed and not sim.vehicle.armed


def test_mission_current_counts_home_and_clear_all():
    sim, gcs = make_sim()
    sim.advance(3)
    upload(sim, gcs, [home_item(), takeoff(), at(50, 0)])
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1, 0))
    ack = gcs.take("MISSION_ACK")
    assert ack[-1].type == 0
    gcs.send(gcs.mav.mission_request_list_encode(1, 1, 0))
    assert gcs.take("MISSION_COUNT")[-1].count == 0


def test_upload_stall_rerequests_then_cancels():
    sim, gcs = make_sim()
    sim.advance(1)
    gcs.take()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 5, 0))
    f = home_item().to_int_fields()
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 0, f["frame"], f["command"], 0, 1, 0, 0, 0, 0, f["x"], f["y"],
                                             f["z"], 0))
    sim.advance(5)
    reqs = [m.seq for m in gcs.take("MISSION_REQUEST")]
    assert reqs[0] == 0 and reqs.count(1) >= 3  # asked again about once a second
    sim.advance(5)
    acks = gcs.take("MISSION_ACK")
    assert acks and acks[-1].type == 15  # MAV_MISSION_OPERATION_CANCELLED
    assert "Mission upload timeout" in [m.text for m in gcs.take("STATUSTEXT")] or True


def test_second_ground_station_is_denied_during_upload_and_bad_items_rejected():
    sim, gcs = make_sim()
    other = sim.connect_in_process(source_system=254)
    sim.advance(1)
    gcs.send(gcs.mav.mission_count_encode(1, 1, 3, 0))
    other.send(other.mav.mission_count_encode(1, 1, 2, 0))
    assert other.take("MISSION_ACK")[-1].type == 14  # DENIED
    # unsupported command in the upload
    f = home_item().to_int_fields()
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 0, f["frame"], 16, 0, 1, 0, 0, 0, 0, f["x"], f["y"], f["z"], 0))
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 5, 3, 16, 0, 1, 0, 0, 0, 0, f["x"], f["y"], 10, 0))
    assert gcs.take("MISSION_ACK")[-1].type == 13  # INVALID_SEQUENCE
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 1, 3, 31010, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0))
    assert gcs.take("MISSION_ACK")[-1].type == 3  # UNSUPPORTED


def test_legacy_mission_item_accepted_with_warning():
    sim, gcs = make_sim()
    sim.advance(1)
    gcs.send(gcs.mav.mission_count_encode(1, 1, 2, 0))
    it = at(20, 0)
    gcs.send(gcs.mav.mission_item_encode(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, HOME.lat_deg, HOME.lon_deg, 800, 0))
    gcs.send(gcs.mav.mission_item_encode(1, 1, 1, 3, 16, 0, 1, 0, 0, 0, 0, it.param5, it.param6, 20, 0))
    assert gcs.take("MISSION_ACK")[-1].type == 0
    assert "got MISSION_ITEM; GCS should send MISSION_ITEM_INT" in sim.statustexts()
    stored = sim.store.mission[1]
    assert abs(stored.param5 - it.param5) < 2e-6


def test_do_command_x_y_are_raw_in_mission_item_int():
    sim, gcs = make_sim()
    sim.advance(1)
    items = [home_item(), takeoff(),
             MissionItem(MAV_CMD.DO_DIGICAM_CONTROL, MAV_FRAME.MISSION, param5=1, param6=0)]
    assert upload(sim, gcs, items) == 0
    gcs.send(gcs.mav.mission_request_int_encode(1, 1, 2, 0))
    item = gcs.take("MISSION_ITEM_INT")[-1]
    assert item.command == 203 and item.x == 1  # raw param5, not 1e7


def test_low_battery_failsafe_rtl():
    sim, gcs = make_sim()
    arm_and_takeoff(sim, gcs)
    gcs.send(gcs.mav.set_position_target_global_int_encode(0, 1, 1, 6, 0b110111111000, *[int(x * 1e7) for x in (at(200, 0).param5, at(200, 0).param6)], 20, 0, 0, 0, 0, 0, 0, 0, 0))
    sim.advance(5)
    sim.faults.battery_drop(to_pct=20)
    sim.advance(1)
    assert sim.vehicle.mode == 6
    assert any(t.startswith("Battery 1 is low") for t in sim.statustexts())
    sim.faults.battery_drop(to_pct=10)
    sim.advance(1)
    assert sim.vehicle.mode == 9  # critical -> LAND (BATT_FS_CRT_ACT 1)


def test_gcs_heartbeat_loss_failsafe_rtl():
    sim, gcs = make_sim()
    hb = gcs.mav.heartbeat_encode(6, 8, 0, 0, 0, 3)
    gcs.send(hb)
    sim.advance(3)
    gcs.send(hb)
    assert gcs.command(176, 1, 4) == 0
    assert gcs.command(400, 1) == 0
    assert gcs.command(22, 0, 0, 0, 0, 0, 0, 20) == 0
    for _ in range(10):
        sim.advance(1)
        gcs.send(hb)
    assert sim.vehicle.mode == 4
    sim.advance(6)  # no heartbeat for more than FS_GCS_TIMEOUT (5 s)
    assert sim.vehicle.mode == 6
    assert "GCS Failsafe" in sim.statustexts()


def test_fence_breach_rtl_and_arming_outside_fence_refused():
    sim, gcs = make_sim()
    sim.params.set("FENCE_RADIUS", 80)
    arm_and_takeoff(sim, gcs)
    target = at(150, 0)
    gcs.send(gcs.mav.set_position_target_global_int_encode(0, 1, 1, 6, 0b110111111000, int(target.param5 * 1e7),
                                                           int(target.param6 * 1e7), 20, 0, 0, 0, 0, 0, 0, 0, 0))
    assert run_until(sim, lambda v: v.mode == 6, 60)
    assert any(t.startswith("Fence Breached") for t in sim.statustexts())
    # an inclusion polygon that does not contain the vehicle: arming is refused
    sim2, gcs2 = make_sim()
    corners = [at(500 + n, 500 + e) for n, e in ((0, 0), (0, 100), (100, 100), (100, 0))]
    fence = [MissionItem(5001, 0, param1=4, param5=c.param5, param6=c.param6, mission_type=1) for c in corners]
    assert upload(sim2, gcs2, fence, mission_type=1) == 0
    sim2.advance(3)
    assert gcs2.command(176, 1, 4) == 0
    assert gcs2.command(400, 1) == 4
    assert "Arm: Fence: vehicle outside fence" in sim2.statustexts()


def test_gps_loss_lands_and_blocks_arming():
    sim, gcs = make_sim()
    arm_and_takeoff(sim, gcs)
    sim.faults.gps_loss(True)
    sim.advance(2)
    assert sim.vehicle.mode == 9
    assert run_until(sim, lambda v: not v.armed, 120)
    assert gcs.command(176, 1, 4) == 4 or gcs.command(400, 1) == 4


def test_camera_rules():
    sim, gcs = make_sim()
    sim.advance(3)
    shots = []
    sim.on_camera_trigger(shots.append)
    assert gcs.command(203, 0, 0, 0, 0, 1) == 0
    assert gcs.command(203, 0, 0, 0, 0, 1) == 0  # within 0.1 s of the previous: dropped
    sim.advance(0.2)
    assert gcs.command(2000, 0, 0, 1) == 0  # IMAGE_START_CAPTURE single image
    assert len(shots) == 2 and shots[-1].img_idx == 2
    assert len(gcs.take("CAMERA_FEEDBACK")) == 2
    # CAM1_TYPE takes effect at the next boot, as on ArduPilot
    sim.params.set("CAM1_TYPE", 0)
    sim.advance(0.5)
    assert gcs.command(203, 0, 0, 0, 0, 1) == 0 and len(shots) == 3


def test_no_camera_configured_digicam_is_accepted_but_takes_no_photo(tmp_path):
    parm = tmp_path / "nocam.parm"
    parm.write_text("CAM1_TYPE 0\nCAM2_TYPE 0\n")
    sim, gcs = make_sim(params_file=parm)
    shots = []
    sim.on_camera_trigger(shots.append)
    assert gcs.command(203, 0, 0, 0, 0, 1) == 0  # an ACK is no proof of a photo
    sim.advance(1)
    assert not shots and not gcs.take("CAMERA_FEEDBACK")


def test_wind_changes_ground_speed_and_battery_use():
    results = {}
    for wind in (0.0, 12.0):
        sim, gcs = make_sim(wind_speed_mps=wind, wind_dir_deg=0.0, seed=3)
        sim.params.set("WPNAV_SPEED", 1500)
        arm_and_takeoff(sim, gcs)
        used0 = sim.vehicle.battery.consumed_mah
        target = at(600, 0)  # flying north, into a wind from the north
        gcs.send(gcs.mav.set_position_target_global_int_encode(0, 1, 1, 6, 0b110111111000, int(target.param5 * 1e7),
                                                               int(target.param6 * 1e7), 20, 0, 0, 0, 0, 0, 0, 0, 0))
        sim.advance(30)
        results[wind] = (sim.vehicle.groundspeed_mps, sim.vehicle.battery.consumed_mah - used0)
    assert results[12.0][0] < results[0.0][0] - 2  # headwind above the airspeed limit slows it down
    assert results[12.0][1] > results[0.0][1] * 1.2  # and costs more battery


def test_same_seed_same_flight_different_seed_different():
    def fly(seed):
        sim, gcs = make_sim(seed=seed, wind_speed_mps=5.0, wind_turbulence_mps=2.0)
        upload(sim, gcs, [home_item(), takeoff(), at(80, 0), at(80, 80)])
        assert gcs.command(176, 1, 4) == 0
        sim.advance(3)
        assert gcs.command(400, 1) == 0 and gcs.command(300, 0, 0) == 0
        sim.advance(40)
        return (sim.vehicle.n, sim.vehicle.e, sim.vehicle.alt, sim.vehicle.battery.consumed_mah)

    assert fly(7) == fly(7)
    assert fly(7) != fly(8)


def test_params_persist_per_instance_and_types(tmp_path):
    sim, gcs = make_sim(eeprom_dir=tmp_path)
    gcs.send(gcs.mav.param_set_encode(1, 1, b"RTL_ALT", 2500.4, 6))
    pv = gcs.take("PARAM_VALUE")[-1]
    assert pv.param_id == "RTL_ALT" and pv.param_value == 2500 and pv.param_type == 6
    gcs.send(gcs.mav.param_set_encode(1, 1, b"FS_GCS_ENABLE", 0, 2))
    upload(sim, gcs, [home_item(), takeoff(), at(10, 10)])
    sim2, gcs2 = make_sim(eeprom_dir=tmp_path)
    assert sim2.params["RTL_ALT"] == 2500 and sim2.params["FS_GCS_ENABLE"] == 0
    assert sim2.params["CAM1_TYPE"] == 1  # the profile default is still there
    assert len(sim2.store.mission) == 3
    gcs2.send(gcs2.mav.param_request_list_encode(1, 1))
    sim2.advance(2)
    values = gcs2.take("PARAM_VALUE")
    assert len({v.param_id for v in values}) == values[0].param_count == sim2.params.count()
    gcs2.take()
    gcs2.send(gcs2.mav.param_set_encode(1, 1, b"NOT_A_PARAM", 1, 9))
    assert not gcs2.take("PARAM_VALUE")  # ArduPilot ignores unknown names silently


def test_too_many_items_is_no_space_and_wrong_fence_items_rejected():
    sim, gcs = make_sim()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 5000, 0))
    assert gcs.take("MISSION_ACK")[-1].type == 4  # MAV_MISSION_NO_SPACE
    gcs.send(gcs.mav.mission_count_encode(1, 1, 1, 1))
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1))
    assert gcs.take("MISSION_ACK")[-1].type == 3  # a waypoint is not a fence item: UNSUPPORTED
    gcs.send(gcs.mav.mission_count_encode(1, 1, 1, 2))
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 0, 0, 5100, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2))
    assert gcs.take("MISSION_ACK")[-1].type == 2  # rally points need a relative-altitude frame


def test_mission_start_while_disarmed_latches_internal_error_like_sitl():
    sim, gcs = make_sim()
    upload(sim, gcs, [home_item(), takeoff(), at(40, 0)])
    assert gcs.command(300, 0, 0) == 0  # accepted ...
    assert sim.vehicle.mode == 3
    assert gcs.command(176, 1, 4) == 0
    sim.advance(5)
    assert gcs.command(400, 1) == 4  # ... but ArduCopter then refuses to arm until rebooted
    assert "Arm: Internal errors 0x100000 l:373 flow_of_ctrl" in sim.statustexts()

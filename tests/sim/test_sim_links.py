"""Transports and link faults: several ground stations, SITL-like ports, UDP out, lossy uploads."""

from __future__ import annotations

import socket
import time


from fixtures.vehicles import MavClient
from sim_harness import HOME, at, home_item, takeoff
from uavops.mission import MissionItem
from uavops.sim import SimConfig, start_sim
from uavops.sim.profiles import find_profile


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_clock_waits_for_first_client_like_sitl(tmp_path):
    with start_sim(SimConfig(home=HOME, speedup=20, tcp_port=0, udp_out=None, ekf_settle_s=2)) as sim:
        time.sleep(0.3)
        assert sim.sim_time_s == 0.0
        client = MavClient(sim.tcp_url)
        try:
            sim.wait_sim_time(1.0)
            assert sim.sim_time_s >= 1.0
        finally:
            client.close()


def test_several_ground_stations_and_extra_ports_and_udp_out():
    udp_port = _free_udp_port()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", udp_port))
    listener.close()  # pymavlink binds it below
    with start_sim(SimConfig(home=HOME, speedup=10, tcp_port=0, extra_tcp_ports=(0,), udp_out=f"127.0.0.1:{udp_port}",
                             ekf_settle_s=2, params_file=find_profile())) as sim:
        a = MavClient(sim.tcp_urls[0], 10)
        b = MavClient(sim.tcp_urls[0], 10, source_system=254)
        c = MavClient(sim.tcp_urls[1], 10, source_system=253)
        u = MavClient(f"udpin:127.0.0.1:{udp_port}", 10, source_system=252)
        try:
            # a command from one station changes what every station sees
            assert a.set_mode(5).result == 0
            for gcs in (b, c, u):
                assert gcs.recv("HEARTBEAT", 5, condition=lambda m: m.custom_mode == 5) is not None
            # the UDP station can command too
            ack = u.command(176, 1, 4)
            assert ack is not None and ack.result == 0
            assert a.recv("HEARTBEAT", 5, condition=lambda m: m.custom_mode == 4) is not None
            # a parameter set by one station is broadcast to all
            b.mav.param_set_send(1, 1, b"WPNAV_RADIUS", 300.0, 9)
            for gcs in (a, c):
                assert gcs.recv("PARAM_VALUE", 5, condition=lambda m: m.param_id == "WPNAV_RADIUS") is not None
        finally:
            for gcs in (a, b, c, u):
                gcs.close()


def _upload_with_retries(gcs: MavClient, items: list[MissionItem], mission_type: int = 0,
                         deadline_s: float = 120.0) -> None:
    """pymavlink upload that survives a lossy link: resend COUNT until asked, answer every request,
    and when the final ACK is lost confirm the count by downloading it."""
    n = len(items)
    end = time.monotonic() + deadline_s
    gcs.mav.mission_count_send(1, 1, n, mission_type)
    asked = False
    last_seq = -1
    while time.monotonic() < end:
        msg = gcs.conn.recv_match(type=["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], blocking=True,
                                  timeout=0.3)
        if msg is None:
            if not asked:
                gcs.mav.mission_count_send(1, 1, n, mission_type)
            elif last_seq == n - 1:
                gcs.mav.mission_request_list_send(1, 1, mission_type)
                cnt = gcs.conn.recv_match(type="MISSION_COUNT", blocking=True, timeout=0.3)
                if cnt is not None and cnt.count == n:
                    return
            continue
        if msg.get_type() == "MISSION_ACK":
            if msg.type == 0 and last_seq == n - 1:
                return
            if msg.type == 15 or (msg.type != 0 and not asked):  # cancelled: start again
                asked, last_seq = False, -1
                gcs.mav.mission_count_send(1, 1, n, mission_type)
            continue
        asked = True
        f = items[msg.seq].to_int_fields()
        gcs.mav.mission_item_int_send(1, 1, msg.seq, f["frame"], f["command"], 0, 1, f["param1"], f["param2"],
                                      f["param3"], f["param4"], f["x"], f["y"], f["z"], mission_type)
        last_seq = max(last_seq, msg.seq)
    raise AssertionError("upload did not complete")


def test_300_item_upload_survives_20_percent_loss(builtin_vehicle):
    sim = builtin_vehicle.sim
    items = [home_item(), takeoff()] + [at(5.0 * (i // 20), 5.0 * (i % 20)) for i in range(298)]
    gcs = MavClient(builtin_vehicle.connect_url, builtin_vehicle.speedup)
    try:
        sim.faults.set(packet_loss=0.2, latency_s=0.005, duplicate=0.01)
        _upload_with_retries(gcs, items)
        sim.faults.clear()
        assert len(sim.store.mission) == 300
        stored = sim.store.mission
        for sent, got in zip(items[1:], stored[1:]):
            assert got.command == sent.command and abs(got.param5 - sent.param5) < 2e-7
    finally:
        gcs.close()


def test_link_faults_drop_and_duplicate_messages(builtin_vehicle):
    sim = builtin_vehicle.sim
    gcs = MavClient(builtin_vehicle.connect_url, builtin_vehicle.speedup)
    try:
        sim.faults.set(packet_loss=0.5)
        start = sim.sim_time_s
        beats = 0
        while sim.sim_time_s - start < 40:
            if gcs.recv("HEARTBEAT", 2) is not None:
                beats += 1
        assert 8 <= beats <= 32  # about half of ~40 heartbeats
        sim.faults.set(packet_loss=0.0, duplicate=1.0)
        gcs.recv("HEARTBEAT", 3)
        seqs = []
        for _ in range(4):
            m = gcs.recv("HEARTBEAT", 3)
            seqs.append(m.get_seq())
        assert len(set(seqs)) < len(seqs)  # duplicates carry the same sequence number
    finally:
        gcs.close()


def test_socket_free_transport_for_the_link_layer(builtin_vehicle):
    from uavops.link.transport import MavlinkTransport, message_factory

    sim = builtin_vehicle.sim
    tr = sim.transport()
    assert isinstance(tr, MavlinkTransport)
    try:
        f = message_factory()
        got = None
        for _ in range(50):
            got = tr.recv(0.5)
            if got is not None and got.get_type() == "HEARTBEAT" and got.system_status != 1:  # booted
                break
        assert got is not None and got.get_type() == "HEARTBEAT"
        tr.send(f.command_long_encode(1, 1, 176, 0, 1, 5, 0, 0, 0, 0, 0))
        for _ in range(200):
            msg = tr.recv(0.5)
            if msg is not None and msg.get_type() == "COMMAND_ACK":
                assert msg.command == 176 and msg.result == 0
                break
        else:
            raise AssertionError("no COMMAND_ACK")
        sim.wait_until(lambda v: v.mode == 5, 5)
        assert sim.vehicle.mode == 5
    finally:
        tr.close()

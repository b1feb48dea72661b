"""A small ArduCopter-like vehicle written as ScriptedTransport handlers (unit tests only).

It speaks the mission protocol as ArduPilot does (answers MISSION_COUNT with MISSION_REQUEST,
replaces item 0 with home, NACKs out-of-sequence items), parameters, COMMAND_LONG with
ArduPilot's pre-arm refusal texts, and sends HEARTBEAT only until streams are requested.
"""

from __future__ import annotations

import random
import time
from typing import Any

from uavops.link.transport import ScriptedTransport, message_factory

HOME = (43.2389, 76.8897, 850.0)


class ScriptedVehicle:
    def __init__(self, *, prearm_reasons: list[str] | None = None, loss: float = 0.0, seed: int = 1,
                 params: dict[str, float] | None = None, max_items: int = 1000,
                 drop_final_ack: bool = False, corrupt_seq: int | None = None, rerequest_s: float = 1.0) -> None:
        self.rerequest_s = rerequest_s
        self.last_request: dict[int, float] = {}
        self.v = message_factory(1, 1)
        self.rng = random.Random(seed)
        self.loss = loss
        self.prearm_reasons = prearm_reasons or []
        self.params: dict[str, float] = dict(params or {"FENCE_ENABLE": 0.0, "WPNAV_SPEED": 500.0,
                                                          "BATT_LOW_VOLT": 10.5, "RTL_ALT": 1500.0})
        self.param_limits = {"WPNAV_SPEED": (20.0, 2000.0)}
        self.stores: dict[int, list[Any]] = {0: [], 1: [], 2: []}
        self.receiving: dict[int, int] = {}  # mission_type -> expected count
        self.incoming: dict[int, list[Any]] = {}
        self.streaming = False
        self.armed = False
        self.custom_mode = 0  # STABILIZE
        self.max_items = max_items
        self.drop_final_ack = drop_final_ack
        self.corrupt_seq = corrupt_seq
        self.commands: list[int] = []
        self.count_requests = 0
        self.list_requests = 0

    def transport(self) -> ScriptedTransport:
        return ScriptedTransport(self.handle, tick=self.tick, tick_s=0.1, drop=self._drop)

    def _drop(self, msg: Any) -> bool:
        return self.loss > 0 and msg.get_type() != "HEARTBEAT" and self.rng.random() < self.loss

    # --- periodic ----------------------------------------------------------------------
    def tick(self) -> list[Any]:
        v = self.v
        now = time.monotonic()
        out = []
        for mt, expected in list(self.receiving.items()):  # ArduPilot re-requests after 1 s
            if now - self.last_request.get(mt, now) > self.rerequest_s:
                self.last_request[mt] = now
                out.append(v.mission_request_encode(255, 190, len(self.incoming[mt]), mt))
        out += [v.heartbeat_encode(2, 3, 1 | (128 if self.armed else 0), self.custom_mode, 3)]
        if self.streaming:
            out.append(v.global_position_int_encode(0, int(HOME[0] * 1e7), int(HOME[1] * 1e7),
                                                    int(HOME[2] * 1000), 0, 0, 0, 0, 0))
            present = 0x10000000
            health = 0 if self.prearm_reasons else 0x10000000
            out.append(v.sys_status_encode(present, present, health, 0, 12600, 0, 87, 0, 0, 0, 0, 0, 0))
            out.append(v.gps_raw_int_encode(0, 3, int(HOME[0] * 1e7), int(HOME[1] * 1e7), 0, 80, 120, 0, 0, 12))
            out.append(v.ekf_status_report_encode(0x3F | 0x100, 0.1, 0.1, 0.1, 0.1, 0.1))
        return out

    # --- requests ----------------------------------------------------------------------
    def handle(self, m: Any) -> list[Any]:
        kind = m.get_type()
        v = self.v
        if kind in ("REQUEST_DATA_STREAM",) or (kind == "COMMAND_LONG" and m.command == 511):
            self.streaming = True
        if kind == "COMMAND_LONG":
            return self._command(m)
        if kind == "MISSION_COUNT":
            self.count_requests += 1
            mt = m.mission_type
            if m.count > self.max_items:
                return [v.mission_ack_encode(255, 190, 4, mt)]
            self.receiving[mt] = m.count
            self.incoming[mt] = []
            if m.count == 0:
                self.stores[mt] = []
                del self.receiving[mt]
                return [v.mission_ack_encode(255, 190, 0, mt)]
            self.last_request[mt] = time.monotonic()
            return [v.mission_request_encode(255, 190, 0, mt)]
        if kind in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            mt = m.mission_type
            if mt not in self.receiving:
                return [v.mission_ack_encode(255, 190, 1, mt)]
            got = self.incoming[mt]
            if m.seq != len(got):
                return [v.mission_ack_encode(255, 190, 13, mt)]
            got.append(m)
            if len(got) == self.receiving[mt]:
                self.stores[mt] = got
                del self.receiving[mt]
                if self.drop_final_ack:
                    return []
                return [v.mission_ack_encode(255, 190, 0, mt)]
            self.last_request[mt] = time.monotonic()
            return [v.mission_request_encode(255, 190, len(got), mt)]
        if kind == "MISSION_REQUEST_LIST":
            self.list_requests += 1
            return [v.mission_count_encode(255, 190, len(self.stores[m.mission_type]), m.mission_type)]
        if kind in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            store = self.stores[m.mission_type]
            if m.seq >= len(store):
                return [v.mission_ack_encode(255, 190, 13, m.mission_type)]
            it = store[m.seq]
            x, y, z = it.x, it.y, it.z
            if m.mission_type == 0 and m.seq == 0:
                x, y, z = int(HOME[0] * 1e7), int(HOME[1] * 1e7), HOME[2]
            if self.corrupt_seq is not None and m.seq == self.corrupt_seq:
                z = z + 5.0
            return [v.mission_item_int_encode(255, 190, m.seq, it.frame, it.command, 0, it.autocontinue, it.param1,
                                              it.param2, it.param3, it.param4, x, y, z, m.mission_type)]
        if kind == "MISSION_CLEAR_ALL":
            self.stores[m.mission_type] = []
            return [v.mission_ack_encode(255, 190, 0, m.mission_type)]
        if kind == "PARAM_REQUEST_LIST":
            names = sorted(self.params)
            return [self._pv(n, i, len(names)) for i, n in enumerate(names)]
        if kind == "PARAM_REQUEST_READ":
            names = sorted(self.params)
            pid = m.param_id.rstrip("\x00") if isinstance(m.param_id, str) else m.param_id.decode().rstrip("\x00")
            if m.param_index >= 0:
                if m.param_index < len(names):
                    return [self._pv(names[m.param_index], m.param_index, len(names))]
                return []
            if pid in self.params:
                return [self._pv(pid, names.index(pid), len(names))]
            return []
        if kind == "PARAM_SET":
            pid = m.param_id.rstrip("\x00") if isinstance(m.param_id, str) else m.param_id.decode().rstrip("\x00")
            if pid not in self.params:
                return []
            lo, hi = self.param_limits.get(pid, (-1e9, 1e9))
            self.params[pid] = min(max(m.param_value, lo), hi)
            names = sorted(self.params)
            return [self._pv(pid, names.index(pid), len(names))]
        return []

    def _pv(self, name: str, index: int, count: int) -> Any:
        return self.v.param_value_encode(name.encode(), self.params[name], 9, count, index)

    def _command(self, m: Any) -> list[Any]:
        v = self.v
        self.commands.append(m.command)
        if m.command == 400:
            if m.param1 == 1 and self.prearm_reasons:
                texts = [v.statustext_encode(3, f"PreArm: {r}".encode()) for r in self.prearm_reasons]
                return [v.command_ack_encode(400, 4), *texts]
            self.armed = m.param1 == 1
            return [v.command_ack_encode(400, 0)]
        if m.command == 176:
            self.custom_mode = int(m.param2)
            return [v.command_ack_encode(176, 0)]
        if m.command == 9999:
            return []  # never answered
        if m.command == 3:
            return [v.command_ack_encode(3, 3)]
        return [v.command_ack_encode(m.command, 0)]


def wait_streaming(link: Any, timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if link.state.lat_deg is not None:
            return
        time.sleep(0.02)
    raise AssertionError("no telemetry")

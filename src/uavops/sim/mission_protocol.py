"""The MAVLink mission protocol as ArduPilot's MissionItemProtocol implements it.

Upload: MISSION_COUNT -> the vehicle sends MISSION_REQUEST (not _INT) for each seq, accepts
MISSION_ITEM_INT or MISSION_ITEM replies, re-requests after 1 s (sim time) without an answer and
cancels with MISSION_ACK OPERATION_CANCELLED after 8 s without progress. A second ground
station's MISSION_COUNT during an upload is DENIED. Mission and rally items are written as they
arrive (as AP_Mission does); fence items are committed only when the upload completes.
Download: MISSION_REQUEST_LIST -> MISSION_COUNT; MISSION_REQUEST_INT -> MISSION_ITEM_INT, the
old MISSION_REQUEST -> MISSION_ITEM plus a one-time STATUSTEXT warning. Mission item 0 always
reads back as the current home.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as M

from ..mission import MAV_MISSION_TYPE, MissionItem
from .mission_store import LOCATION_COMMANDS, MAV_MISSION_RESULT

if TYPE_CHECKING:
    from .mavlink_gcs import GcsHub
    from .transport import Link

__all__ = ["MissionProtocol", "UPLOAD_TIMEOUT_S", "REQUEST_RESEND_S"]

UPLOAD_TIMEOUT_S = 8.0
REQUEST_RESEND_S = 1.0


class MissionProtocol:
    def __init__(self, hub: "GcsHub", mission_type: int) -> None:
        self.hub = hub
        self.mission_type = mission_type
        self.receiving = False
        self.link: Link | None = None
        self.dest = (0, 0)
        self.request_i = 0
        self.request_last = 0
        self.t_last_receive = 0.0
        self.t_last_request = 0.0
        self._fence_buffer: list[MissionItem] = []
        self.request_warning_sent = False
        self.item_warning_sent = False

    @property
    def store(self):  # type: ignore[no-untyped-def]
        return self.hub.v.store

    def _now(self) -> float:
        return self.hub.v.t

    def _ack(self, link: "Link", sysid: int, compid: int, result: int) -> None:
        link.send(self.hub.enc.mission_ack_encode(sysid, compid, result, self.mission_type))

    def _items(self) -> list[MissionItem]:
        return self.store.lists[self.mission_type]

    def item_count(self) -> int:
        return len(self._items())

    # --- upload --------------------------------------------------------------------------
    def handle_count(self, link: "Link", msg: Any) -> None:
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        if self.receiving:
            if src != self.dest:
                self._ack(link, *src, MAV_MISSION_RESULT.DENIED)
                return
            self._fence_buffer = []
        if msg.count > self.store.MAX_ITEMS[self.mission_type]:
            self._ack(link, *src, MAV_MISSION_RESULT.NO_SPACE)
            self.hub.text(4, f"Only {self.store.MAX_ITEMS[self.mission_type]} items are supported")
            return
        if self.mission_type != MAV_MISSION_TYPE.FENCE:
            # AP_Mission truncates straight away; the home item survives a count of 0 only as home
            items = self._items()
            del items[msg.count:]
            self.store.version += 1
        self._fence_buffer = []
        if msg.count == 0:
            self._complete(link, src)
            return
        self.receiving = True
        self.link = link
        self.dest = src
        self.request_i = 0
        self.request_last = msg.count - 1
        self.t_last_receive = self._now()
        self._send_request()

    def _send_request(self) -> None:
        if self.link is None:
            return
        self.link.send(self.hub.enc.mission_request_encode(self.dest[0], self.dest[1], self.request_i,
                                                            self.mission_type))
        self.t_last_request = self._now()

    def handle_item(self, link: "Link", msg: Any, item: MissionItem) -> None:
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        if msg.get_type() == "MISSION_ITEM" and not self.item_warning_sent:
            self.item_warning_sent = True
            self.hub.text(4, "got MISSION_ITEM; GCS should send MISSION_ITEM_INT")
        if not self.receiving or self.link is None:
            self._ack(link, *src, MAV_MISSION_RESULT.ERROR)
            return
        if msg.seq != self.request_i:
            self._ack(link, *src, MAV_MISSION_RESULT.INVALID_SEQUENCE)
            return
        if src != self.dest:
            self._ack(link, *src, MAV_MISSION_RESULT.DENIED)
            return
        result, stored = self.store.convert(self.mission_type, item)
        if result == MAV_MISSION_RESULT.ACCEPTED and stored is not None and stored.command == M.MAV_CMD_DO_JUMP:
            target = int(stored.param1)
            if (target >= self.item_count() and target > self.request_last) or target == 0:
                result = MAV_MISSION_RESULT.ERROR
        if result != MAV_MISSION_RESULT.ACCEPTED or stored is None:
            self._ack(self.link, *src, result)
            self.receiving = False
            self.link = None
            self._fence_buffer = []
            return
        if self.mission_type == MAV_MISSION_TYPE.FENCE:
            self._fence_buffer.append(stored)
        else:
            items = self._items()
            if msg.seq < len(items):
                items[msg.seq] = stored
            elif msg.seq == len(items):
                items.append(stored)
            else:
                self._ack(self.link, *src, MAV_MISSION_RESULT.ERROR)
                self.receiving = False
                self.link = None
                return
            self.store.version += 1
        self.t_last_receive = self._now()
        self.request_i += 1
        if self.request_i > self.request_last:
            self._complete(self.link, src)
            return
        self._send_request()

    def _complete(self, link: "Link", src: tuple[int, int]) -> None:
        if self.mission_type == MAV_MISSION_TYPE.FENCE:
            self.store.replace_all(MAV_MISSION_TYPE.FENCE, self._fence_buffer)
            self.hub.v.params.set("FENCE_TOTAL", len(self._fence_buffer), internal=True, persist=False)
        elif self.mission_type == MAV_MISSION_TYPE.MISSION:
            link.send(self.hub.enc.statustext_encode(6, b"Flight plan received"))
            self.hub.v.params.set("MIS_TOTAL", self.item_count(), internal=True, persist=False)
        else:
            link.send(self.hub.enc.statustext_encode(6, b"Rally points received"))
            self.hub.v.params.set("RALLY_TOTAL", self.item_count(), internal=True, persist=False)
        self._fence_buffer = []
        self._ack(link, *src, MAV_MISSION_RESULT.ACCEPTED)
        self.receiving = False
        self.link = None
        self.hub.persist()
        if self.mission_type == MAV_MISSION_TYPE.MISSION:
            self.hub.mission_current_changed()

    def update(self) -> None:
        if not self.receiving or self.link is None:
            return
        now = self._now()
        if now - self.t_last_receive > UPLOAD_TIMEOUT_S:
            self.receiving = False
            what = {0: b"Mission", 1: b"Fence", 2: b"Rally"}[self.mission_type]
            self.link.send(self.hub.enc.statustext_encode(4, what + b" upload timeout"))
            self._ack(self.link, *self.dest, MAV_MISSION_RESULT.OPERATION_CANCELLED)
            self.link = None
            self._fence_buffer = []
            self.hub.persist()
            return
        if now - self.t_last_request > REQUEST_RESEND_S:
            self._send_request()

    # --- download ------------------------------------------------------------------------
    def handle_request_list(self, link: "Link", msg: Any) -> None:
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        if self.receiving:
            self._ack(link, *src, MAV_MISSION_RESULT.DENIED)
            return
        link.send(self.hub.enc.mission_count_encode(src[0], src[1], self.item_count(), self.mission_type))

    def _get_item(self, seq: int) -> MissionItem | None:
        items = self._items()
        if self.mission_type == MAV_MISSION_TYPE.MISSION and seq == 0:
            return self.hub.home_item()
        if seq >= len(items):
            return None
        return items[seq]

    def handle_request(self, link: "Link", msg: Any, *, as_int: bool) -> None:
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        if self.receiving:
            self._ack(link, *src, MAV_MISSION_RESULT.DENIED)
            return
        item = self._get_item(msg.seq)
        if item is None:
            if self.mission_type == MAV_MISSION_TYPE.MISSION:
                link.send(self.hub.enc.mission_count_encode(src[0], src[1], self.item_count(), self.mission_type))
            self._ack(link, *src, MAV_MISSION_RESULT.ERROR if self.mission_type == 0
                      else MAV_MISSION_RESULT.INVALID_SEQUENCE)
            return
        current = 1 if (self.mission_type == 0 and self.hub.v.mission.nav_index == msg.seq) else 0
        fields = item.to_int_fields()
        if not as_int:
            if not self.request_warning_sent:
                self.request_warning_sent = True
                self.hub.text(4, "got MISSION_REQUEST; use MISSION_REQUEST_INT!")
            x, y = fields["x"], fields["y"]
            if self.mission_type != MAV_MISSION_TYPE.MISSION or item.command in LOCATION_COMMANDS:
                fx, fy = item.param5, item.param6
            else:
                fx, fy = float(x), float(y)
            link.send(self.hub.enc.mission_item_encode(src[0], src[1], msg.seq, fields["frame"], fields["command"],
                                                       current, 1, fields["param1"], fields["param2"],
                                                       fields["param3"], fields["param4"], fx, fy, fields["z"],
                                                       self.mission_type))
            return
        x, y = fields["x"], fields["y"]
        if self.mission_type == MAV_MISSION_TYPE.MISSION and item.command not in LOCATION_COMMANDS:
            # non-location items are stored raw; frame 0 would otherwise scale them by 1e7
            x, y = int(round(item.param5)), int(round(item.param6))
        link.send(self.hub.enc.mission_item_int_encode(src[0], src[1], msg.seq, fields["frame"], fields["command"],
                                                       current, 1, fields["param1"], fields["param2"],
                                                       fields["param3"], fields["param4"], x, y, fields["z"],
                                                       self.mission_type))

    def handle_clear_all(self, link: "Link", msg: Any) -> None:
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        ok = not self.receiving
        if ok and self.mission_type == MAV_MISSION_TYPE.MISSION:
            ok = self.hub.v.mission.state != 1
        if ok:
            self.store.replace_all(self.mission_type, [])
            self.hub.persist()
        self._ack(link, *src, MAV_MISSION_RESULT.ACCEPTED if ok else MAV_MISSION_RESULT.ERROR)

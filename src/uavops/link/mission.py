"""Mission protocol client (mission, fence and rally) with verification by download.

Follows the MAVLink mission microservice as QGroundControl implements it: MISSION_ITEM_INT
only, 1.5 s acknowledgement timeout, 0.25 s item timeout, retries, answers to both
MISSION_REQUEST (what ArduPilot sends) and MISSION_REQUEST_INT. Downloads keep a small window
of item requests in flight (ArduPilot answers each request independently), which makes the
verification download cheap. Every upload is verified by downloading the items back and
comparing them one by one with :func:`uavops.mission.items_match` (home, item 0 of the
mission type, is exempt: ArduPilot replaces it with the real home).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import LinkTimeout, MissionTransferError
from ..mission import MAV_MISSION_TYPE, MissionItem, is_global_frame, items_match
from .connection import MavConnection

__all__ = ["TransferPolicy", "VerifyResult", "MissionClient", "mission_result_text", "MISSION_TYPE_NAMES"]

log = logging.getLogger(__name__)

MISSION_TYPE_NAMES = {MAV_MISSION_TYPE.MISSION: "mission", MAV_MISSION_TYPE.FENCE: "fence",
                      MAV_MISSION_TYPE.RALLY: "rally points"}

_RESULTS = {
    0: "accepted",
    1: "a generic error (the vehicle rejected the items)",
    2: "an unsupported coordinate frame",
    3: "an unsupported command",
    4: "no space: the vehicle cannot store that many items",
    5: "an invalid item",
    6: "an invalid param1", 7: "an invalid param2", 8: "an invalid param3", 9: "an invalid param4",
    10: "an invalid x/latitude", 11: "an invalid y/longitude", 12: "an invalid altitude/param7",
    13: "an item out of sequence",
    14: "denied: the vehicle does not accept this now (e.g. while flying or another transfer runs)",
    15: "the operation was cancelled",
}
_ACCEPTED = 0
_INVALID_SEQUENCE = 13
# ACKs a download may meet that belong to an earlier upload (ArduPilot answers a resent item
# after completion with a generic ERROR, duplicates with INVALID_SEQUENCE): not about this download.
_STALE_ACKS = (_ACCEPTED, 1, _INVALID_SEQUENCE)
_CANCELLED = 15


class _TransferCancelled(MissionTransferError):
    """The vehicle gave up on a transfer (its own timeout): worth starting again."""


def mission_result_text(code: int) -> str:
    return _RESULTS.get(int(code), f"MAV_MISSION_RESULT {code}")


@dataclass(frozen=True)
class TransferPolicy:
    """Timeouts and retries (QGroundControl: 1.5 s ack, 0.25 s item, 5 retries).

    ``max_retries`` counts consecutive timeouts without progress; lossy radios want more.
    """

    ack_timeout_s: float = 1.5
    item_timeout_s: float = 0.25
    max_retries: int = 5
    download_window: int = 16
    upload_window: int = 4  # items sent ahead of their request (1: strictly one per request)
    transfer_attempts: int = 3  # whole uploads restarted after the vehicle cancels one


@dataclass
class VerifyResult:
    """Outcome of comparing the uploaded items with what the vehicle holds."""

    mission_type: int
    ok: bool
    uploaded_count: int
    vehicle_count: int
    mismatches: list[int] = field(default_factory=list)
    upload_s: float = 0.0
    verify_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"mission_type": MISSION_TYPE_NAMES.get(self.mission_type, str(self.mission_type)),
                "ok": self.ok, "uploaded_count": self.uploaded_count, "vehicle_count": self.vehicle_count,
                "mismatched_seqs": self.mismatches[:50], "upload_s": round(self.upload_s, 3),
                "verify_s": round(self.verify_s, 3)}


class MissionClient:
    """Upload, download, verify and clear mission/fence/rally items over one connection."""

    def __init__(self, conn: MavConnection, policy: TransferPolicy | None = None) -> None:
        self.conn = conn
        self.policy = policy or TransferPolicy()
        self.last_raw: list[tuple[str, dict[str, Any]]] = []

    # --- upload ------------------------------------------------------------------------
    def upload(self, items: list[MissionItem], mission_type: int = MAV_MISSION_TYPE.MISSION) -> bool:
        """Send ``items`` (wire order; for the mission type item 0 is home).

        The vehicle drives the transfer with MISSION_REQUEST/_INT; each request is answered on
        the reader thread. With ``policy.upload_window`` > 1 the next items are sent ahead of their
        request: ArduPilot stores items strictly in sequence and NACKs anything out of turn
        (MAV_MISSION_INVALID_SEQUENCE), so an item lost on the way is requested again, never
        misplaced, and every upload is verified by download anyway. A vehicle that keeps NACKing
        items sent ahead is served one request at a time for the rest of the transfer.

        Returns True if the vehicle acknowledged with ACCEPTED, False if every item was sent but
        the final acknowledgement was lost (the caller verifies by download either way).

        Raises
        ------
        MissionTransferError
            The vehicle refused the transfer (the reason in words) or stopped requesting items.
        """
        what = MISSION_TYPE_NAMES.get(mission_type, "mission")
        conn, pol = self.conn, self.policy
        ts, tc = conn.target_system, conn.target_component
        count = len(items)
        kinds = {"MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"}
        prepared = [self._item_msg(items, seq, mission_type) for seq in range(count)]
        lock = threading.Lock()
        st = {"sent_at": {}, "expected": 0, "highest_sent": -1, "nacks": 0, "window": max(1, pol.upload_window),
              "last_nack_resend": 0.0}

        def send_item(seq: int, now: float) -> None:
            conn.send(prepared[seq])
            st["sent_at"][seq] = now
            st["highest_sent"] = max(st["highest_sent"], seq)

        def respond(m: Any) -> None:  # reader thread
            now = time.monotonic()
            with lock:
                if m.get_type() == "MISSION_ACK":
                    if m.type == _INVALID_SEQUENCE and count:
                        # an item arrived out of turn: the expected one was lost on the way
                        st["nacks"] += 1
                        if st["nacks"] > 8 and st["window"] > 1:
                            st["window"] = 1
                        # either the expected item was lost, or the request for the one after it:
                        # offer both; the vehicle keeps whichever it is waiting for and NACKs the other
                        exp = st["expected"]
                        if exp < count and now - st["last_nack_resend"] > pol.item_timeout_s / 2:
                            st["last_nack_resend"] = now
                            for k in range(exp, min(exp + 2, count)):
                                send_item(k, now)
                    return
                seq = int(m.seq)
                if not 0 <= seq < count:
                    return
                st["expected"] = max(st["expected"], seq)
                recent = st["sent_at"].get(seq)
                if recent is None or now - recent > pol.item_timeout_s / 2 or st["window"] == 1:
                    send_item(seq, now)
                for ahead in range(seq + 1, min(seq + st["window"], count)):
                    if ahead not in st["sent_at"]:
                        send_item(ahead, now)

        def mine(m: Any) -> bool:
            return bool(getattr(m, "mission_type", 0) == mission_type
                        and getattr(m, "target_system", 255) in (0, 255))

        with conn.subscribe(kinds, mine, respond) as sub:
            count_msg = conn.factory.mission_count_encode(ts, tc, count, mission_type)
            conn.send(count_msg)
            highest_requested = -1
            retries = 0
            last_progress = time.monotonic()
            last_action = time.monotonic()
            while True:
                waiting_ack = highest_requested >= count - 1
                timeout = pol.ack_timeout_s if highest_requested < 0 or waiting_ack else pol.item_timeout_s
                # time out on lack of progress, not on silence: NACKs of duplicates are not progress
                msg = sub.get(max(0.0, last_action + timeout - time.monotonic()))
                if msg is None:
                    last_action = time.monotonic()
                    retries += 1
                    stalled_s = time.monotonic() - last_progress
                    with lock:
                        highest_sent = st["highest_sent"]
                    if retries > pol.max_retries and stalled_s > pol.ack_timeout_s * pol.max_retries:
                        if count and highest_sent >= count - 1:
                            log.info("%s upload: final acknowledgement lost; verifying by download", what)
                            return False
                        raise MissionTransferError(
                            f"The vehicle stopped requesting {what} items (got to item "
                            f"{max(highest_requested, 0)} of {count}) after {pol.max_retries} retries; "
                            "check the link quality and try again.")
                    with lock:
                        if highest_requested < 0:
                            conn.send(count_msg)
                        else:  # the item or the next request was lost: offer the expected one and the next
                            exp = st["expected"]
                            for k in range(exp, min(exp + 2, count)):
                                send_item(k, time.monotonic())
                    continue
                kind = msg.get_type()
                if kind == "MISSION_ACK":
                    if msg.type == _ACCEPTED:
                        if highest_requested >= count - 1 or count == 0:
                            return True
                        with lock:
                            if st["highest_sent"] >= count - 1:
                                return True  # the last items went ahead of their requests
                        continue  # a stale ACK of an earlier transfer
                    if msg.type == _INVALID_SEQUENCE:
                        continue  # handled by the responder
                    with lock:
                        highest_sent = st["highest_sent"]
                    if highest_sent >= count - 1 and count:
                        return False  # all sent; a late NACK to a duplicate, verification decides
                    if msg.type == _CANCELLED:
                        raise _TransferCancelled(
                            f"The vehicle cancelled the {what} upload at item {highest_requested} (it heard nothing "
                            "from us for too long); check the link and upload again.")
                    raise MissionTransferError(
                        f"The vehicle refused the {what} upload: {mission_result_text(msg.type)}"
                        + (f" at item {highest_requested}" if highest_requested >= 0 else "")
                        + "; fix that item in the plan and upload again.")
                seq = int(msg.seq)
                if seq >= count:
                    raise MissionTransferError(f"The vehicle requested {what} item {seq} but only {count} were "
                                               "offered; restart the upload.")
                if seq > highest_requested:
                    highest_requested = seq
                    retries = 0
                    last_progress = last_action = time.monotonic()

    def _item_msg(self, items: list[MissionItem], seq: int, mission_type: int) -> Any:
        conn = self.conn
        f = items[seq].to_int_fields()
        return conn.factory.mission_item_int_encode(
            conn.target_system, conn.target_component, seq, f["frame"], f["command"], 0, f["autocontinue"],
            f["param1"], f["param2"], f["param3"], f["param4"], f["x"], f["y"], f["z"], mission_type)

    # --- download ----------------------------------------------------------------------
    def download(self, mission_type: int = MAV_MISSION_TYPE.MISSION) -> list[MissionItem]:
        """All items the vehicle holds for ``mission_type`` (for the mission: home first).

        Raises
        ------
        MissionTransferError
            The vehicle did not answer or refused.
        """
        what = MISSION_TYPE_NAMES.get(mission_type, "mission")
        conn, pol = self.conn, self.policy
        ts, tc = conn.target_system, conn.target_component

        def mine(m: Any) -> bool:
            return bool(getattr(m, "mission_type", 0) == mission_type)

        kinds = {"MISSION_COUNT", "MISSION_ITEM_INT", "MISSION_ITEM", "MISSION_ACK"}
        with conn.subscribe(kinds, mine) as sub:
            req = conn.factory.mission_request_list_encode(ts, tc, mission_type)
            count: int | None = None
            for _ in range(pol.max_retries + 1):
                conn.send(req)
                deadline = time.monotonic() + pol.ack_timeout_s
                while count is None and time.monotonic() < deadline:
                    msg = sub.get(deadline - time.monotonic())
                    if msg is None:
                        break
                    if msg.get_type() == "MISSION_COUNT":
                        count = int(msg.count)
                    elif msg.get_type() == "MISSION_ACK" and msg.type not in _STALE_ACKS:
                        raise MissionTransferError(f"The vehicle refused to send its {what}: "
                                                   f"{mission_result_text(msg.type)}.")
                if count is not None:
                    break
            if count is None:
                raise MissionTransferError(f"The vehicle did not say how many {what} items it holds after "
                                           f"{pol.max_retries} retries; check the link.")
            got: dict[int, MissionItem] = {}
            raw: dict[int, tuple[str, dict[str, Any]]] = {}
            attempts: dict[int, int] = {}
            sent_at: dict[int, float] = {}
            next_seq = 0
            lock = threading.Lock()
            total = count

            def respond(m: Any) -> None:
                # on the reader thread: each arriving item frees a window slot for the next request
                nonlocal next_seq
                if m.get_type() not in ("MISSION_ITEM_INT", "MISSION_ITEM"):
                    return
                with lock:
                    sent_at.pop(int(m.seq), None)
                    if next_seq < total and len(sent_at) < pol.download_window:
                        conn.send(conn.factory.mission_request_int_encode(ts, tc, next_seq, mission_type))
                        sent_at[next_seq] = time.monotonic()
                        next_seq += 1

            sub.respond = respond
            while len(got) < count:
                now = time.monotonic()
                lock.acquire()
                # expire outstanding requests
                for seq, t in list(sent_at.items()):
                    if now - t > pol.item_timeout_s:
                        del sent_at[seq]
                        attempts[seq] = attempts.get(seq, 0) + 1
                        if attempts[seq] > pol.max_retries:
                            lock.release()
                            raise MissionTransferError(
                                f"The vehicle did not send {what} item {seq} of {count} after {pol.max_retries} "
                                "retries; check the link quality and download again.")
                # fill the window: retries first, then new items
                missing = [s for s in range(count) if s not in got and s not in sent_at and s < next_seq]
                while len(sent_at) < pol.download_window and (missing or next_seq < count):
                    seq = missing.pop(0) if missing else next_seq
                    if seq == next_seq:
                        next_seq += 1
                    if seq in got:
                        continue
                    conn.send(conn.factory.mission_request_int_encode(ts, tc, seq, mission_type))
                    sent_at[seq] = time.monotonic()
                lock.release()
                msg = sub.get(pol.item_timeout_s / 2)
                if msg is None:
                    continue
                kind = msg.get_type()
                if kind == "MISSION_ACK":
                    if msg.type not in _STALE_ACKS:
                        raise MissionTransferError(f"The vehicle stopped sending its {what}: "
                                                   f"{mission_result_text(msg.type)}.")
                    continue
                if kind == "MISSION_COUNT":
                    continue
                seq = int(msg.seq)
                if seq >= count or seq in got:
                    continue
                fields = msg.to_dict()
                raw[seq] = (kind, fields)
                got[seq] = (MissionItem.from_int_fields(**fields) if kind == "MISSION_ITEM_INT"
                            else MissionItem.from_float_fields(**fields))
            conn.send(conn.factory.mission_ack_encode(ts, tc, _ACCEPTED, mission_type))
        self.last_raw = [raw[i] for i in range(count)]
        return [got[i] for i in range(count)]

    # --- verify / clear ----------------------------------------------------------------
    def upload_verified(self, items: list[MissionItem],
                        mission_type: int = MAV_MISSION_TYPE.MISSION) -> VerifyResult:
        """Upload then download and compare item by item; MissionTransferError if they differ."""
        what = MISSION_TYPE_NAMES.get(mission_type, "mission")
        t0 = time.monotonic()
        for attempt in range(self.policy.transfer_attempts):
            try:
                self.upload(items, mission_type)
                break
            except (_TransferCancelled, LinkTimeout):
                if attempt + 1 >= self.policy.transfer_attempts:
                    raise
                log.warning("%s upload cancelled by the vehicle; starting again", what)
        t1 = time.monotonic()
        result = self.verify(items, mission_type)
        result.upload_s, result.verify_s = t1 - t0, time.monotonic() - t1
        if not result.ok:
            detail = (f"the vehicle holds {result.vehicle_count} items, {result.uploaded_count} were sent"
                      if result.vehicle_count != result.uploaded_count
                      else f"items {', '.join(map(str, result.mismatches[:5]))} differ")
            raise MissionTransferError(f"The {what} on the vehicle does not match the plan after upload ({detail}); "
                                       "upload again and check the vehicle's firmware supports these commands.")
        return result

    def verify(self, items: list[MissionItem], mission_type: int = MAV_MISSION_TYPE.MISSION) -> VerifyResult:
        """Download and compare (home, item 0 of the mission type, excepted)."""
        back = self.download(mission_type)
        raw = self.last_raw
        mismatches = []
        for seq, (sent, got) in enumerate(zip(items, back)):
            if mission_type == MAV_MISSION_TYPE.MISSION and seq == 0:
                continue
            if not is_global_frame(sent.frame) and got.frame != sent.frame:
                # ArduPilot stores no frame for DO_/CONDITION_ commands and reports them as
                # MAV_FRAME_GLOBAL on download; x/y are raw there, so re-read them in our frame.
                kind, fields = raw[seq]
                fields = {**fields, "frame": sent.frame}
                got = (MissionItem.from_int_fields(**fields) if kind == "MISSION_ITEM_INT"
                       else MissionItem.from_float_fields(**fields))
            if not items_match(sent, got):
                mismatches.append(seq)
        ok = len(back) == len(items) and not mismatches
        return VerifyResult(mission_type, ok, len(items), len(back), mismatches)

    def clear(self, mission_type: int = MAV_MISSION_TYPE.MISSION) -> None:
        """MISSION_CLEAR_ALL for one type (MissionTransferError if refused or unanswered)."""
        what = MISSION_TYPE_NAMES.get(mission_type, "mission")
        conn = self.conn
        msg = conn.factory.mission_clear_all_encode(conn.target_system, conn.target_component, mission_type)
        with conn.subscribe("MISSION_ACK", lambda m: getattr(m, "mission_type", 0) == mission_type) as sub:
            for _ in range(self.policy.max_retries + 1):
                conn.send(msg)
                ack = sub.get(self.policy.ack_timeout_s)
                if ack is None:
                    continue
                if ack.type != _ACCEPTED:
                    raise MissionTransferError(f"The vehicle refused to clear its {what}: "
                                               f"{mission_result_text(ack.type)}.")
                return
        raise MissionTransferError(f"The vehicle did not acknowledge clearing its {what}; check the link.")

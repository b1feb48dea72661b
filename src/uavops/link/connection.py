"""One MAVLink connection: a single background reader, heartbeats, typed waits, tlog.

Exactly one thread reads the transport. It folds every message into :class:`VehicleState`,
writes it to the session tlog, hands it to subscriptions (typed waits) and listeners, sends
the GCS heartbeat at 1 Hz and watches the vehicle's heartbeat. When the transport breaks it
reopens it (``transport_factory``) with back-off; when the vehicle's heartbeat comes back after
a loss it asks for the telemetry streams, home and mission state again (resynchronisation),
so callers simply keep waiting while the vehicle keeps flying.

Request/response code subscribes *before* sending, so a fast answer can never be missed::

    with conn.subscribe("MISSION_ACK") as sub:
        conn.send(msg)
        ack = sub.wait(1.5, "the mission acknowledgement")
"""

from __future__ import annotations

import contextlib
import logging
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ConnectionLost, LinkError, LinkTimeout
from .state import VehicleState
from .transport import GCS_COMPID, GCS_SYSID, MavlinkTransport, message_factory

__all__ = ["MavConnection", "Subscription", "TlogWriter"]

log = logging.getLogger(__name__)

# Messages asked for with SET_MESSAGE_INTERVAL on top of REQUEST_DATA_STREAM (id -> Hz).
_WANTED_INTERVALS_HZ = {
    0: 1.0,       # HEARTBEAT
    1: 2.0,       # SYS_STATUS
    24: 2.0,      # GPS_RAW_INT
    33: 5.0,      # GLOBAL_POSITION_INT
    42: 2.0,      # MISSION_CURRENT
    74: 4.0,      # VFR_HUD
    193: 1.0,     # EKF_STATUS_REPORT
    147: 0.5,     # BATTERY_STATUS
    242: 0.2,     # HOME_POSITION
}
_STREAM_KINDS = frozenset({"SYS_STATUS", "GLOBAL_POSITION_INT", "GPS_RAW_INT", "VFR_HUD"})
MAV_TYPE_GCS = 6
MAV_STATE_BOOT = 1
MAV_AUTOPILOT_INVALID = 8


class TlogWriter:
    """MAVProxy/QGC-compatible telemetry log: each message prefixed by a big-endian µs timestamp."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: BinaryIO | None = open(self.path, "ab")
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def write(self, msg: Any) -> None:
        buf = msg.get_msgbuf()
        if not buf:
            return
        with self._lock:
            if self._fh is None:
                return
            self._fh.write(struct.pack(">Q", int(time.time() * 1e6)) + bytes(buf))
            if time.monotonic() - self._last_flush > 1.0:
                self._fh.flush()
                self._last_flush = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


class Subscription:
    """Messages of the given types (and matching ``predicate``) queued for one waiter."""

    def __init__(self, types: frozenset[str] | None, predicate: Callable[[Any], bool] | None,
                 respond: Callable[[Any], None] | None = None) -> None:
        self.types = types
        self.predicate = predicate
        self.respond = respond
        self._queue: queue.Queue[Any] = queue.Queue()

    def offer(self, msg: Any) -> None:
        if self.types is not None and msg.get_type() not in self.types:
            return
        try:
            if self.predicate is not None and not self.predicate(msg):
                return
        except Exception:  # noqa: BLE001 - a buggy predicate must not kill the reader
            log.exception("subscription predicate failed")
            return
        if self.respond is not None:
            # Answer on the reader thread: saves a thread hand-off per item in transfers.
            try:
                self.respond(msg)
            except Exception:  # noqa: BLE001
                log.exception("subscription responder failed")
        self._queue.put(msg)

    def get(self, timeout_s: float) -> Any | None:
        """Next matching message, or ``None`` after ``timeout_s``."""
        try:
            return self._queue.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def wait(self, timeout_s: float, what: str) -> Any:
        """Next matching message, or :class:`LinkTimeout` naming ``what`` was awaited."""
        msg = self.get(timeout_s)
        if msg is None:
            raise LinkTimeout(f"The vehicle did not send {what} within {timeout_s:g} s; "
                              "check the link and that the vehicle is powered.")
        return msg

    def drain(self) -> list[Any]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out


class MavConnection:
    """A live link to one vehicle (the first autopilot whose HEARTBEAT arrives, or ``target_system``)."""

    def __init__(self, transport_factory: Callable[[], MavlinkTransport], *, tlog_path: str | Path | None = None,
                 target_system: int | None = None, heartbeat_timeout_s: float = 3.0,
                 stream_rate_hz: float = 4.0, reconnect_backoff_s: float = 0.5, name: str = "vehicle",
                 gcs_heartbeat_hz: float = 1.0) -> None:
        self.gcs_heartbeat_s = 1.0 / max(gcs_heartbeat_hz, 0.1)
        self._factory = transport_factory
        self._transport: MavlinkTransport | None = None
        self._target_fixed = target_system
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.stream_rate_hz = stream_rate_hz
        self.reconnect_backoff_s = reconnect_backoff_s
        self.name = name
        self.factory = message_factory(GCS_SYSID, GCS_COMPID)
        self._state = VehicleState()
        self._state_lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._subs_lock = threading.Lock()
        self._listeners: list[Callable[[Any], None]] = []
        self._send_lock = threading.Lock()
        self._tlog = TlogWriter(tlog_path) if tlog_path else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_gcs_heartbeat = 0.0
        self._resync_pending = True
        self._last_resync = 0.0
        self._first_heartbeat = threading.Event()
        self._last_stream_s = 0.0
        self.last_error: str | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> "MavConnection":
        """Open the transport and start the reader thread (raises if the link cannot open)."""
        if self._thread is not None:
            return self
        self._transport = self._factory()
        self._thread = threading.Thread(target=self._reader, name=f"mavlink-reader-{self.name}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=3.0)
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._tlog is not None:
            self._tlog.close()

    def __enter__(self) -> "MavConnection":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public API --------------------------------------------------------------------
    @property
    def target_system(self) -> int:
        sysid = self._state.sysid if self._target_fixed is None else self._target_fixed
        if sysid is None:
            raise LinkError("No vehicle heartbeat has been received yet; wait for the heartbeat before commanding.")
        return sysid

    @property
    def target_component(self) -> int:
        return self._state.compid or 1

    @property
    def state(self) -> VehicleState:
        """A consistent copy of the vehicle state."""
        with self._state_lock:
            return self._state.snapshot()

    def peek(self, attr: str) -> Any:
        """One state field without copying the whole state (for tight polling loops)."""
        with self._state_lock:
            return getattr(self._state, attr)

    def wait_heartbeat(self, timeout_s: float = 10.0) -> VehicleState:
        """Block until the vehicle's first heartbeat (LinkTimeout otherwise), then while it still
        says MAV_STATE_BOOT (ArduPilot answers nothing but heartbeats while booting)."""
        t0 = time.monotonic()
        if not self._first_heartbeat.wait(timeout_s):
            extra = f" ({self.last_error})" if self.last_error else ""
            raise LinkTimeout(f"No heartbeat from a vehicle within {timeout_s:g} s{extra}; check the connection "
                              "string, that the vehicle is powered and the radio is paired.")
        while self.peek("system_status") == MAV_STATE_BOOT and time.monotonic() - t0 < timeout_s:
            time.sleep(0.02)
        if self.peek("system_status") == MAV_STATE_BOOT:
            log.warning("%s still reports MAV_STATE_BOOT", self.name)
        else:
            self._resync_pending = True  # requests sent while it booted were ignored
            time.sleep(0.05)
        return self.state

    def send(self, msg: Any) -> None:
        """Send one message; raises ConnectionLost while the link is down."""
        transport = self._transport
        if transport is None:
            raise ConnectionLost(f"The link to {self.name} is down; it is being re-established.")
        with self._send_lock:
            transport.send(msg)
        if self._tlog is not None:
            self._tlog.write(msg)

    def send_quietly(self, msg: Any) -> bool:
        """Send if the link is up; return False instead of raising while reconnecting."""
        try:
            self.send(msg)
            return True
        except ConnectionLost:
            return False

    @contextlib.contextmanager
    def subscribe(self, types: str | Iterable[str] | None = None,
                  predicate: Callable[[Any], bool] | None = None,
                  respond: Callable[[Any], None] | None = None) -> Iterator[Subscription]:
        """Queue messages of ``types`` from the target vehicle for the duration of the block.

        ``respond(msg)``, if given, runs on the reader thread before the message is queued (for
        protocol answers that must go out with the least delay); it must not block.
        """
        names = frozenset([types] if isinstance(types, str) else types) if types is not None else None
        sub = Subscription(names, predicate, respond)
        with self._subs_lock:
            self._subs.append(sub)
        try:
            yield sub
        finally:
            with self._subs_lock:
                self._subs.remove(sub)

    def wait_for(self, types: str | Iterable[str], predicate: Callable[[Any], bool] | None = None, *,
                 timeout_s: float, what: str | None = None) -> Any:
        """The next matching message (LinkTimeout after ``timeout_s``)."""
        with self.subscribe(types, predicate) as sub:
            return sub.wait(timeout_s, what or f"{types}")

    def wait_until(self, condition: Callable[[VehicleState], bool], *, timeout_s: float, what: str,
                   poll_s: float = 0.05) -> VehicleState:
        """Poll the state until ``condition`` holds (LinkTimeout naming ``what`` otherwise)."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.state
            if condition(st):
                return st
            if time.monotonic() >= deadline:
                raise LinkTimeout(f"Timed out after {timeout_s:g} s waiting for {what}.")
            time.sleep(poll_s)

    def add_listener(self, callback: Callable[[Any], None]) -> Callable[[], None]:
        """Call ``callback(msg)`` on the reader thread for every vehicle message; returns a remover."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def request_resync(self) -> None:
        """Ask again for streams, home, version and mission state (after connect or link loss)."""
        self._resync_pending = True

    # --- reader thread -----------------------------------------------------------------
    def _reader(self) -> None:
        while not self._stop.is_set():
            transport = self._transport
            if transport is None:
                self._reopen()
                continue
            try:
                msg = transport.recv(0.05)
            except ConnectionLost as exc:
                self._link_broken(str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - the reader must survive anything
                log.exception("reader error")
                self._link_broken(str(exc))
                continue
            now = time.monotonic()
            if msg is not None:
                self._handle(msg, now)
            self._housekeeping(now)

    def _reopen(self) -> None:
        try:
            self._transport = self._factory()
            self.last_error = None
            log.info("%s: link reopened", self.name)
            self._resync_pending = True
        except LinkError as exc:
            self.last_error = str(exc)
            self._stop.wait(self.reconnect_backoff_s)

    def _link_broken(self, reason: str) -> None:
        log.warning("%s: link broken (%s); reconnecting", self.name, reason)
        self.last_error = reason
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        with self._state_lock:
            if self._state.link_ok:
                self._state.link_ok = False
                self._state.link_losses += 1
        self._stop.wait(self.reconnect_backoff_s)

    def _is_vehicle(self, msg: Any) -> bool:
        src = msg.get_srcSystem()
        if self._target_fixed is not None:
            return bool(src == self._target_fixed)
        if self._state.sysid is None:
            return (msg.get_type() == "HEARTBEAT" and msg.type != MAV_TYPE_GCS
                    and msg.autopilot != MAV_AUTOPILOT_INVALID)
        return bool(src == self._state.sysid)

    def _handle(self, msg: Any, now: float) -> None:
        if self._tlog is not None:
            self._tlog.write(msg)
        if not self._is_vehicle(msg):
            return
        kind = msg.get_type()
        if kind == "HEARTBEAT" and msg.get_srcComponent() != 1 and self._state.compid is not None:
            return  # heartbeats of cameras/gimbals on the same system do not describe the autopilot
        with self._state_lock:
            if kind == "HEARTBEAT":
                if self._state.sysid is None:
                    self._state.sysid = msg.get_srcSystem()
                    self._state.compid = msg.get_srcComponent()
                if not self._state.link_ok:
                    self._state.link_ok = True
                    self._resync_pending = True
            if kind in _STREAM_KINDS:
                self._last_stream_s = now
            if kind == "STATUSTEXT" and self._state.firmware is None:
                text = str(msg.text)
                if text.startswith(("ArduCopter V", "ArduPlane V", "ArduRover V")):
                    self._state.firmware = text.split(" (")[0].replace(" V", " ", 1)
            self._state.update(msg, now)
        if kind == "HEARTBEAT":
            self._first_heartbeat.set()
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            sub.offer(msg)
        for listener in list(self._listeners):
            try:
                listener(msg)
            except Exception:  # noqa: BLE001
                log.exception("listener failed")

    def _housekeeping(self, now: float) -> None:
        if now >= self._next_gcs_heartbeat:
            self._next_gcs_heartbeat = now + self.gcs_heartbeat_s
            self.send_quietly(self.factory.heartbeat_encode(MAV_TYPE_GCS, MAV_AUTOPILOT_INVALID, 0, 0, 4))
        with self._state_lock:
            st = self._state
            if st.link_ok and now - st.last_heartbeat_s > self.heartbeat_timeout_s:
                st.link_ok = False
                st.link_losses += 1
                log.warning("%s: no heartbeat for %.1f s", self.name, now - st.last_heartbeat_s)
            due = self._resync_pending and st.sysid is not None and st.link_ok
        # ArduPilot ignores requests while booting and forgets them on reboot: ask again while
        # the telemetry streams are silent (MAVProxy and QGC do the same)
        silent = st.link_ok and now - self._last_stream_s > 2.0 and now - self._last_resync > 2.0
        if due or silent or (st.link_ok and now - self._last_resync > 5.0 and st.home_lat_deg is None):
            self._resync_pending = False
            self._last_resync = now
            self._resync()

    def _resync(self) -> None:
        """Ask for telemetry (ArduPilot sends only HEARTBEAT until asked) and one-off messages."""
        ts, tc = self.target_system, self.target_component
        f = self.factory
        rate = max(1, int(round(self.stream_rate_hz)))
        self.send_quietly(f.request_data_stream_encode(ts, tc, 0, rate, 1))  # MAV_DATA_STREAM_ALL
        for msg_id, hz in _WANTED_INTERVALS_HZ.items():
            if msg_id in (0,):
                continue
            self.send_quietly(f.command_long_encode(ts, tc, 511, 0, msg_id, int(1e6 / hz), 0, 0, 0, 0, 0))
        self.send_quietly(f.command_long_encode(ts, tc, 512, 0, 148, 0, 0, 0, 0, 0, 0))  # AUTOPILOT_VERSION
        self.send_quietly(f.command_long_encode(ts, tc, 512, 0, 242, 0, 0, 0, 0, 0, 0))  # HOME_POSITION

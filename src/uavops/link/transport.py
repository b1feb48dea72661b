"""The transport seam: the only thing the link layer asks of a MAVLink byte pipe.

Like httpx's ``BaseTransport``, a :class:`MavlinkTransport` moves whole MAVLink messages:
``send`` one, ``recv`` the next (or ``None`` after ``timeout_s``), ``close``. The real
implementation (:mod:`uavops.link.pymavlink_`) wraps pymavlink's udp/tcp/serial links; the
simulator plugs in its own; unit tests use :class:`ScriptedTransport`, which turns a plain
function into a vehicle.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from ..errors import ConnectionLost

__all__ = ["MavlinkTransport", "ScriptedTransport", "message_factory", "GCS_SYSID", "GCS_COMPID"]

GCS_SYSID = 255
GCS_COMPID = 190  # MAV_COMP_ID_MISSIONPLANNER, as QGC/MAVProxy use

MAVLinkMessage = Any  # pymavlink's MAVLink_message (untyped upstream)


@runtime_checkable
class MavlinkTransport(Protocol):
    """A bidirectional MAVLink message pipe."""

    def send(self, msg: MAVLinkMessage) -> None:
        """Send one message (packed with the GCS system/component id)."""

    def recv(self, timeout_s: float) -> MAVLinkMessage | None:
        """Next message, or ``None`` if none arrived within ``timeout_s``.

        Raises :class:`~uavops.errors.ConnectionLost` when the pipe is broken for good.
        """

    def close(self) -> None:
        """Release the socket or device; further calls may raise."""


def message_factory(sysid: int = GCS_SYSID, compid: int = GCS_COMPID) -> Any:
    """A pymavlink encoder whose ``*_encode`` methods build messages (nothing is written)."""
    return mavlink.MAVLink(None, srcSystem=sysid, srcComponent=compid)


class ScriptedTransport:
    """A vehicle made of a function, for unit tests.

    ``handler(msg)`` receives each message the GCS sends (already packed and re-parsed, so it
    sees exactly what a vehicle would) and returns the messages the vehicle answers with.
    ``tick()``, if given, is called about every ``tick_s`` and returns spontaneous messages
    (heartbeats, telemetry). ``drop`` (``msg -> bool``) can drop messages in either direction
    to simulate a lossy radio. Messages built with ``vehicle`` (``message_factory(1, 1)``)
    carry the vehicle's ids.
    """

    def __init__(self, handler: Callable[[MAVLinkMessage], Iterable[MAVLinkMessage] | None],
                 tick: Callable[[], Iterable[MAVLinkMessage] | None] | None = None, tick_s: float = 0.1,
                 drop: Callable[[MAVLinkMessage], bool] | None = None) -> None:
        self._handler = handler
        self._tick = tick
        self._tick_s = tick_s
        self._drop = drop
        self._inbox: queue.Queue[MAVLinkMessage] = queue.Queue()
        self._next_tick = 0.0
        self._closed = False
        self._lock = threading.Lock()
        self._gcs = message_factory()
        self._vehicle_parser = mavlink.MAVLink(None)
        self._gcs_parser = mavlink.MAVLink(None)
        self._veh_packer = message_factory(1, 1)
        self.sent: list[MAVLinkMessage] = []

    def _roundtrip(self, msg: MAVLinkMessage, packer: Any, parser: Any) -> MAVLinkMessage:
        buf = msg.pack(packer)
        return parser.decode(bytearray(buf))

    def _deliver(self, replies: Iterable[MAVLinkMessage] | None) -> None:
        for reply in replies or ():
            if self._drop is not None and self._drop(reply):
                continue
            with self._lock:
                decoded = self._roundtrip(reply, self._veh_packer, self._gcs_parser)
            self._inbox.put(decoded)

    def send(self, msg: MAVLinkMessage) -> None:
        if self._closed:
            raise ConnectionLost("The scripted link is closed.")
        with self._lock:
            decoded = self._roundtrip(msg, self._gcs, self._vehicle_parser)
        self.sent.append(decoded)
        if self._drop is not None and self._drop(decoded):
            return
        self._deliver(self._handler(decoded))

    def recv(self, timeout_s: float) -> MAVLinkMessage | None:
        if self._closed:
            raise ConnectionLost("The scripted link is closed.")
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            if self._tick is not None and now >= self._next_tick:
                self._next_tick = now + self._tick_s
                self._deliver(self._tick())
            wait = min(deadline, self._next_tick if self._tick else deadline) - now
            try:
                return self._inbox.get(timeout=max(0.0, wait))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return None

    def close(self) -> None:
        self._closed = True

"""Socket transports like SITL's: TCP servers (any number of clients) and UDP out.

Each connected ground station is a :class:`Link` with its own MAVLink 2 sequence numbers,
parser, stream rates and parameter-download queue. :class:`LinkFaults` degrades every link the
way a bad radio would (message loss, latency, duplication) with its own seeded RNG, so the
vehicle's physics stay repeatable whatever the link does.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymavlink.dialects.v20 import ardupilotmega as M

if TYPE_CHECKING:
    from .mavlink_gcs import GcsHub

__all__ = ["Link", "LinkFaults", "TcpServer", "UdpOut"]

_MAX_OUTBUF = 2_000_000


@dataclass
class FaultSettings:
    packet_loss: float = 0.0
    latency_s: float = 0.0
    duplicate: float = 0.0


class LinkFaults:
    """Link degradation applied to every MAVLink message in both directions.

    ``latency_s`` is wall-clock delay (a radio's latency does not speed up with the simulation).
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed * 7919 + 17)
        self._lock = threading.Lock()
        self.settings = FaultSettings()

    def set(self, *, packet_loss: float | None = None, latency_s: float | None = None,
            duplicate: float | None = None) -> None:
        with self._lock:
            if packet_loss is not None:
                self.settings.packet_loss = min(1.0, max(0.0, packet_loss))
            if latency_s is not None:
                self.settings.latency_s = max(0.0, latency_s)
            if duplicate is not None:
                self.settings.duplicate = min(1.0, max(0.0, duplicate))

    def copies(self) -> int:
        """How many copies of one message get through (0 = lost)."""
        s = self.settings
        if s.packet_loss <= 0 and s.duplicate <= 0:
            return 1
        with self._lock:
            if self._rng.random() < s.packet_loss:
                return 0
            return 2 if self._rng.random() < s.duplicate else 1


class Link:
    """One ground station connection."""

    def __init__(self, name: str, faults: LinkFaults) -> None:
        self.name = name
        self.faults = faults
        self.mav = M.MAVLink(None, srcSystem=1, srcComponent=1)
        self.parser = M.MAVLink(None)
        self.parser.robust_parsing = True
        self.intervals: dict[str, float] = {}
        self.last_sent: dict[str, float] = {}
        self.param_queue: list[str] = []
        self.closed = False
        self._out_delayed: deque[tuple[float, bytes]] = deque()
        self._in_delayed: deque[tuple[float, Any]] = deque()
        self.sent_count = 0
        self.received_count = 0

    # subclasses implement _write(bytes)
    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def send(self, msg: Any) -> None:
        if self.closed or msg is None:
            return
        n = self.faults.copies()
        if n == 0:
            self.mav.seq = (self.mav.seq + 1) % 256  # the lost message still used a sequence number
            return
        data = msg.pack(self.mav)
        self.mav.seq = (self.mav.seq + 1) % 256
        latency = self.faults.settings.latency_s
        for _ in range(n):
            self.sent_count += 1
            if latency > 0:
                self._out_delayed.append((time.monotonic() + latency, data))
            else:
                self._write(data)

    def send_param_batch(self, hub: "GcsHub", batch: int = 25) -> None:
        if not self.param_queue:
            return
        chunk, self.param_queue = self.param_queue[:batch], self.param_queue[batch:]
        for name in chunk:
            self.send(hub.param_value(name))

    def receive_bytes(self, data: bytes) -> list[Any]:
        """Parse bytes; returns messages due now (others wait for their latency)."""
        try:
            msgs = self.parser.parse_buffer(data) or []
        except Exception:  # noqa: BLE001 - a garbled byte stream must not kill the simulator
            return []
        out: list[Any] = []
        latency = self.faults.settings.latency_s
        for msg in msgs:
            n = self.faults.copies()
            for _ in range(n):
                self.received_count += 1
                if latency > 0:
                    self._in_delayed.append((time.monotonic() + latency, msg))
                else:
                    out.append(msg)
        return out

    def due(self) -> list[Any]:
        """Flush delayed output and return delayed input whose time has come."""
        now = time.monotonic()
        while self._out_delayed and self._out_delayed[0][0] <= now:
            self._write(self._out_delayed.popleft()[1])
        ready: list[Any] = []
        while self._in_delayed and self._in_delayed[0][0] <= now:
            ready.append(self._in_delayed.popleft()[1])
        return ready

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class TcpLink(Link):
    def __init__(self, sock: socket.socket, addr: Any, faults: LinkFaults) -> None:
        super().__init__(f"tcp:{addr[0]}:{addr[1]}", faults)
        self.sock = sock
        self.fd = sock.fileno()  # kept: a closed socket reports -1, but the selector knows it by this number
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.outbuf = bytearray()

    def _write(self, data: bytes) -> None:
        if self.closed:
            return
        if len(self.outbuf) > _MAX_OUTBUF:
            return  # the client stopped reading: drop like a full serial buffer
        self.outbuf += data
        self.flush()

    def flush(self) -> None:
        while self.outbuf and not self.closed:
            try:
                sent = self.sock.send(self.outbuf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.close()
                return
            del self.outbuf[:sent]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


class TcpServer:
    """Listens on one TCP port; every accepted client becomes a :class:`TcpLink`."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.sock.setblocking(False)
        self.host = host
        self.port = self.sock.getsockname()[1]

    def accept(self, faults: LinkFaults) -> TcpLink | None:
        try:
            conn, addr = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return None
        return TcpLink(conn, addr, faults)

    def close(self) -> None:
        self.sock.close()


class UdpOut(Link):
    """Sends to a fixed address (SITL's ``--out``/MAVProxy's udpout) and answers whoever replies."""

    def __init__(self, host: str, port: int, faults: LinkFaults) -> None:
        super().__init__(f"udp:{host}:{port}", faults)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0", 0))
        self.sock.setblocking(False)
        self.target = (host, port)

    def _write(self, data: bytes) -> None:
        try:
            self.sock.sendto(data, self.target)
        except OSError:
            pass  # nobody listening yet: UDP just drops it

    def read(self) -> list[Any]:
        msgs: list[Any] = []
        while True:
            try:
                data, _addr = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return msgs
            except OSError:
                return msgs
            msgs.extend(self.receive_bytes(data))

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class InProcessLink(Link):
    """A link without sockets: what the vehicle sends is decoded into :attr:`inbox`.

    Used by fast tests and benchmarks that step the simulator synchronously
    (:meth:`uavops.sim.RunningSim.advance`); ``RunningSim.connect_in_process()`` makes one.
    """

    def __init__(self, faults: LinkFaults, name: str = "inprocess") -> None:
        super().__init__(name, faults)
        self._decoder = M.MAVLink(None)
        self._decoder.robust_parsing = True
        self.inbox: deque[Any] = deque(maxlen=100_000)

    def _write(self, data: bytes) -> None:
        for msg in self._decoder.parse_buffer(data) or []:
            self.inbox.append(msg)

    def take(self, msg_type: str | None = None) -> list[Any]:
        """Remove and return received messages (of one type, or all)."""
        if msg_type is None:
            out = list(self.inbox)
            self.inbox.clear()
            return out
        keep: deque[Any] = deque(maxlen=self.inbox.maxlen)
        out = []
        for m in self.inbox:
            (out if m.get_type() == msg_type else keep).append(m)
        self.inbox = keep
        return out


class SimTransport:
    """A :class:`uavops.link.transport.MavlinkTransport` straight into a running simulator (no sockets).

    ``send`` hands the message to the simulation thread (through the link faults, as a radio
    would); ``recv`` returns what the vehicle sent on this link. Get one with
    ``RunningSim.transport()``.
    """

    def __init__(self, sim: Any, source_system: int = 255, source_component: int = 190) -> None:
        import queue

        self._sim = sim
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closed = False
        self._packer = M.MAVLink(None, srcSystem=source_system, srcComponent=source_component)
        outer = self

        class _QueueLink(Link):
            def __init__(self) -> None:
                super().__init__("sim-transport", sim.link_faults)
                self._decoder = M.MAVLink(None)
                self._decoder.robust_parsing = True

            def _write(self, data: bytes) -> None:
                for msg in self._decoder.parse_buffer(data) or []:
                    outer._queue.put(msg)

        self._link = _QueueLink()
        sim.call(lambda: sim.hub.links.append(self._link))
        sim.start_clock()

    def send(self, msg: Any) -> None:
        from ..errors import ConnectionLost

        if self._closed:
            raise ConnectionLost("The simulator transport is closed; open a new one.")
        data = msg.pack(self._packer)
        self._packer.seq = (self._packer.seq + 1) % 256
        link = self._link

        def deliver() -> None:
            for m in link.receive_bytes(data):
                self._sim.hub.handle(link, m)

        self._sim.call(deliver)

    def recv(self, timeout_s: float) -> Any:
        import queue

        from ..errors import ConnectionLost

        if self._closed:
            raise ConnectionLost("The simulator transport is closed; open a new one.")
        if self._sim.error is not None:
            raise ConnectionLost(f"The simulator stopped: {self._sim.error}")
        try:
            return self._queue.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        link = self._link
        link.close()
        self._sim.call(lambda: link in self._sim.hub.links and self._sim.hub.links.remove(link))

"""Real MAVLink links through pymavlink: UDP, TCP and serial, as connection strings.

Connection strings are pymavlink's (``udp:HOST:PORT`` / ``udpin:`` listen, ``udpout:`` send,
``tcp:HOST:PORT``, ``tcpin:``) plus the serial forms operators type: ``/dev/ttyUSB0``,
``/dev/ttyUSB0,57600``, ``COM3:57600``. Socket and pymavlink failures become
:class:`~uavops.errors.ConnectionLost`, chained to the original.
"""

from __future__ import annotations


import re
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ConnectionLost, LinkError
from .transport import GCS_COMPID, GCS_SYSID

__all__ = ["ConnectionSpec", "parse_connection", "PymavlinkTransport"]

_NET_PREFIXES = ("udp:", "udpin:", "udpout:", "udpbcast:", "tcp:", "tcpin:")


@dataclass(frozen=True)
class ConnectionSpec:
    """A parsed connection string: pymavlink ``device`` plus ``baud`` for serial links."""

    url: str
    device: str
    baud: int = 57600
    is_serial: bool = False


def parse_connection(url: str, default_baud: int = 57600) -> ConnectionSpec:
    """Parse a connection string, rejecting ones that cannot work with one clear sentence."""
    text = url.strip()
    if not text:
        raise LinkError("The connection string is empty; give e.g. tcp:127.0.0.1:5760 or /dev/ttyUSB0,57600.")
    if text.startswith(_NET_PREFIXES):
        scheme, _, rest = text.partition(":")
        if not re.fullmatch(r"[^:]*:\d{1,5}", rest):
            raise LinkError(f"The connection string '{url}' needs HOST:PORT after '{scheme}:', "
                            f"e.g. {scheme}:127.0.0.1:14550.")
        return ConnectionSpec(url=text, device=text)
    if text.startswith("serial:"):
        text = text[len("serial:"):]
    match = re.fullmatch(r"(.+?)(?:[,:@](\d{3,7}))?", text)
    assert match is not None
    device, baud = match.group(1), int(match.group(2) or default_baud)
    if not (device.startswith("/") or re.fullmatch(r"COM\d+", device, re.I)):
        raise LinkError(f"The connection string '{url}' is neither udp:/udpin:/udpout:/tcp:HOST:PORT nor a serial "
                        "device such as /dev/ttyUSB0,57600; check the --connect value.")
    return ConnectionSpec(url=url, device=device, baud=baud, is_serial=True)


class PymavlinkTransport:
    """A :class:`~uavops.link.transport.MavlinkTransport` over ``mavutil.mavlink_connection``."""

    def __init__(self, url: str, *, source_system: int = GCS_SYSID, source_component: int = GCS_COMPID) -> None:
        from pymavlink import mavutil

        self.spec = parse_connection(url)
        # pymavlink's own TCP retries print "… sleeping" on stdout, which would corrupt --json output:
        # retry here instead, quietly, as often and as long as pymavlink would (3 × 1 s).
        attempts = 4 if self.spec.device.startswith("tcp:") else 1
        for attempt in range(attempts):
            try:
                self._conn: Any = mavutil.mavlink_connection(
                    self.spec.device, baud=self.spec.baud, source_system=source_system,
                    source_component=source_component, autoreconnect=False, dialect="ardupilotmega", retries=0)
                break
            except (OSError, Exception) as exc:  # pymavlink raises bare Exception for some failures
                if attempt + 1 < attempts and isinstance(exc, ConnectionRefusedError):
                    time.sleep(1.0)
                    continue
                raise ConnectionLost(f"Cannot open the link {url} ({exc}); check the address, that the vehicle "
                                     "or simulator is running, and the cable or radio.") from exc
        self._conn.mav.robust_parsing = True
        self._tcp = self.spec.device.startswith("tcp:")

    def send(self, msg: Any) -> None:
        try:
            self._conn.mav.send(msg)
        except OSError as exc:
            raise ConnectionLost(f"Sending on {self.spec.url} failed ({exc}).") from exc

    def recv(self, timeout_s: float) -> Any:
        try:
            msg = self._conn.recv_match(blocking=True, timeout=timeout_s)
        except (OSError, ValueError) as exc:
            raise ConnectionLost(f"Reading from {self.spec.url} failed ({exc}).") from exc
        if msg is None:
            if self._tcp and self._peer_closed():
                raise ConnectionLost(f"The vehicle closed the TCP link {self.spec.url}.")
            return None
        if msg.get_type() == "BAD_DATA":
            return None
        return msg

    def _peer_closed(self) -> bool:
        import socket

        port = getattr(self._conn, "port", None)
        if port is None:
            return True
        try:
            data = port.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return data == b""

    def close(self) -> None:
        if self._tcp:  # graceful close: the vehicle sees EOF instead of a reset on its next write
            import socket

            port = getattr(self._conn, "port", None)
            try:
                port.shutdown(socket.SHUT_WR)
                port.settimeout(0.2)
                while port.recv(65536):
                    pass
            except (OSError, AttributeError):
                pass
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - closing a dead link must not raise
            pass

"""``GroundLink``: one vehicle as a ground station sees it (like MAVSDK's ``System``).

Capabilities hang off the façade: ``link.mission`` (:class:`MissionClient`), ``link.params``
(:class:`ParamClient`), ``link.action`` (:class:`ActionClient`) and ``link.state`` (the latest
:class:`VehicleState`). Accessors raise :class:`~uavops.errors.LinkError` before
:meth:`GroundLink.connect` has run.

Example
-------
>>> with GroundLink("tcp:127.0.0.1:5760", tlog_path="flight/session.tlog") as link:  # doctest: +SKIP
...     link.wait_heartbeat()
...     link.mission.upload_verified(mission.wire_items())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import LinkError
from .action import ActionClient
from .connection import MavConnection
from .mission import MissionClient, TransferPolicy
from .params import ParamClient
from .state import VehicleState
from .transport import MavlinkTransport

__all__ = ["GroundLink"]


class GroundLink:
    """A connection to one vehicle, by connection string or by transport factory."""

    def __init__(self, connect: str | Callable[[], MavlinkTransport], *, tlog_path: str | Path | None = None,
                 policy: TransferPolicy | None = None, heartbeat_timeout_s: float = 3.0,
                 stream_rate_hz: float = 4.0, name: str | None = None, gcs_heartbeat_hz: float = 1.0) -> None:
        """``gcs_heartbeat_hz``: our own heartbeat rate; raise it for sped-up simulators, whose
        GCS failsafe (FS_GCS_TIMEOUT) counts in simulated seconds."""
        self._gcs_hb_hz = gcs_heartbeat_hz
        if isinstance(connect, str):
            from .pymavlink_ import PymavlinkTransport, parse_connection

            parse_connection(connect)  # reject bad strings before any socket is opened
            url = connect
            self.url: str | None = url

            def factory() -> MavlinkTransport:
                return PymavlinkTransport(url)
        else:
            self.url = None
            factory = connect
        self._factory = factory
        self._tlog_path = tlog_path
        self._policy = policy
        self._hb_timeout = heartbeat_timeout_s
        self._rate = stream_rate_hz
        self.name = name or (self.url or "vehicle")
        self._conn: MavConnection | None = None
        self._mission: MissionClient | None = None
        self._params: ParamClient | None = None
        self._action: ActionClient | None = None

    def connect(self, heartbeat_timeout_s: float | None = 10.0) -> "GroundLink":
        """Open the link, start the reader; wait for the first heartbeat unless timeout is None."""
        if self._conn is None:
            self._conn = MavConnection(self._factory, tlog_path=self._tlog_path, heartbeat_timeout_s=self._hb_timeout,
                                       stream_rate_hz=self._rate, name=self.name,
                                       gcs_heartbeat_hz=self._gcs_hb_hz).start()
            self._mission = MissionClient(self._conn, self._policy)
            self._params = ParamClient(self._conn)
            self._action = ActionClient(self._conn)
        if heartbeat_timeout_s is not None:
            self._conn.wait_heartbeat(heartbeat_timeout_s)
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> "GroundLink":
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _need(self, value: Any) -> Any:
        if value is None:
            raise LinkError("Not connected to a vehicle yet; call connect() first.")
        return value

    @property
    def conn(self) -> MavConnection:
        return self._need(self._conn)  # type: ignore[no-any-return]

    @property
    def mission(self) -> MissionClient:
        return self._need(self._mission)  # type: ignore[no-any-return]

    @property
    def params(self) -> ParamClient:
        return self._need(self._params)  # type: ignore[no-any-return]

    @property
    def action(self) -> ActionClient:
        return self._need(self._action)  # type: ignore[no-any-return]

    @property
    def state(self) -> VehicleState:
        return self.conn.state

    def wait_heartbeat(self, timeout_s: float = 10.0) -> VehicleState:
        return self.conn.wait_heartbeat(timeout_s)

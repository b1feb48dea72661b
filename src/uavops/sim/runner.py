"""Run a simulated vehicle in a background thread behind real MAVLink sockets.

:func:`start_sim` returns a :class:`RunningSim`; use it as a context manager. One thread runs
both the simulation loop and the socket I/O, so message handling and physics interleave in a
single order (no locks in the vehicle). Simulated time advances at ``speedup`` times wall time;
when the machine cannot keep up the simulation runs slower, as SITL does, never skipping steps.
"""

from __future__ import annotations

import json
import logging
import selectors
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SimError
from ..files import write_json
from .camera import CameraTrigger
from .config import SimConfig
from .mavlink_gcs import GcsHub
from .mission_store import MissionStore
from .parameters import ParamStore, read_parm_file
from .transport import InProcessLink, Link, LinkFaults, SimTransport, TcpLink, TcpServer, UdpOut
from .vehicle import SimVehicle

__all__ = ["RunningSim", "start_sim", "SimFaults", "InProcessGcs"]

log = logging.getLogger(__name__)


class SimFaults:
    """Fault injection for tests: link degradation, GPS loss, sudden battery drop."""

    def __init__(self, sim: "RunningSim") -> None:
        self._sim = sim

    def set(self, *, packet_loss: float | None = None, latency_s: float | None = None,
            duplicate: float | None = None) -> None:
        self._sim.link_faults.set(packet_loss=packet_loss, latency_s=latency_s, duplicate=duplicate)

    def clear(self) -> None:
        self.set(packet_loss=0.0, latency_s=0.0, duplicate=0.0)

    def gps_loss(self, lost: bool = True) -> None:
        self._sim.call(lambda: setattr(self._sim.vehicle.gps, "lost", bool(lost)))

    def battery_drop(self, to_pct: float) -> None:
        self._sim.call(lambda: self._sim.vehicle.battery.drop_to(to_pct))


class RunningSim:
    """A simulator instance with its sockets; see :func:`start_sim`."""

    def __init__(self, config: SimConfig) -> None:
        if config.speedup <= 0:
            raise SimError(f"Speed-up {config.speedup} is not positive; give --speedup 1 or more.")
        self.config = config
        overrides = read_parm_file(config.params_file) if config.params_file else {}
        stored_params: dict[str, float] = {}
        stored_missions: dict[str, Any] = {}
        self._eeprom: Path | None = None
        if config.eeprom_dir is not None:
            self._eeprom = Path(config.eeprom_dir) / "eeprom.json"
            if self._eeprom.is_file():
                try:
                    data = json.loads(self._eeprom.read_text(encoding="utf-8"))
                    stored_params = {k: float(v) for k, v in data.get("params", {}).items()}
                    stored_missions = data.get("missions", {})
                except (ValueError, OSError, AttributeError) as exc:
                    raise SimError(f"The simulator eeprom {self._eeprom} is damaged ({exc}); delete it to start "
                                   "with fresh parameters.") from None
        self.params = ParamStore(overrides, stored_params, on_persist=lambda _stored: self._persist())
        self.store = MissionStore()
        if stored_missions:
            self.store.load_json(stored_missions)
        self.vehicle = SimVehicle(config.home, self.params, self.store, seed=config.seed,
                                  ekf_settle_s=config.ekf_settle_s, wind_speed_mps=config.wind_speed_mps,
                                  wind_dir_deg=config.wind_dir_deg, wind_turbulence_mps=config.wind_turbulence_mps,
                                  gps_noise_m=config.gps_noise_m)
        self.params.set("SIM_SPEEDUP", config.speedup, persist=False, internal=True)
        self.hub = GcsHub(self.vehicle, self._persist)
        self.link_faults = LinkFaults(config.seed)
        if config.packet_loss:
            self.link_faults.set(packet_loss=config.packet_loss)
        self.faults = SimFaults(self)
        self._servers: list[TcpServer] = []
        self._udp: UdpOut | None = None
        self._sel = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._calls: list[Callable[[], None]] = []
        self._calls_lock = threading.Lock()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.clock_started = threading.Event()
        self.error: BaseException | None = None
        self.tcp_ports: list[int] = []
        try:
            ports = ([config.tcp_port] if config.tcp_port is not None else []) + list(config.extra_tcp_ports)
            for port in ports:
                server = TcpServer(config.bind_host, port)
                self._servers.append(server)
                self.tcp_ports.append(server.port)
                self._sel.register(server.sock, selectors.EVENT_READ, ("accept", server))
            if config.udp_out:
                host, port_s = config.udp_out.removeprefix("udp:").removeprefix("udpout:").rsplit(":", 1)
                self._udp = UdpOut(host, int(port_s), self.link_faults)
                self._sel.register(self._udp.sock, selectors.EVENT_READ, ("udp", self._udp))
                self.hub.links.append(self._udp)
        except OSError as exc:
            self._close_sockets()
            raise SimError(f"Cannot open the simulator's ports ({exc}); another simulator or SITL may be using "
                           "them — pick free ones with --tcp/--out.") from None
        except ValueError:
            self._close_sockets()
            raise SimError(f"Cannot read --out '{config.udp_out}'; give udp:HOST:PORT.") from None
        if not config.wait_for_client:
            self.clock_started.set()

    # --- public --------------------------------------------------------------------------
    @property
    def tcp_url(self) -> str:
        if not self.tcp_ports:
            raise SimError("This simulator has no TCP port; start it with tcp_port set.")
        return f"tcp:{self.config.bind_host}:{self.tcp_ports[0]}"

    @property
    def tcp_urls(self) -> list[str]:
        return [f"tcp:{self.config.bind_host}:{p}" for p in self.tcp_ports]

    @property
    def udp_url(self) -> str | None:
        """What a ground station listens on for the UDP output (``udpin:HOST:PORT``)."""
        if self._udp is None:
            return None
        return f"udpin:{self._udp.target[0]}:{self._udp.target[1]}"

    @property
    def sim_time_s(self) -> float:
        return self.vehicle.t

    def on_camera_trigger(self, callback: Callable[[CameraTrigger], None]) -> None:
        """Call ``callback(trigger)`` (from the simulation thread) for every photo taken."""
        self.vehicle.camera.listeners.append(callback)

    def statustexts(self) -> list[str]:
        return [text for _, _, text in list(self.hub.statustexts)]

    def transport(self, source_system: int = 255) -> "SimTransport":
        """A socket-free MAVLink transport to this (running) simulator for the link layer."""
        from .transport import SimTransport

        return SimTransport(self, source_system)

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the simulation thread between two steps (or now, if it is not running)."""
        if self._thread is None or not self._thread.is_alive():
            fn()
            return
        with self._calls_lock:
            self._calls.append(fn)

    def start_clock(self) -> None:
        """Start simulated time without waiting for a ground station."""
        self.clock_started.set()

    def wait_sim_time(self, seconds: float, timeout_s: float | None = None) -> float:
        """Block until ``seconds`` more simulated seconds have passed; returns the simulated time.

        Raises
        ------
        SimError
            The time did not pass within ``timeout_s`` wall seconds (default: generous for the speed-up).
        """
        target = self.vehicle.t + seconds
        if timeout_s is None:
            timeout_s = 30.0 + 4.0 * seconds / self.config.speedup
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.vehicle.t < target - 1e-9:
                if self.error is not None:
                    raise SimError(f"The simulator stopped: {self.error}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    hint = "" if self.clock_started.is_set() else " (its clock waits for a ground station to connect)"
                    raise SimError(f"Simulated time did not reach {target:.1f} s within {timeout_s:.0f} s{hint}.")
                self._cond.wait(min(remaining, 0.5))
        return self.vehicle.t

    def wait_until(self, predicate: Callable[[SimVehicle], bool], timeout_sim_s: float) -> bool:
        """Wait until ``predicate(vehicle)`` holds or ``timeout_sim_s`` simulated seconds pass."""
        end = self.vehicle.t + timeout_sim_s
        wall_deadline = time.monotonic() + 30.0 + 4.0 * timeout_sim_s / self.config.speedup
        with self._cond:
            while not predicate(self.vehicle):
                if self.vehicle.t >= end or time.monotonic() > wall_deadline or self.error is not None:
                    return predicate(self.vehicle)
                self._cond.wait(0.2)
        return True

    # --- synchronous use (tests, benchmarks): no thread, no waiting on the wall clock -----
    def connect_in_process(self, source_system: int = 255) -> "InProcessGcs":
        """A ground station inside this process; only valid while the simulation thread is not running."""
        link = InProcessLink(self.link_faults)
        self.hub.links.append(link)
        self.clock_started.set()
        return InProcessGcs(self, link, source_system)

    def advance(self, seconds: float) -> None:
        """Step the simulation by ``seconds`` of simulated time, as fast as the CPU allows."""
        if self._thread is not None and self._thread.is_alive():
            raise SimError("advance() is for a simulator that was not started; use wait_sim_time() instead.")
        end = self.vehicle.t + seconds - 1e-9
        while self.vehicle.t < end:
            self.vehicle.step(self.config.step_s)
            self.hub.tick()

    def start(self) -> "RunningSim":
        self._thread = threading.Thread(target=self._run, name="uavops-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_sockets()

    def __enter__(self) -> "RunningSim":
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------------------
    def _persist(self) -> None:
        if self._eeprom is None:
            return
        try:
            self._eeprom.parent.mkdir(parents=True, exist_ok=True)
            write_json(self._eeprom, {"params": self.params.stored(), "missions": self.store.to_json()})
        except OSError as exc:
            log.warning("cannot write simulator eeprom %s: %s", self._eeprom, exc)

    def _close_sockets(self) -> None:
        for server in self._servers:
            server.close()
        for link in list(self.hub.links):
            link.close()
        self._servers.clear()
        try:
            self._sel.close()
        except Exception:  # noqa: BLE001
            pass

    def _poll(self, timeout: float) -> None:
        for key, _ in self._sel.select(timeout=max(0.0, timeout)):
            kind, obj = key.data
            if kind == "accept":
                link = obj.accept(self.link_faults)
                if link is not None:
                    stale = self._sel.get_map().get(link.fd)
                    if stale is not None:  # the fd of a link closed mid-loop was reused by this client
                        self._drop(stale.data[1])
                    self._sel.register(link.sock, selectors.EVENT_READ, ("tcp", link))
                    self.hub.links.append(link)
                    self.clock_started.set()
            elif kind == "tcp":
                link = obj
                if link.closed:
                    self._drop(link)
                    continue
                try:
                    data = link.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._drop(link)
                    continue
                for msg in link.receive_bytes(data):
                    self.hub.handle(link, msg)
            elif kind == "udp":
                msgs = obj.read()
                if msgs:
                    self.clock_started.set()
                for msg in msgs:
                    self.hub.handle(obj, msg)
        for link in list(self.hub.links):
            for msg in link.due():
                self.hub.handle(link, msg)
            link.flush()
            if link.closed and isinstance(link, TcpLink):
                self._drop(link)

    def _drop(self, link: Link) -> None:
        if isinstance(link, TcpLink):
            try:
                key = self._sel.get_map().get(link.fd)
                if key is not None and key.data[1] is link:
                    self._sel.unregister(link.fd)
            except (KeyError, ValueError):
                pass
        link.close()
        if link in self.hub.links:
            self.hub.links.remove(link)

    def _run(self) -> None:
        cfg = self.config
        dt = cfg.step_s
        try:
            while not self._stop.is_set() and not self.clock_started.is_set():
                self._poll(0.05)
            base_wall = time.monotonic()
            base_sim = self.vehicle.t
            while not self._stop.is_set():
                now = time.monotonic()
                target_sim = base_sim + (now - base_wall) * cfg.speedup
                steps = 0
                while self.vehicle.t + dt <= target_sim + 1e-9 and steps < 20:
                    with self._calls_lock:
                        calls, self._calls = self._calls, []
                    for fn in calls:
                        fn()
                    self.vehicle.step(dt)
                    self.hub.tick()
                    steps += 1
                if steps:
                    with self._cond:
                        self._cond.notify_all()
                lag = target_sim - self.vehicle.t
                if lag > 2.0 * cfg.speedup * dt + 1.0:
                    # cannot keep up: slow the simulation down instead of jumping
                    base_wall = time.monotonic()
                    base_sim = self.vehicle.t
                next_wall = base_wall + (self.vehicle.t + dt - base_sim) / cfg.speedup
                self._poll(max(0.0, min(0.05, next_wall - time.monotonic())) if steps < 20 else 0.0)
        except BaseException as exc:  # noqa: BLE001 - surfaced to waiters and the CLI
            log.exception("simulator thread failed")
            self.error = exc
            with self._cond:
                self._cond.notify_all()


def start_sim(config: SimConfig) -> RunningSim:
    """Start a simulated ArduCopter in a background thread; use the result as a context manager.

    Example
    -------
    >>> with start_sim(SimConfig(home=get_location("almaty"), speedup=20, tcp_port=0, udp_out=None)) as sim:
    ...     print(sim.tcp_url)

    Raises
    ------
    SimError
        The ports cannot be opened or the configuration is invalid.
    InputError
        ``params_file`` cannot be read.
    """
    return RunningSim(config).start()


class InProcessGcs:
    """Send MAVLink to a synchronously stepped simulator and read what it answers."""

    def __init__(self, sim: RunningSim, link: InProcessLink, source_system: int = 255) -> None:
        from pymavlink.dialects.v20 import ardupilotmega as mavlink2

        self.sim = sim
        self.link = link
        self.mav = mavlink2.MAVLink(None, srcSystem=source_system, srcComponent=190)

    def send(self, msg: Any) -> None:
        """Deliver ``msg`` (built with ``gcs.mav.<name>_encode``) to the vehicle, through the link faults."""
        data = msg.pack(self.mav)
        self.mav.seq = (self.mav.seq + 1) % 256
        for m in self.link.receive_bytes(data):
            self.sim.hub.handle(self.link, m)

    def command(self, command: int, *params: float) -> int | None:
        """COMMAND_LONG; returns the COMMAND_ACK result (None if no ACK came back)."""
        p = list(params) + [0.0] * (7 - len(params))
        self.send(self.mav.command_long_encode(1, 1, command, 0, *p))
        acks = [m for m in self.link.take("COMMAND_ACK") if m.command == command]
        return acks[-1].result if acks else None

    def take(self, msg_type: str | None = None) -> list[Any]:
        return self.link.take(msg_type)

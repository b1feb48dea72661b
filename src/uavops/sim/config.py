"""Configuration of one simulated vehicle."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..locations import Location, get_location

__all__ = ["SimConfig"]


@dataclass(frozen=True)
class SimConfig:
    """How to run a :class:`~uavops.sim.SimVehicle`.

    Parameters
    ----------
    home
        Where the vehicle stands at boot (a :class:`~uavops.locations.Location`).
    speedup
        Simulated seconds per wall-clock second, like SITL's ``--speedup``.
    seed
        Seeds wind gusts and GPS noise; the same seed and the same commands give the same flight.
    tcp_port
        First TCP port (SITL's 5760); 0 picks a free port, None opens none.
    extra_tcp_ports
        More TCP ports that also speak MAVLink (SITL's 5762, 5763).
    udp_out
        ``HOST:PORT`` (or ``udp:HOST:PORT``) to send to like SITL's ``--out``; None for none.
    params_file
        ArduPilot ``.parm`` defaults (SITL's ``--defaults``); None for ArduCopter's own defaults.
    eeprom_dir
        Folder keeping parameters and missions between runs (SITL's eeprom.bin); None keeps nothing.
    ekf_settle_s
        Simulated seconds until the EKF uses GPS and arming is possible (SITL: about 41 s).
    wait_for_client
        Like SITL, do not start the clock until a ground station connects.
    step_s
        Physics step in simulated seconds.
    """

    home: Location = field(default_factory=lambda: get_location("almaty"))
    speedup: float = 1.0
    seed: int = 0
    tcp_port: int | None = 5760
    extra_tcp_ports: tuple[int, ...] = ()
    udp_out: str | None = "127.0.0.1:14550"
    params_file: Path | None = None
    eeprom_dir: Path | None = None
    ekf_settle_s: float = 41.0
    wait_for_client: bool = True
    step_s: float = 0.05
    bind_host: str = "127.0.0.1"
    wind_speed_mps: float | None = None
    wind_dir_deg: float | None = None
    wind_turbulence_mps: float | None = None
    gps_noise_m: float = 0.3
    packet_loss: float = 0.0

"""Start either back end from one set of options (what ``uavops sim`` does, without click).

Both back ends take the same meaning for the same option: home, speed-up, TCP port, UDP out,
parameter file. Options only one back end has are refused with a sentence naming the other.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, SimError
from ..locations import Location
from .config import SimConfig
from .profiles import find_profile

__all__ = ["LaunchOptions", "LaunchInfo", "run_until_stopped"]


@dataclass(frozen=True)
class LaunchOptions:
    home: Location
    backend: str = "builtin"
    speedup: float = 1.0
    tcp_port: int = 5760
    udp_out: str | None = "udp:127.0.0.1:14550"
    seed: int = 0
    loss: float = 0.0
    params_file: Path | None = None
    eeprom_dir: Path | None = None
    sitl_bin: Path | None = None
    ekf_settle_s: float | None = None
    wipe: bool = False
    duration_s: float | None = None
    wind_speed_mps: float | None = None
    wind_dir_deg: float | None = None
    wind_turbulence_mps: float | None = None


@dataclass
class LaunchInfo:
    backend: str
    tcp_urls: list[str]
    udp_url: str | None
    home: str
    speedup: float
    params_file: str
    eeprom_dir: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def connection_lines(self) -> list[str]:
        lines = [f"  {url}" for url in self.tcp_urls]
        if self.udp_url:
            lines.append(f"  {self.udp_url}   (the simulator sends to this address; listen there)")
        return lines


def _check(options: LaunchOptions) -> None:
    if options.speedup <= 0:
        raise InputError(f"--speedup {options.speedup} must be positive, e.g. 1, 10 or 20.")
    if not 0.0 <= options.loss < 1.0:
        raise InputError(f"--loss {options.loss} must be a fraction between 0 and 1, e.g. 0.2 for 20 %.")
    if not 0 <= options.tcp_port <= 65535:
        raise InputError(f"--tcp {options.tcp_port} is not a TCP port number.")
    if options.udp_out is not None:
        text = options.udp_out.removeprefix("udp:").removeprefix("udpout:")
        try:
            host, port = text.rsplit(":", 1)
            if not host or not 0 < int(port) < 65536:
                raise ValueError
        except ValueError:
            raise InputError(f"--out '{options.udp_out}' must look like udp:127.0.0.1:14550.") from None


def run_until_stopped(options: LaunchOptions, on_ready: Callable[[LaunchInfo], None],
                      stop: threading.Event) -> None:
    """Start the chosen back end, report how to connect, and run until ``stop`` is set.

    Raises
    ------
    InputError
        An option is malformed.
    SimError
        The simulator or SITL cannot start.
    """
    _check(options)
    params_file = options.params_file or find_profile()
    if not params_file.is_file():
        raise InputError(f"The parameter file {params_file} does not exist; check the --params path.")
    udp = options.udp_out.removeprefix("udp:").removeprefix("udpout:") if options.udp_out else None
    if options.backend == "builtin":
        from .runner import start_sim

        cfg = SimConfig(home=options.home, speedup=options.speedup, seed=options.seed, tcp_port=options.tcp_port,
                        extra_tcp_ports=(options.tcp_port + 2, options.tcp_port + 3) if options.tcp_port else (),
                        udp_out=udp, params_file=params_file, eeprom_dir=options.eeprom_dir,
                        packet_loss=options.loss, wind_speed_mps=options.wind_speed_mps,
                        wind_dir_deg=options.wind_dir_deg, wind_turbulence_mps=options.wind_turbulence_mps,
                        ekf_settle_s=41.0 if options.ekf_settle_s is None else options.ekf_settle_s)
        if options.wipe and options.eeprom_dir is not None:
            (Path(options.eeprom_dir) / "eeprom.json").unlink(missing_ok=True)
        with start_sim(cfg) as sim:
            on_ready(LaunchInfo("builtin", sim.tcp_urls, sim.udp_url, options.home.sitl_home(), options.speedup,
                                str(params_file), str(options.eeprom_dir) if options.eeprom_dir else None,
                                {"seed": options.seed, "loss": options.loss}))
            stop.wait(options.duration_s)
            if sim.error is not None:
                raise SimError(f"The simulator stopped with an internal error: {sim.error}")
        return
    if options.backend != "ardupilot":
        raise InputError(f"--backend {options.backend} is unknown; use builtin or ardupilot.")
    if options.loss:
        raise InputError("--loss works only with --backend builtin (SITL has no link fault injection).")
    if options.seed:
        raise InputError("--seed works only with --backend builtin; SITL's own noise is not seeded from uavops.")
    if options.ekf_settle_s is not None:
        raise InputError("--ekf-settle works only with --backend builtin; SITL's EKF takes the time it takes.")
    from .sitl import SitlConfig, SitlProcess, free_instance, resolve_sitl_bin

    binary = resolve_sitl_bin(options.sitl_bin)
    if options.tcp_port == 0:
        instance = free_instance()
    elif options.tcp_port < 5760 or (options.tcp_port - 5760) % 10:
        raise InputError(f"With --backend ardupilot, --tcp must be 5760 + 10*N (SITL instance N) or 0 for a free "
                         f"one, not {options.tcp_port}.")
    else:
        instance = (options.tcp_port - 5760) // 10
    params_files = [params_file]
    wind_dir: Any = contextlib.nullcontext()
    if options.wind_speed_mps is not None:  # SITL's own wind model, same meaning as the builtin's
        wind_dir = tempfile.TemporaryDirectory(prefix="uavops-sitl-wind-")
        wind_parm = Path(wind_dir.name) / "wind.parm"
        wind_parm.write_text(f"SIM_WIND_SPD {options.wind_speed_mps:g}\nSIM_WIND_DIR {options.wind_dir_deg or 0:g}\n"
                             f"SIM_WIND_TURB {options.wind_turbulence_mps or 0:g}\n")
        params_files.append(wind_parm)
    cfg_sitl = SitlConfig(binary=binary, home=options.home, speedup=options.speedup,
                          instance=instance, params_files=params_files, workdir=options.eeprom_dir,
                          wipe_eeprom=options.wipe, udp_out=udp)
    with wind_dir, SitlProcess(cfg_sitl) as proc:
        on_ready(LaunchInfo("ardupilot", proc.tcp_urls, f"udpin:{udp}" if udp else None, options.home.sitl_home(),
                            options.speedup, str(params_file), str(proc.workdir),
                            {"binary": str(proc.binary), "instance": instance}))
        while not stop.wait(min(1.0, options.duration_s or 1.0)):
            if proc.proc is None or proc.proc.poll() is not None:
                raise SimError(f"SITL exited unexpectedly; see {proc.log_path}.")
            if options.duration_s is not None:
                break

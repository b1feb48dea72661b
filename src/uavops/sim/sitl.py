"""Launch real ArduPilot SITL (``arducopter``) the way uavops uses it.

ArduPilot is not in any package registry, so the binary comes from the user: ``--sitl-bin`` or
``UAVOPS_SITL_BIN`` (:attr:`uavops.config.Settings.sitl_bin`). The launcher passes the home
location, speed-up and the parameter profile(s) from ``firmware_params/`` with ``--defaults``,
runs each instance in its own working folder (its eeprom.bin and logs live there) and waits
until SITL's TCP port accepts connections. Instance ``I`` listens on TCP 5760+10*I (SERIAL0),
5762+10*I and 5763+10*I; like SITL, the simulation does not start until a client connects.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SimError
from ..locations import Location
from .profiles import find_profile

__all__ = ["SitlConfig", "SitlProcess", "resolve_sitl_bin", "free_instance", "sitl_base_defaults"]


def resolve_sitl_bin(path: str | Path | None) -> Path:
    """The ``arducopter`` binary to run.

    Raises
    ------
    SimError
        No binary was named, or the named file is missing or not executable.
    """
    if path is None or str(path) == "":
        raise SimError("No ArduPilot SITL binary is configured; set UAVOPS_SITL_BIN (or pass --sitl-bin) to an "
                       "arducopter SITL build, or use --backend builtin.")
    p = Path(path).expanduser()
    if not p.is_file():
        raise SimError(f"The SITL binary {p} does not exist; point UAVOPS_SITL_BIN (or --sitl-bin) at an "
                       "arducopter SITL build.")
    if not os.access(p, os.X_OK):
        raise SimError(f"The SITL binary {p} is not executable; run chmod +x on it.")
    return p


def sitl_base_defaults(binary: Path) -> Path | None:
    """ArduPilot's own SITL defaults (``copter.parm``) that sim_vehicle.py always passes first.

    Looked for beside the binary, then where an ArduPilot checkout keeps it relative to
    ``build/sitl/bin/arducopter``.
    """
    candidates = [binary.parent / "copter.parm",
                  binary.parent.parent.parent.parent / "Tools" / "autotest" / "default_params" / "copter.parm"]
    for c in candidates:
        if c.is_file():
            return c
    return None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_instance(start: int = 0, limit: int = 60) -> int:
    """An instance number whose three TCP ports are free."""
    for inst in range(start, start + limit):
        base = 5760 + 10 * inst
        if all(_port_free(base + k) for k in (0, 2, 3)):
            return inst
    raise SimError("No free SITL instance ports between 5760 and 6360; stop other simulators first.")


@dataclass
class SitlConfig:
    """What to start: mirrors :class:`~uavops.sim.SimConfig` where the meaning is the same."""

    binary: Path
    home: Location
    speedup: float = 1.0
    instance: int | None = None
    params_files: list[Path] = field(default_factory=list)
    workdir: Path | None = None
    wipe_eeprom: bool = True
    model: str = "+"
    udp_out: str | None = None
    sitl_extras: bool = True
    """Append firmware_params/sitl.parm (SITL-only simulation settings, e.g. a 4S battery)."""
    base_defaults: Path | None = None
    """ArduPilot's copter.parm (default: found beside the binary or in its ArduPilot checkout)."""


class SitlProcess:
    """A running ``arducopter`` SITL; use as a context manager."""

    def __init__(self, config: SitlConfig) -> None:
        self.config = config
        self.binary = resolve_sitl_bin(config.binary)
        self.instance = free_instance() if config.instance is None else config.instance
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if config.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="uavops-sitl-")
            self.workdir = Path(self._tmp.name)
        else:
            self.workdir = Path(config.workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "sitl.log"

    @property
    def tcp_port(self) -> int:
        return 5760 + 10 * self.instance

    @property
    def tcp_url(self) -> str:
        return f"tcp:127.0.0.1:{self.tcp_port}"

    @property
    def tcp_urls(self) -> list[str]:
        return [f"tcp:127.0.0.1:{self.tcp_port + k}" for k in (0, 2, 3)]

    def command(self) -> list[str]:
        cfg = self.config
        params = list(cfg.params_files or [find_profile()])
        if cfg.sitl_extras:
            params.append(find_profile("sitl"))
        base = cfg.base_defaults if cfg.base_defaults is not None else sitl_base_defaults(self.binary)
        if base is not None:
            params.insert(0, base)
        cmd = [str(self.binary), "--model", cfg.model, "--speedup", f"{cfg.speedup:g}", "--home",
               cfg.home.sitl_home(), "-I", str(self.instance), "--defaults", ",".join(str(Path(p).resolve()) for p in params)]
        if cfg.wipe_eeprom:
            cmd.append("-w")
        if cfg.udp_out:
            cmd += ["--serial1", f"udpclient:{cfg.udp_out.removeprefix('udp:').removeprefix('udpout:')}"]
        return cmd

    def start(self, timeout_s: float = 30.0) -> "SitlProcess":
        cmd = self.command()
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        except OSError as exc:
            log.close()
            raise SimError(f"Cannot start SITL {self.binary} ({exc}); check it is an arducopter SITL build for "
                           "this machine.") from None
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-400:]
                raise SimError(f"SITL exited at start with code {self.proc.returncode}; its log ends: {tail!r}")
            if not _port_free(self.tcp_port):
                return self
            time.sleep(0.1)
        self.stop()
        raise SimError(f"SITL did not open TCP port {self.tcp_port} within {timeout_s:.0f} s; see {self.log_path}.")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
        if self._tmp is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "SitlProcess":
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

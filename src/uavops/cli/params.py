"""``uavops params show|diff|apply``: vehicle parameters against an ArduPilot .parm profile."""

from __future__ import annotations

from pathlib import Path

import click

from .options import emit_json, json_option

__all__ = ["cli"]

connect = click.option("--connect", default="tcp:127.0.0.1:5760", show_default=True,
                       help="MAVLink connection (tcp:HOST:PORT, udp:/udpin:/udpout:HOST:PORT, /dev/ttyUSB0,57600).")
heartbeat = click.option("--gcs-heartbeat-hz", type=float, default=1.0, show_default=True,
                         help="Our heartbeat rate (raise it for sped-up simulators).")


def _link(url: str, hb_hz: float):  # type: ignore[no-untyped-def]
    from ..link import GroundLink

    return GroundLink(url, gcs_heartbeat_hz=hb_hz).connect(heartbeat_timeout_s=30.0)


def _read_all(link):  # type: ignore[no-untyped-def]
    from ..progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("Reading parameters", total=None)

        def step(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return link.params.read_all(progress=step)


@click.group("params")
def cli() -> None:
    """Read, compare and apply vehicle parameters (ArduPilot .parm: `NAME value`, # comments).

    \b
    Examples:
      uavops params show --connect tcp:127.0.0.1:5760 > vehicle.parm
      uavops params diff firmware_params/survey_copter.parm --connect tcp:127.0.0.1:5760
      uavops params apply firmware_params/survey_copter.parm --connect tcp:127.0.0.1:5760
    """


@cli.command("show")
@connect
@heartbeat
@click.option("--match", default=None, help="Only names containing this text (e.g. BATT_).")
@json_option
def show(connect: str, gcs_heartbeat_hz: float, match: str | None, as_json: bool) -> None:
    """Print every parameter of the vehicle in .parm format."""
    from ..link import format_parm

    with _link(connect, gcs_heartbeat_hz) as link:
        values = _read_all(link)
    if match:
        values = {k: v for k, v in values.items() if match.upper() in k}
    if as_json:
        emit_json(values)
    else:
        click.echo(format_parm(values), nl=False)


@cli.command("diff")
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path))
@connect
@heartbeat
@json_option
def diff(profile: Path, connect: str, gcs_heartbeat_hz: float, as_json: bool) -> None:
    """Show where the vehicle differs from PROFILE (exit code 1 when it does)."""
    from ..link import diff_params, read_parm_file

    wanted = read_parm_file(profile)
    with _link(connect, gcs_heartbeat_hz) as link:
        values = _read_all(link)
    diffs = diff_params(wanted, values)
    if as_json:
        emit_json({"profile": str(profile), "checked": len(wanted), "differences": [d.to_json() for d in diffs]})
    else:
        for d in diffs:
            have = "missing on the vehicle" if d.vehicle is None else f"{d.vehicle:g}"
            click.echo(f"{d.name:<16} vehicle {have:<24} profile {d.profile:g}")
        click.echo(f"{len(diffs)} of {len(wanted)} parameters differ from {profile.name}.", err=True)
    if diffs:
        raise SystemExit(1)


@cli.command("apply")
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path))
@connect
@heartbeat
@json_option
def apply(profile: Path, connect: str, gcs_heartbeat_hz: float, as_json: bool) -> None:
    """Set every parameter that differs from PROFILE, each verified by reading it back."""
    from ..link import read_parm_file

    wanted = read_parm_file(profile)
    with _link(connect, gcs_heartbeat_hz) as link:
        values = _read_all(link)
        changes = link.params.apply(wanted, known=values)
    if as_json:
        emit_json({"profile": str(profile), "changed": [c.to_json() for c in changes]})
    else:
        for c in changes:
            click.echo(f"{c.name:<16} {c.vehicle:g} -> {c.profile:g}")
        click.echo(f"Set {len(changes)} parameters; all {len(wanted)} in {profile.name} now match.", err=True)

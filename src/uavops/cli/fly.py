"""``uavops fly``: fly a planned survey over MAVLink (thin: options in, uavops.fly does the work)."""

from __future__ import annotations

from pathlib import Path

import click

from .options import emit_json, json_option

__all__ = ["cli"]


@click.command("fly")
@click.argument("plan", required=False, type=click.Path(path_type=Path))
@click.option("--connect", "connects", multiple=True,
              help="MAVLink connection (tcp:HOST:PORT, udp:/udpin:/udpout:HOST:PORT, /dev/ttyUSB0,57600). Repeat "
                   "once per vehicle for a multi-vehicle plan. Default tcp:127.0.0.1:5760; with --resume, the "
                   "one recorded in the flight.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("flight"),
              show_default=True, help="Flight folder: flight.json, captures.csv/.geojson, ledger.json, session.tlog.")
@click.option("--yes", is_flag=True, help="Arm without asking (and continue between sorties without asking).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Continue the flight in this folder (after a failsafe, battery swap or ground-station crash).")
@click.option("--refly-gaps", "gaps_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Fly only the planned photo points this flight folder's ledger lists as not taken.")
@click.option("--params", "params_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Parameter profile (.parm) the vehicle must match (e.g. firmware_params/survey_copter.parm).")
@click.option("--apply-params", is_flag=True, help="Set the parameters that differ from --params instead of failing.")
@click.option("--ready-timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for GPS 3D fix, EKF and pre-arm checks before giving up.")
@click.option("--max-hdop", type=float, default=2.0, show_default=True, help="Largest acceptable GPS HDOP.")
@click.option("--battery-min", type=float, default=20.0, show_default=True,
              help="Usable flight minutes of a full battery (for the battery check).")
@click.option("--reserve", "reserve_pct", type=float, default=25.0, show_default=True,
              help="Battery percent that must remain at the end of the mission.")
@click.option("--retries", type=int, default=5, show_default=True,
              help="Mission transfer retries per item (raise it on poor radio links).")
@click.option("--gcs-heartbeat-hz", type=float, default=1.0, show_default=True,
              help="Our heartbeat rate; raise it for sped-up simulators (their GCS failsafe runs on simulated time).")
@click.option("--stream-rate", type=float, default=4.0, show_default=True, help="Telemetry rate to request (Hz).")
@click.option("--live/--no-live", default=None, help="Live table on stderr (default: when stderr is a terminal).")
@json_option
def cli(plan: Path | None, connects: tuple[str, ...], out_dir: Path, yes: bool, resume_dir: Path | None,
        gaps_dir: Path | None, params_file: Path | None, apply_params: bool, ready_timeout: float, max_hdop: float,
        battery_min: float, reserve_pct: float, retries: int, gcs_heartbeat_hz: float, stream_rate: float, live: bool | None, as_json: bool) -> None:
    """Fly PLAN (a .plan or .waypoints file, or a plan folder) on ArduPilot vehicles.

    Runs the preflight checklist (heartbeat, firmware, GPS/HDOP, EKF, battery, home, parameters,
    fence/rally, mission upload verified by download), arms after confirmation (or --yes), shows
    the mission live, logs every photo's CAMERA_FEEDBACK and keeps a coverage ledger.

    \b
    Examples:
      uavops fly plan/mission.plan --connect tcp:127.0.0.1:5760 --yes --out flight/
      uavops fly --resume flight/            # after a failsafe RTL and a battery swap
      uavops fly --refly-gaps flight/        # only the photos the ledger lists as missing
      uavops fly plan/ --connect tcp:127.0.0.1:5760 --connect tcp:127.0.0.1:5770 --yes
    """
    from ..errors import InputError
    from ..fly.display import FlightDisplay
    from ..fly.preflight import PreflightOptions
    from ..fly.runner import FlyOptions
    from ..fly.session import fly_gaps, fly_new, fly_resume
    from ..link import TransferPolicy, read_parm_file

    modes = [x for x in (plan, resume_dir, gaps_dir) if x is not None]
    if len(modes) != 1:
        raise InputError("Give exactly one of PLAN, --resume FLIGHT_DIR or --refly-gaps FLIGHT_DIR.")
    profile = read_parm_file(params_file) if params_file else None
    options = FlyOptions(yes=yes, gcs_heartbeat_hz=gcs_heartbeat_hz, stream_rate_hz=stream_rate, preflight=PreflightOptions(
        ready_timeout_s=ready_timeout, max_hdop=max_hdop, battery_minutes=battery_min, battery_reserve_pct=reserve_pct,
        params_profile=profile, params_profile_name=params_file.name if params_file else None,
        apply_params=apply_params))
    policy = TransferPolicy(max_retries=retries)
    display = FlightDisplay(live=live)

    def prompt(question: str) -> bool:
        return click.confirm(question, default=False, err=True)

    urls = list(connects)
    if plan is not None:
        outcomes = fly_new(plan, urls or ["tcp:127.0.0.1:5760"], out_dir, options, display, prompt, policy)
        folder = out_dir
    elif resume_dir is not None:
        outcomes = fly_resume(resume_dir, urls, options, display, prompt, policy)
        folder = resume_dir
    else:
        assert gaps_dir is not None
        outcomes = fly_gaps(gaps_dir, urls, options, display, prompt, policy)
        folder = gaps_dir
    if as_json:
        import json

        emit_json({"flight_dir": str(folder), "vehicles": [{"label": o.label, "dir": str(o.out_dir), "state": o.state}
                                                            for o in outcomes],
                   "flight": json.loads((folder / "flight.json").read_text(encoding="utf-8"))})
    else:
        for o in outcomes:
            click.echo(f"{o.label}: {o.state} (flight folder {o.out_dir})", err=True)

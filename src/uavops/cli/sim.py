"""``uavops sim``: run a simulated ArduCopter (built-in or ArduPilot SITL) until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from ..locations import parse_home
from .options import emit_json, get_settings, json_option


@click.command("sim")
@click.option("--home", "home_text", default="almaty", show_default=True,
              help="Named site (almaty, bishkek, osh, dushanbe, khujand, tashkent, ashgabat) or LAT,LON[,ALT[,HDG]].")
@click.option("--speedup", type=float, default=1.0, show_default=True, help="Simulated seconds per wall second.")
@click.option("--tcp", "tcp_port", type=int, default=5760, show_default=True,
              help="TCP port ground stations connect to (the next +2 and +3 also speak MAVLink).")
@click.option("--out", "udp_out", default="udp:127.0.0.1:14550", show_default=True,
              help="Also send MAVLink to this UDP address, like SITL's --out. 'none' to disable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for wind gusts and GPS noise.")
@click.option("--loss", type=float, default=0.0, show_default=True,
              help="Fraction of MAVLink messages lost on the link (builtin only), e.g. 0.2.")
@click.option("--backend", type=click.Choice(["builtin", "ardupilot"]), default="builtin", show_default=True,
              help="builtin: uavops's simulator; ardupilot: real ArduPilot SITL (needs UAVOPS_SITL_BIN).")
@click.option("--params", "params_file", type=click.Path(dir_okay=False, path_type=Path),
              help="ArduPilot .parm defaults (default: the survey-copter profile from firmware_params/).")
@click.option("--sitl-bin", type=click.Path(dir_okay=False, path_type=Path),
              help="arducopter SITL binary (default: UAVOPS_SITL_BIN).")
@click.option("--eeprom", "eeprom_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder that keeps parameters and missions between runs (default: ~/.uavops/sim/tcpPORT).")
@click.option("--wipe", is_flag=True, help="Forget stored parameters and missions first (SITL's -w).")
@click.option("--ekf-settle", "ekf_settle_s", type=float,
              help="Builtin only: simulated seconds before the EKF uses GPS (default 41, like SITL).")
@click.option("--scenario", "scenario_name", default=None,
              help="Training scenario (sim/scenarios/*.toml): sets home and wind, and with --photos its scene.")
@click.option("--scene", "scene_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Scene folder (uavops scene make) the virtual camera photographs; needs --photos.")
@click.option("--photos", "photos_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Attach the virtual camera: one photo per CAMERA_FEEDBACK is written here.")
@click.option("--camera", "camera_name", default=None,
              help="Camera preset for the virtual camera (default: the scenario's, else DJI Phantom 4 Pro).")
@click.option("--duration", "duration_s", type=float, hidden=True, help="Stop after this many wall seconds.")
@json_option
@click.pass_context
def cli(ctx: click.Context, home_text: str, speedup: float, tcp_port: int, udp_out: str, seed: int, loss: float,
        backend: str, params_file: Path | None, sitl_bin: Path | None, eeprom_dir: Path | None, wipe: bool,
        ekf_settle_s: float | None, scenario_name: str | None, scene_dir: Path | None, photos_dir: Path | None,
        camera_name: str | None, duration_s: float | None, as_json: bool) -> None:
    """Run a simulated ArduCopter until Ctrl-C and print where ground stations connect.

    Example: uavops sim --home almaty --speedup 10
    """
    from ..sim.launch import LaunchInfo, LaunchOptions, run_until_stopped

    from ..errors import InputError

    settings = get_settings(ctx)
    home = parse_home(home_text)
    scenario = None
    wind: dict[str, float | None] = {}
    if scenario_name:
        from ..scene.scenarios import load_scenario

        scenario = load_scenario(scenario_name)
        if ctx.get_parameter_source("home_text") == click.core.ParameterSource.DEFAULT:
            home = scenario.location
        wind = {"wind_speed_mps": scenario.wind.speed_mps, "wind_dir_deg": scenario.wind.from_deg,
                "wind_turbulence_mps": scenario.wind.turbulence_mps}
        camera_name = camera_name or scenario.camera.name
    if scene_dir is not None and photos_dir is None:
        raise InputError("--scene needs --photos DIR: the folder where the virtual camera writes its photos.")
    if photos_dir is not None and scene_dir is None:
        if scenario is None:
            raise InputError("--photos needs --scene DIR (from uavops scene make) or --scenario NAME.")
        scene_dir = photos_dir.parent / f"scene-{scenario.name}"
        if not (scene_dir / "post.tif").exists():
            click.echo(f"Making the {scenario.name} scene in {scene_dir} (once; reused next time)...", err=True)
            scenario.make_scene(scene_dir, progress=None)
    out = None if udp_out.strip().lower() in ("", "none", "off") else udp_out
    if eeprom_dir is None:
        eeprom_dir = Path.home() / ".uavops" / "sim" / f"{backend}-tcp{tcp_port}"
    options = LaunchOptions(home=home, backend=backend, speedup=speedup, tcp_port=tcp_port, udp_out=out, seed=seed,
                            loss=loss, params_file=params_file, eeprom_dir=eeprom_dir,
                            sitl_bin=sitl_bin or settings.sitl_bin, ekf_settle_s=ekf_settle_s, wipe=wipe,
                            duration_s=duration_s, **wind)
    stop = threading.Event()
    camera_holder: dict[str, object] = {}

    def ready(info: LaunchInfo) -> None:
        if as_json:
            emit_json({"backend": info.backend, "tcp": info.tcp_urls, "udp": info.udp_url, "home": info.home,
                       "speedup": info.speedup, "params": info.params_file, "eeprom": info.eeprom_dir, **info.extra})
        else:
            click.echo(f"Simulated ArduCopter ({info.backend}) at {info.home}, speed-up {info.speedup:g}x, "
                       f"parameters {info.params_file}")
            click.echo("Connect a ground station to:")
            for line in info.connection_lines():
                click.echo(line)
            click.echo(f"e.g. uavops fly --connect {info.tcp_urls[0]} ...   or   "
                       f"mavproxy.py --master {info.tcp_urls[0]}")
            click.echo("Press Ctrl-C to stop.")
        if photos_dir is not None and scene_dir is not None:
            from ..plan.camera import get_camera
            from ..scene.capture import CaptureSession, CaptureStarter

            # The camera takes the second MAVLink port, as on SITL (one client per port there).
            url = info.tcp_urls[1] if len(info.tcp_urls) > 1 else info.tcp_urls[0]
            cam = get_camera(camera_name or "DJI Phantom 4 Pro")
            camera_holder["starter"] = CaptureStarter(lambda: CaptureSession(url, scene_dir, photos_dir, cam))
            if not as_json:
                click.echo(f"Virtual camera ({cam.name}) on {url}: photos go to {photos_dir}")
        import sys

        sys.stdout.flush()

    previous = signal.getsignal(signal.SIGTERM)
    try:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        run_until_stopped(options, ready, stop)
    except KeyboardInterrupt:
        stop.set()
        click.echo("Stopped.", err=True)
    finally:
        starter = camera_holder.get("starter")
        if starter is not None:
            photos = starter.stop()  # type: ignore[attr-defined]
            click.echo(f"Virtual camera: {len(photos)} photos in {photos_dir}", err=True)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)

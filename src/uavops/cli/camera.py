"""``uavops camera``: attach the virtual camera to a running vehicle until Ctrl-C."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .options import connect_option, emit_json, json_option


@click.command("camera")
@connect_option
@click.option("--scene", "scene_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Scene folder made by `uavops scene make` (or `scene import`).")
@click.option("--photos", "photos_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where IMG_0001.JPG … and captures.csv are written.")
@click.option("--camera", "camera_name", default="DJI Phantom 4 Pro", show_default=True,
              help="Camera preset (see `uavops cameras`).")
@click.option("--every-m", type=float, default=None,
              help="Shoot every D metres flown instead of on the vehicle's CAMERA_FEEDBACK.")
@click.option("--on-command", is_flag=True, help="Shoot on DO_DIGICAM_CONTROL/IMAGE_START_CAPTURE seen on the link.")
@click.option("--pre", is_flag=True, help="Photograph the pre-event image of the scene instead of the post-event one.")
@click.option("--height", type=click.Choice(["relative", "amsl"]), default="relative", show_default=True,
              help="Render from scene ground + height above home (relative) or from the vehicle's AMSL altitude.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for exposure/white-balance variation.")
@click.option("--dem", "dem_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Terrain model GeoTIFF (heights AMSL) for relief; default flat ground at the scene's height.")
@click.option("--duration", "duration_s", type=float, default=None, help="Stop after this many seconds (default: Ctrl-C).")
@json_option
def cli(connect: str, scene_dir: Path, photos_dir: Path, camera_name: str, every_m: float | None, on_command: bool,
        pre: bool, height: str, seed: int, dem_path: Path | None, duration_s: float | None, as_json: bool) -> None:
    """Attach the virtual camera to any MAVLink vehicle and write a photo per camera trigger.

    Example: uavops camera --connect tcp:127.0.0.1:5762 --scene scene/ --photos photos/
    """
    from ..plan.camera import get_camera
    from ..scene import load_scene
    from ..scene.camera import load_dem
    from ..scene.capture import CaptureSession

    scene = load_scene(scene_dir)
    dem = load_dem(dem_path, scene.crs_epsg) if dem_path is not None else None
    session = CaptureSession(connect, scene, photos_dir, get_camera(camera_name), every_m=every_m,
                             trigger="command" if on_command else None, height=height, seed=seed,
                             which="pre" if pre else "post", dem=dem,
                             on_photo=None if as_json else (lambda r: click.echo(
                                 f"{r.file}  {r.lat_deg:.7f} {r.lon_deg:.7f}  {r.rel_alt_m:.1f} m", err=True)))
    session.start()
    click.echo(f"Camera attached to {connect}; writing photos to {photos_dir} (Ctrl-C to stop).", err=True)
    end = time.monotonic() + duration_s if duration_s else None
    try:
        while end is None or time.monotonic() < end:
            time.sleep(0.2)
            if session.errors and "link lost" in " ".join(session.errors).lower():
                break
    except KeyboardInterrupt:
        click.echo("Stopping; finishing photos already triggered…", err=True)
    records = session.stop()
    if as_json:
        emit_json({"photos": len(records), "photos_dir": str(photos_dir), "errors": session.errors,
                   "records": [r.__dict__ for r in records]})
    else:
        click.echo(f"{len(records)} photos in {photos_dir}" + (f"; {len(session.errors)} problems: "
                                                              f"{session.errors[-1]}" if session.errors else "."))

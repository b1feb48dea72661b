"""``uavops plan``: plan a photo survey over an area (thin layer over :mod:`uavops.plan`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from .options import emit_json, json_option


def _parse_home(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lat, lon = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise InputError(f"--home {text!r} must be LAT,LON in decimal degrees, e.g. 43.17,76.82.") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"--home {text!r} is out of range; the order is LAT,LON.")
    return lon, lat


def _parse_angle(text: str) -> float | None:
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--angle must be 'auto' or a number of degrees, not {text!r}.") from None


def _parse_shutter(text: str) -> float:
    try:
        if "/" in text:
            num, den = text.split("/")
            value = float(num) / float(den)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--shutter must be seconds like 1/1000 or 0.001, not {text!r}.") from None
    if value <= 0:
        raise InputError("--shutter must be positive.")
    return value


@click.command("plan")
@click.argument("area", required=False, type=click.Path(dir_okay=True, path_type=Path))
@click.option("--bbox", help="Area as MINLON,MINLAT,MAXLON,MAXLAT instead of a file.")
@click.option("--camera", "camera_name", default="DJI Phantom 4 Pro", show_default=True,
              help="Camera preset (see `uavops cameras`), ignored when the custom sensor flags are given.")
@click.option("--sensor-width", type=float, help="Custom camera: sensor width (mm).")
@click.option("--sensor-height", type=float, help="Custom camera: sensor height (mm).")
@click.option("--image-width", type=int, help="Custom camera: image width (px).")
@click.option("--image-height", type=int, help="Custom camera: image height (px).")
@click.option("--focal-length", type=float, help="Custom camera: TRUE focal length (mm), not 35 mm-equivalent.")
@click.option("--min-interval", type=float, default=None, help="Custom camera: shortest photo interval (s).")
@click.option("--portrait", is_flag=True, help="Camera mounted with the image's short side across track.")
@click.option("--alt", "alt_m", type=float, help="Height above ground (m). Give --alt or --gsd.")
@click.option("--gsd", "gsd_cm", type=float, help="Target ground sample distance (cm/px) instead of --alt.")
@click.option("--front", "front_pct", type=float, default=75.0, show_default=True, help="Front overlap (%, 0-90).")
@click.option("--side", "side_pct", type=float, default=70.0, show_default=True, help="Side overlap (%, 0-90).")
@click.option("--angle", default="auto", show_default=True,
              help="Line heading in degrees from north, or 'auto' (fewest turns).")
@click.option("--crosshatch", is_flag=True, help="Fly a second pass at +90°.")
@click.option("--entry", type=click.Choice(["auto", "nw", "ne", "sw", "se"]), default="auto", show_default=True,
              help="Corner to start from (auto: nearest --home).")
@click.option("--turnaround", "turnaround_m", type=float, default=0.0, show_default=True,
              help="Run-in/run-out distance beyond each leg (m).")
@click.option("--speed", "speed_mps", type=float, default=10.0, show_default=True,
              help="Survey speed (m/s); capped for the photo interval and motion blur.")
@click.option("--shutter", default="1/1000", show_default=True, help="Shutter time for the motion-blur cap.")
@click.option("--trigger", "trigger_mode", type=click.Choice(["distance", "hover"]), default="distance",
              show_default=True, help="DO_SET_CAM_TRIGG_DIST along legs, or stop-and-shoot per photo.")
@click.option("--hover-hold", type=float, default=2.0, show_default=True, help="Hover time per photo (s, hover mode).")
@click.option("--exclude", "exclude", multiple=True, type=click.Path(path_type=Path),
              help="No-fly zones (GeoJSON/KML); repeat for several files.")
@click.option("--repair", is_flag=True, help="Fix invalid polygons (make_valid, re-orient, swap lat/lon) with a warning.")
@click.option("--dem", "dem_path", type=click.Path(path_type=Path),
              help="Elevation GeoTIFF (any CRS) for terrain following; waypoints then carry AMSL altitudes.")
@click.option("--terrain-tolerance", type=float, default=5.0, show_default=True,
              help="Allowed deviation from --alt above ground with --dem (m).")
@click.option("--climb-rate", type=float, default=2.5, show_default=True, help="Max climb rate (m/s).")
@click.option("--descent-rate", type=float, default=1.5, show_default=True, help="Max descent rate (m/s).")
@click.option("--battery-min", type=float, help="Usable flight minutes per battery: split into sorties.")
@click.option("--reserve", "reserve_pct", type=float, default=25.0, show_default=True,
              help="Battery reserve kept unused (%).")
@click.option("--vehicles", type=int, default=1, show_default=True,
              help="Split the area between N vehicles of equal flight time.")
@click.option("--home", "home", help="Launch point LAT,LON (default: the area's vertex nearest the first leg).")
@click.option("--max-alt", "max_alt_m", type=float, default=120.0, show_default=True,
              help="Altitude ceiling above ground (m); raise only if your authorisation allows it.")
@click.option("--fence-margin", type=float, default=20.0, show_default=True, help="Geofence margin beyond the area (m).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("plan"),
              show_default=True, help="Output folder.")
@click.option("--no-png", is_flag=True, help="Skip preview.png.")
@json_option
def cli(area: Path | None, bbox: str | None, camera_name: str, sensor_width: float | None,
        sensor_height: float | None, image_width: int | None, image_height: int | None, focal_length: float | None,
        min_interval: float | None, portrait: bool, alt_m: float | None, gsd_cm: float | None, front_pct: float,
        side_pct: float, angle: str, crosshatch: bool, entry: str, turnaround_m: float, speed_mps: float,
        shutter: str, trigger_mode: str, hover_hold: float, exclude: tuple[Path, ...], repair: bool,
        dem_path: Path | None, terrain_tolerance: float, climb_rate: float, descent_rate: float,
        battery_min: float | None, reserve_pct: float, vehicles: int, home: str | None, max_alt_m: float,
        fence_margin: float, out_dir: Path, no_png: bool, as_json: bool) -> None:
    """Plan a photo survey over AREA (GeoJSON or KML polygon; or --bbox).

    \b
    Writes into --out:
      mission.plan, mission.waypoints  the whole survey as one mission for one vehicle
      sortie_K.plan/.waypoints         with --battery-min: one complete mission per sortie
      vehicle_N/mission.plan ...       with --vehicles N (vehicle_N/sortie_K.plan with both)
      preview.geojson, preview.png, summary.json (its "layout" lists every file)

    Example: uavops plan area.geojson --camera "DJI Phantom 4 Pro" --alt 80 --front 75 --side 70 --out plan/
    """
    from ..plan.area import load_area
    from ..plan.camera import Camera, get_camera
    from ..plan.model import SurveyParams
    from ..plan.outputs import write_outputs
    from ..plan.survey import plan_survey

    custom = [sensor_width, sensor_height, image_width, image_height, focal_length]
    if any(v is not None for v in custom):
        if any(v is None for v in custom):
            raise InputError("A custom camera needs all of --sensor-width, --sensor-height, --image-width, "
                             "--image-height and --focal-length.")
        camera = Camera.custom(sensor_width_mm=sensor_width, sensor_height_mm=sensor_height,  # type: ignore[arg-type]
                               image_width_px=image_width, image_height_px=image_height,  # type: ignore[arg-type]
                               focal_length_mm=focal_length,  # type: ignore[arg-type]
                               min_trigger_interval_s=2.0 if min_interval is None else min_interval)
    else:
        camera = get_camera(camera_name)
    survey_area = load_area(area, bbox=bbox, exclude=list(exclude), repair=repair)
    params = SurveyParams(alt_m=alt_m, gsd_cm=gsd_cm, front_overlap_pct=front_pct, side_overlap_pct=side_pct,
                          angle_deg=_parse_angle(angle), turnaround_m=turnaround_m, speed_mps=speed_mps,
                          shutter_s=_parse_shutter(shutter), trigger_mode=trigger_mode,  # type: ignore[arg-type]
                          hover_hold_s=hover_hold, crosshatch=crosshatch, entry=entry, max_alt_m=max_alt_m,
                          climb_rate_mps=climb_rate, descent_rate_mps=descent_rate,
                          terrain_tolerance_m=terrain_tolerance, battery_min=battery_min,
                          reserve_frac=reserve_pct / 100.0, vehicles=vehicles, home_lonlat=_parse_home(home),
                          fence_margin_m=fence_margin, camera_landscape=not portrait)
    plan = plan_survey(survey_area, camera, params, dem_path=str(dem_path) if dem_path else None)
    summary = write_outputs(plan, out_dir, png=not no_png)
    for warning in summary.get("warnings", []):
        click.echo(f"Warning: {warning}", err=True)
    if as_json:
        emit_json(summary)
        return
    _print_summary(summary, out_dir)


def _print_summary(s: dict, out_dir: Path) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Survey plan → {out_dir}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    rows = [
        ("Camera", s["camera"]), ("Altitude", f"{s['alt_m']} m AGL ({s['altitude_frame']})"),
        ("GSD", f"{s['gsd_cm']} cm/px"), ("Footprint", f"{s['footprint_side_m']} × {s['footprint_front_m']} m"),
        ("Line spacing", f"{s['line_spacing_m']} m"), ("Trigger distance", f"{s['trigger_distance_m']} m"),
        ("Angle", f"{s['angle_deg']}°"), ("Speed", f"{s['speed_mps']} m/s"), ("Area", f"{s['area_ha']} ha"),
        ("Photos", str(s["photo_count"])), ("Legs / turns", f"{s['legs']} / {s['turns']}"),
        ("Distance", f"{s['distance_m'] / 1000:.2f} km"), ("Time", f"{s['time_s'] / 60:.1f} min"),
        ("Sorties / vehicles", f"{s['sorties']} / {s['vehicles']}"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console = Console()
    console.print(table)
    files = s.get("layout", {}).get("files", [])
    if len(files) > 1:
        parts = Table(title="Parts to fly")
        for col in ("File", "Vehicle", "Sortie", "Photos", "Time (min)"):
            parts.add_column(col)
        for f in files[1:]:
            parts.add_row(f["path"], str(f["vehicle"]), str(f["sortie"]), str(f["photos"]), f"{f['time_s'] / 60:.1f}")
        console.print(parts)

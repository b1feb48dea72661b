"""``uavops scene``: make synthetic disaster scenes, or import a real orthophoto as a scene."""

from __future__ import annotations

from pathlib import Path

import click

from .options import emit_json, json_option


@click.group("scene")
def cli() -> None:
    """Make synthetic disaster scenes with known truth (for training and tests)."""


@cli.command("make")
@click.option("--event", required=True,
              type=click.Choice(["earthquake", "flood", "mudflow", "sel", "tailings", "tailings_dam_failure", "fire",
                                 "industrial_fire"], case_sensitive=False),
              help="Disaster to paint into the post-event image.")
@click.option("--location", required=True,
              help="Named site (Almaty, Bishkek, Osh, Dushanbe, Khujand, Tashkent, Ashgabat) or LAT,LON[,ALT].")
@click.option("--size-m", type=float, default=600.0, show_default=True, help="Side of the square scene in metres.")
@click.option("--gsd-cm", type=float, default=3.0, show_default=True, help="Pixel size in centimetres.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same scene (byte for byte).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (pre.tif, post.tif, buildings.geojson, damage_mask.tif, events.geojson).")
@click.option("--no-overviews", is_flag=True, help="Skip GeoTIFF overviews (faster, but slower to view).")
@json_option
def make(event: str, location: str, size_m: float, gsd_cm: float, seed: int, out_dir: Path, no_overviews: bool,
         as_json: bool) -> None:
    """Paint a pre/post-event GeoTIFF pair with building damage truth.

    Example: uavops scene make --event earthquake --location almaty --size-m 600 --gsd-cm 3 --seed 1 --out scene/
    """
    from ..scene import make_scene

    scene = make_scene(event, location, size_m, gsd_cm, seed, out_dir, overviews=not no_overviews, progress=None)
    _report(scene, as_json)


@cli.command("import")
@click.argument("ortho", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output scene folder (post.tif in the site's UTM zone, scene.json).")
@click.option("--gsd-cm", type=float, default=None, help="Resample to this pixel size (default: keep it).")
@click.option("--ground-alt", "ground_amsl_m", type=float, default=0.0, show_default=True,
              help="Terrain height AMSL (m) the virtual camera should assume.")
@json_option
def import_(ortho: Path, out_dir: Path, gsd_cm: float | None, ground_amsl_m: float, as_json: bool) -> None:
    """Use a real orthophoto GeoTIFF as a scene (no truth); reprojects it to UTM."""
    from ..scene import import_orthophoto

    scene = import_orthophoto(ortho, out_dir, gsd_cm=gsd_cm, ground_amsl_m=ground_amsl_m)
    _report(scene, as_json)


def _report(scene, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    info = {"scene": str(scene.root), "crs_epsg": scene.crs_epsg, "gsd_cm": round(scene.gsd_cm, 4),
            "width_px": scene.width_px, "height_px": scene.height_px, "bounds": list(scene.bounds),
            "event": scene.meta.get("event"), "damage_counts": scene.meta.get("damage_counts"),
            "has_truth": scene.has_truth}
    if as_json:
        emit_json(info)
        return
    click.echo(f"Scene written to {scene.root}: {scene.width_px}×{scene.height_px} px at {scene.gsd_cm:.1f} cm, "
               f"EPSG:{scene.crs_epsg}.")
    if info["damage_counts"]:
        click.echo("Buildings: " + ", ".join(f"{k}: {v}" for k, v in info["damage_counts"].items()))

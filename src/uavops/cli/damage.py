"""``uavops damage``: flag damage on a mosaic and write the damage package folder."""

from __future__ import annotations

from pathlib import Path

import click

from .options import emit_json, json_option, out_option

EVENTS = ("auto", "earthquake", "flood", "mudflow", "tailings_dam_failure", "fire", "industrial", "landslide")


@click.command(name="damage")
@click.option("--post", "post", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Post-event mosaic (GeoTIFF) or plain image (PNG/JPEG).")
@click.option("--pre", "pre", type=click.Path(dir_okay=False, path_type=Path),
              help="Pre-event reference: earlier mosaic or basemap GeoTIFF in any CRS/resolution, or a plain "
                   "image the same size as --post.")
@click.option("--buildings", "buildings", type=click.Path(dir_okay=False, path_type=Path),
              help="Building footprints (GeoJSON or GeoPackage, e.g. OpenStreetMap) to grade one by one.")
@click.option("--event", type=click.Choice(EVENTS), default="auto", show_default=True,
              help="Event type; 'auto' guesses it from what changed.")
@out_option(help="Output folder for the damage package.")
@click.option("--producer", help="Organisation code written into package.json, e.g. KG-MChS.")
@click.option("--platform", help="Aircraft and camera, e.g. 'DJI Mavic 3E'.")
@click.option("--obs-date", "obs_date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Observation date (YYYY-MM-DD); default: from the mosaic's tags, else today.")
@click.option("--source-id", "source_id", help="Source id written on every feature; default: post file name.")
@click.option("--licence", default="CC-BY-4.0", show_default=True, help="Licence of the package.")
@click.option("--work-gsd-cm", "work_gsd_cm", type=click.FloatRange(min=1.0, max=200.0), default=20.0,
              show_default=True, help="Working pixel size for georeferenced input (the model is trained at 20 cm).")
@click.option("--no-progress", is_flag=True, help="Do not show progress bars.")
@json_option
def cli(post: Path, pre: Path | None, buildings: Path | None, event: str, out_dir: str, producer: str | None,
        platform: str | None, obs_date: object, source_id: str | None, licence: str, work_gsd_cm: float,
        no_progress: bool, as_json: bool) -> None:
    """Flag damage (Copernicus EMS grades) on a post-event mosaic and write a damage package.

    \b
    Examples:
      uavops damage --post mosaic/mosaic.tif --pre pre.tif --buildings osm.geojson --out damage/
      uavops damage --pre a.png --post b.png --out damage/      # plain images: pixel grid
    """
    from ..damage import DamageOptions, run_damage

    opts = DamageOptions(event=event, producer=producer, platform=platform,
                         obs_date=obs_date.date() if obs_date is not None else None,  # type: ignore[attr-defined]
                         source_id=source_id, licence=licence, work_gsd_m=work_gsd_cm / 100.0,
                         progress=False if no_progress else None)
    res = run_damage(post, Path(out_dir), pre=pre, buildings=buildings, options=opts)
    if as_json:
        emit_json({"out_dir": str(res.out_dir), "package_id": res.meta.package_id, "summary": res.summary,
                   "files": [f.path for f in res.meta.files]})
        return
    s = res.summary
    counts = ", ".join(f"{k}: {v}" for k, v in s["counts_per_grade"].items())
    click.echo(f"Event: {s['event_type']}; {s['buildings_assessed']} buildings assessed; {counts}.")
    click.echo(f"Affected area {s['affected_area']:,.0f} {s['units']}; package written to {res.out_dir}/ "
               "(open report.html to check).")

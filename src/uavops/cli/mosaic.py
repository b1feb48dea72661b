"""``uavops mosaic``: build a georeferenced orthomosaic from a folder of survey photos."""

from __future__ import annotations

from pathlib import Path

import click

from .options import emit_json, json_option

__all__ = ["cli"]


@click.command("mosaic")
@click.argument("photos_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("mosaic"),
              show_default=True, help="Output folder: mosaic.tif (COG), footprints.geojson, quality.json.")
@click.option("--captures", type=click.Path(dir_okay=False, path_type=Path),
              help="Capture log of `uavops fly` (flight/captures.csv): poses for photos without GPS, "
                   "and height/attitude where photos lack them.")
@click.option("--gsd", "gsd_cm", type=float, help="Output resolution in cm per pixel (default: the photos' own).")
@click.option("--camera", help="Camera preset name (see `uavops cameras`) when EXIF make/model is missing or wrong.")
@click.option("--alt-agl", "alt_agl_m", type=float,
              help="Height above ground in metres, for photos without DJI RelativeAltitude.")
@click.option("--gps-sigma", "gps_sigma_m", type=float, default=3.0, show_default=True,
              help="Assumed error of single GPS fixes in metres.")
@click.option("--memory-mb", type=int, default=2500, show_default=True, help="Memory for decoded photos.")
@click.option("--threads", type=int, default=2, show_default=True, help="Worker threads.")
@click.option("--progress/--no-progress", default=None, help="Progress bars on stderr (default: when a terminal).")
@json_option
def cli(photos_dir: Path, out_dir: Path, captures: Path | None, gsd_cm: float | None, camera: str | None,
        alt_agl_m: float | None, gps_sigma_m: float, memory_mb: int, threads: int, progress: bool | None,
        as_json: bool) -> None:
    """Build a georeferenced orthomosaic from the survey photos in PHOTOS_DIR.

    Photos need EXIF GPS (or --captures); DJI XMP attitude and relative altitude are used when
    present. Writes OUT/mosaic.tif (Cloud-Optimized GeoTIFF in the site's UTM zone),
    OUT/footprints.geojson and OUT/quality.json. Ctrl-C leaves no partial file.
    """
    from ..imagery import MosaicOptions, build_mosaic

    opts = MosaicOptions(gsd_cm=gsd_cm, camera=camera, captures=captures, alt_agl_m=alt_agl_m,
                         gps_sigma_m=gps_sigma_m, memory_mb=memory_mb, threads=threads, progress=progress)
    result = build_mosaic(photos_dir, out_dir, opts, on_warning=lambda msg: click.echo(f"Warning: {msg}", err=True))
    q = result.quality
    if as_json:
        emit_json({"mosaic": str(result.mosaic_path), "footprints": str(result.footprints_path),
                   "quality": str(result.quality_path), **{k: v for k, v in q.items() if k != "photos"}})
        return
    click.echo(f"Mosaic: {result.mosaic_path} ({q['mosaic']['width_px']}×{q['mosaic']['height_px']} px, "  # type: ignore[index]
               f"{q['mosaic']['gsd_cm']} cm/px, {q['crs']}, {q['area_ha']} ha)")  # type: ignore[index]
    click.echo(f"Photos: {q['photos_used']} used, {q['photos_skipped']} skipped; tie points {q['tie_points']}, "
               f"RMSE {q['tie_rmse_px']} px ({q['tie_rmse_cm']} cm); GPS residual RMSE {q['gps_residual_rmse_m']} m")
    click.echo(f"Footprints: {result.footprints_path}\nQuality: {result.quality_path}")

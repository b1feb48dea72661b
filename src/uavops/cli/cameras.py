"""``uavops cameras``: list the camera presets the planner knows."""

from __future__ import annotations

import click

from .options import emit_json, json_option


@click.command("cameras")
@json_option
@click.option("--alt", "alt_m", type=float, default=100.0, show_default=True,
              help="Height above ground (m) for the GSD and footprint columns.")
def cli(as_json: bool, alt_m: float) -> None:
    """List camera presets (QGroundControl names where QGC has them) with their GSD at --alt.

    Use a name with `uavops plan --camera NAME`; names are case-insensitive.
    """
    from ..plan.camera import list_cameras

    cams = list_cameras()
    if as_json:
        rows = []
        for cam in cams:
            side, front = cam.footprint_m(alt_m)
            rows.append({**cam.to_dict(), "hfov_deg": round(cam.hfov_deg, 2), "vfov_deg": round(cam.vfov_deg, 2),
                         "focal_35mm_equiv": round(cam.focal_35mm_equiv, 1), "focal_px": round(cam.focal_px, 1),
                         "alt_m": alt_m, "gsd_cm": round(cam.gsd_cm(alt_m), 3),
                         "footprint_side_m": round(side, 2), "footprint_front_m": round(front, 2)})
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Camera presets (GSD and footprint at {alt_m:g} m AGL)")
    for col in ("Name", "EXIF make/model", "Sensor mm", "Image px", "Focal mm", "35mm eq", "HFOV°",
                "GSD cm/px", "Footprint m", "Min interval s"):
        table.add_column(col, justify="left" if col in ("Name", "EXIF make/model") else "right", no_wrap=col == "Name")
    for cam in cams:
        side, front = cam.footprint_m(alt_m)
        table.add_row(cam.name, f"{cam.make} {cam.model}", f"{cam.sensor_width_mm:g}×{cam.sensor_height_mm:g}",
                      f"{cam.image_width_px}×{cam.image_height_px}", f"{cam.focal_length_mm:g}",
                      f"{cam.focal_35mm_equiv:.0f}", f"{cam.hfov_deg:.1f}", f"{cam.gsd_cm(alt_m):.2f}",
                      f"{side:.0f}×{front:.0f}", f"{cam.min_trigger_interval_s:g}")
    Console(width=max(160, Console().width)).print(table)

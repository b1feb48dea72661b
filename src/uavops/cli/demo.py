"""``uavops demo``: the whole chain on a training scenario."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .options import emit_json, get_settings, json_option


@click.command(name="demo")
@click.option("--scenario", default=None, help="Training scenario (sim/scenarios/*.toml); default: almaty-mudflow.")
@click.option("--backend", type=click.Choice(["builtin", "ardupilot"]), default="builtin", show_default=True,
              help="Vehicle: the built-in simulator or ArduPilot SITL (needs --sitl-bin or UAVOPS_SITL_BIN).")
@click.option("--sitl-bin", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="ArduPilot SITL arducopter binary for --backend ardupilot.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Everything the demo writes goes here.")
@click.option("--size-m", type=click.FloatRange(min=150), default=None,
              help="Side of the generated scene (m; default: the scenario's, at most 300). At least 150.")
@click.option("--scene-gsd-cm", type=click.FloatRange(min=1, max=20), default=None,
              help="Pixel size of the generated scene (cm; default: the scenario's, at least 5).")
@click.option("--area-max-m", type=click.FloatRange(min=50), default=None,
              help="Largest side of the surveyed district (m); smaller runs faster.")
@click.option("--alt", "alt_m", type=click.FloatRange(min=10, max=120), default=None,
              help="Survey altitude above ground (m).")
@click.option("--speedup", type=click.FloatRange(min=1, max=100), default=20.0, show_default=True,
              help="Simulated seconds per wall-clock second.")
@click.option("--seed", type=int, default=None, help="Seed for the scene, wind and GPS noise.")
@json_option
@click.pass_context
def cli(ctx: click.Context, scenario: str | None, backend: str, sitl_bin: Path | None, out_dir: Path,
        size_m: float | None, scene_gsd_cm: float | None, area_max_m: float | None, alt_m: float | None, speedup: float, seed: int | None, as_json: bool) -> None:
    """Run the whole chain on a training scenario and print where everything is.

    Makes the scenario's scene, plans a survey over the affected district, flies it on a
    simulated vehicle with the virtual camera, mosaics the photos, flags damage against the
    pre-event reference, starts a local hub and uploads the damage package to it.
    """
    from ..demo import DemoOptions, run_demo
    from ..demo.pipeline import DEFAULT_SCENARIO

    settings = get_settings(ctx)
    opts = DemoOptions(out_dir=out_dir, scenario=scenario or DEFAULT_SCENARIO, backend=backend,
                       sitl_bin=sitl_bin or settings.sitl_bin, size_m=size_m, scene_gsd_cm=scene_gsd_cm,
                       max_area_side_m=area_max_m, alt_m=alt_m, speedup=speedup, seed=seed)
    console = Console(stderr=True)
    result = run_demo(opts, console=console)
    if as_json:
        emit_json(result.to_json())
        return
    s = result.summary
    table = Table(title=f"uavops demo — {s['scenario']} ({s['event']}, {s['location']})", show_header=False)
    table.add_row("Photos", f"{s['photos']} (planned {s['photos_expected']})")
    table.add_row("Area surveyed", f"{s['area_ha']} ha")
    table.add_row("GSD", f"{s['plan_gsd_cm']} cm/px planned, mosaic {s['mosaic_gsd_cm']} cm/px")
    table.add_row("Damaged / destroyed buildings", f"{s['damaged_buildings']} / {s['destroyed_buildings']}")
    table.add_row("Hub report id", str(s["report_id"]))
    for name, path in s["paths"].items():
        table.add_row(name.replace("_", " ").capitalize(), path)
    table.add_row("Hub map", f"{s['hub_serve']}  then open http://127.0.0.1:8080/map")
    table.add_row("Time per stage", ", ".join(f"{t.name} {t.seconds:.0f}s" for t in result.stages))
    Console().print(table)

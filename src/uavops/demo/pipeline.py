"""The demo chain, one function per stage, each reading the previous stage's files.

The demo calls the same library functions the stage commands use, so what it shows is
what an operator gets from the individual commands. It keeps every file inside
``out_dir`` and stops the simulator, camera and hub it started, also on Ctrl-C.
"""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import InputError, SimError
from ..files import ensure_out_dir, write_json
from ..locations import Location
from ..package import normalize_event_type
from .area import affected_district

__all__ = ["DemoOptions", "DemoResult", "StageTiming", "run_demo", "DEFAULT_SCENARIO"]

DEFAULT_SCENARIO = "almaty-mudflow"
#: The demo's scene is at most this big and this fine unless asked otherwise, so that the whole chain
#: finishes in minutes on a field laptop; ``--size-m 600 --scene-gsd-cm 3`` makes the scenario's full scene.
DEMO_SCENE_MAX_M = 300.0
DEMO_SCENE_MIN_GSD_CM = 5.0
HUB_ORG_BY_COUNTRY = {"KZ": "KZ-ChS", "KG": "KG-MChS", "TJ": "TJ-KChS", "UZ": "UZ-MChS", "TM": "TM-MChS"}


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs. ``None`` means: take it from the scenario."""

    out_dir: Path
    scenario: str = DEFAULT_SCENARIO
    backend: str = "builtin"
    sitl_bin: Path | None = None
    size_m: float | None = None
    """Side of the generated scene in metres."""
    scene_gsd_cm: float | None = None
    """Pixel size of the generated scene."""
    alt_m: float | None = None
    """Survey altitude above ground."""
    camera: str | None = None
    front_overlap_pct: float | None = None
    side_overlap_pct: float | None = None
    max_area_side_m: float | None = None
    """Cap on the surveyed district's side (keeps the short CI demo short)."""
    speedup: float = 20.0
    seed: int | None = None
    mosaic_gsd_cm: float | None = None
    progress: bool | None = None


@dataclass
class StageTiming:
    name: str
    seconds: float
    peak_rss_mb: float


@dataclass
class DemoResult:
    out_dir: Path
    stages: list[StageTiming] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), **self.summary,
                "stages": [{"name": s.name, "seconds": round(s.seconds, 2), "peak_rss_mb": round(s.peak_rss_mb, 1)}
                           for s in self.stages]}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Stages:
    """Runs named stages, timing each and printing one line per stage for the operator."""

    def __init__(self, console: Console, result: DemoResult) -> None:
        self.console = console
        self.result = result

    @contextmanager
    def stage(self, name: str, what: str) -> Iterator[None]:
        self.console.print(f"[bold cyan]▶ {name}[/] {what}")
        t0 = time.perf_counter()
        yield
        dt = time.perf_counter() - t0
        self.result.stages.append(StageTiming(name, dt, _peak_rss_mb()))
        self.console.print(f"  [green]✓[/] {name} done in {dt:.1f} s")


def _scenario(opts: DemoOptions) -> Any:
    from ..scene.scenarios import load_scenario

    return load_scenario(opts.scenario)


def _strip_grades(buildings: Path, out: Path) -> Path:
    """Building footprints as OpenStreetMap would give them: outlines only, no damage truth."""
    data = json.loads(buildings.read_text(encoding="utf-8"))
    for feat in data.get("features", []):
        props = feat.get("properties") or {}
        feat["properties"] = {"building_id": props.get("building_id"), "building": "yes"}
    write_json(out, data)
    return out


@contextmanager
def _vehicle(opts: DemoOptions, home: Location, seed: int, wind: Any) -> Iterator[tuple[str, str]]:
    """Start the vehicle the demo flies; yields connection strings for the ground station and the camera.

    ArduPilot SITL serves one client per TCP port (5760, 5762, 5763 like SERIAL0..2), so the
    camera takes the second port there; the built-in simulator serves many clients per port.
    """
    profile = _demo_profile(opts.out_dir, opts.speedup)
    if opts.backend == "builtin":
        from ..sim import SimConfig, start_sim

        sim = start_sim(SimConfig(home=home, speedup=opts.speedup, seed=seed, tcp_port=0, udp_out=None,
                                  params_file=profile, wind_speed_mps=wind.speed_mps,
                                  wind_dir_deg=wind.from_deg, wind_turbulence_mps=wind.turbulence_mps))
        try:
            yield sim.tcp_url, sim.tcp_url
        finally:
            sim.stop()
    else:  # "ardupilot"; run_demo has checked the backend name and the binary already
        from ..sim.sitl import SitlConfig, SitlProcess, resolve_sitl_bin

        with SitlProcess(SitlConfig(binary=resolve_sitl_bin(opts.sitl_bin), home=home, speedup=opts.speedup,
                                    params_files=[profile],
                                    workdir=ensure_out_dir(opts.out_dir / "sitl"))) as proc:
            urls = proc.tcp_urls
            yield urls[0], urls[1]


def _demo_profile(out_dir: Path, speedup: float) -> Path:
    """The survey profile, with the GCS-failsafe timeout widened to one wall second at this speed-up.

    FS_GCS_TIMEOUT counts simulated seconds: 5 s at 20x is 0.25 s of wall time, and a laptop
    rendering the virtual camera's photos beside the vehicle stalls a heartbeat that long now and
    then, which ended a demo flight in RTL once. The failsafe itself stays on.
    """
    from ..sim.profiles import write_profile_with

    timeout_s = min(120.0, max(5.0, float(speedup)))  # ArduPilot accepts 2..120 s
    return write_profile_with(ensure_out_dir(out_dir) / "vehicle.parm", {"FS_GCS_TIMEOUT": timeout_s},
                              comment=f"demo: one second of wall time at {speedup:g}x")


class _HubThread:
    """A local hub (embedded SQLite + files) served by uvicorn in a background thread."""

    def __init__(self, data_dir: Path) -> None:
        import uvicorn

        from ..hub.app import create_app
        from ..hub.config import HubConfig
        from ..hub.service import HubService

        self.config = HubConfig(data_dir=ensure_out_dir(data_dir), public_read=True)
        self.service = HubService(self.config)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(self.config, service=self.service)
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, name="demo-hub", daemon=True)

    def start(self, timeout_s: float = 20.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SimError("The local hub did not start; see the log above.")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.service.close()


def _publish(out: Path, scenario: Any, location: Location, damage_dir: Path, mosaic_path: Path | None
             ) -> tuple[Any, str, str]:
    """Start a local hub, register the org and event as a secretariat would, upload the package."""
    from ..hub.client import Outbox, UploadClient

    hub = _HubThread(out / "hub")
    org = HUB_ORG_BY_COUNTRY.get(location.country_iso2, "XX-DEMO")
    if org not in {o["code"] for o in hub.service.list_orgs()}:  # a rerun into the same --out keeps its hub
        hub.service.add_org(org, f"Emergency authority ({location.country_iso2 or 'demo'})",
                            location.country_iso2 or "XX")
    token = hub.service.create_token(org, "operator", label="demo")["token"]
    event_id = f"{scenario.name}-{time.strftime('%Y%m%d')}"
    if hub.service.get_event_or_none(event_id) is None:
        hub.service.add_event(event_id, normalize_event_type(scenario.event), scenario.title,
                              [location.country_iso2] if location.country_iso2 else [], time.strftime("%Y-%m-%d"))
    hub.start()
    try:
        client = UploadClient(hub.url, token)
        try:
            upload = client.upload(damage_dir, Outbox(out / "outbox"), mosaic=mosaic_path, event_id=event_id)
        finally:
            client.close()
    finally:
        hub.stop()
    return upload, event_id, hub.url


def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoResult:
    """Run the whole chain; see the module docstring. Returns stage timings and the summary."""
    from ..damage.pipeline import DamageOptions, run_damage
    from ..fly.display import FlightDisplay
    from ..fly.runner import FlyOptions
    from ..fly.session import fly_new
    from ..imagery.pipeline import MosaicOptions, build_mosaic
    from ..plan.area import load_area
    from ..plan.camera import get_camera
    from ..plan.model import SurveyParams
    from ..plan.outputs import write_outputs
    from ..plan.survey import plan_survey
    from ..scene import load_scene, make_scene
    from ..scene.capture import CaptureSession, CaptureStarter

    console = console or Console(stderr=True)
    out = ensure_out_dir(opts.out_dir)
    result = DemoResult(out_dir=out)
    stages = _Stages(console, result)
    scenario = _scenario(opts)
    if opts.backend == "ardupilot":  # fail before the long stages, not after them
        from ..sim.sitl import resolve_sitl_bin

        resolve_sitl_bin(opts.sitl_bin)
    elif opts.backend != "builtin":
        raise InputError(f"Unknown backend '{opts.backend}'; use builtin or ardupilot.")
    seed = opts.seed if opts.seed is not None else scenario.seed
    camera = get_camera(opts.camera or scenario.camera.name)
    location: Location = scenario.location

    with stages.stage("scene", f"{scenario.event} at {location.name} (seed {seed})"):
        make_scene(event=scenario.event, location=location,
                   size_m=opts.size_m or min(scenario.scene.size_m, DEMO_SCENE_MAX_M),
                   gsd_cm=opts.scene_gsd_cm or max(scenario.scene.gsd_cm, DEMO_SCENE_MIN_GSD_CM),
                   seed=seed, out_dir=out / "scene",
                   progress=opts.progress)
        scene = load_scene(out / "scene")

    with stages.stage("plan", f"survey of the affected district with {camera.name}"):
        district = affected_district(out / "scene", scene.bounds, scene.crs_epsg, max_side_m=opts.max_area_side_m)
        write_json(out / "area.geojson", {"type": "FeatureCollection", "features": [district]})
        area = load_area(out / "area.geojson")
        params = SurveyParams(alt_m=opts.alt_m or scenario.vehicle.survey_alt_m,
                              front_overlap_pct=opts.front_overlap_pct or scenario.camera.front_overlap_pct,
                              side_overlap_pct=opts.side_overlap_pct or scenario.camera.side_overlap_pct,
                              speed_mps=scenario.vehicle.cruise_speed_mps)
        plan = plan_survey(area, camera, params)
        write_outputs(plan, out / "plan")
        for warning in plan.warnings:
            console.print(f"  [yellow]note:[/] {warning}")

    home = Location("demo home", location.country_iso2, plan.mission.home.lat_deg, plan.mission.home.lon_deg,
                    scene.ground_amsl_m)
    with stages.stage("fly", f"{opts.backend} vehicle at {opts.speedup:g}x with the virtual camera"):
        with _vehicle(opts, home, seed, scenario.wind) as (url, camera_url):
            capture = CaptureStarter(lambda: CaptureSession(camera_url, scene, out / "photos", camera, seed=seed))
            try:
                with FlightDisplay(live=opts.progress, console=console) as display:
                    # GCS heartbeats at 1 Hz of simulated time, or FS_GCS fires at high speed-up (as on SITL).
                    fly_opts = FlyOptions(yes=True, gcs_heartbeat_hz=max(1.0, opts.speedup),
                                          stream_rate_hz=max(4.0, opts.speedup / 2))
                    fly_new(out / "plan" / "mission.plan", [url], out / "flight", fly_opts, display,
                            prompt=lambda _q: True)
            finally:
                records = capture.stop()
    photos = sorted((out / "photos").glob("*.JPG"))
    if len(photos) < 2:
        raise SimError(f"The flight produced {len(photos)} photos; the demo needs at least two to mosaic.")

    with stages.stage("mosaic", f"{len(photos)} photos"):
        mosaic = build_mosaic(out / "photos", out / "mosaic",
                              MosaicOptions(camera=camera.name, progress=opts.progress,
                                            # finer than the scene itself would only add empty pixels
                                            gsd_cm=opts.mosaic_gsd_cm or max(scene.gsd_cm, plan.gsd_cm)))

    with stages.stage("damage", "post-event mosaic against the pre-event reference"):
        footprints = _strip_grades(scene.path("buildings"), out / "footprints.geojson")
        damage = run_damage(mosaic.mosaic_path, out / "damage", pre=scene.pre_path, buildings=footprints,
                            options=DamageOptions(event=normalize_event_type(scenario.event),
                                                  producer=HUB_ORG_BY_COUNTRY.get(location.country_iso2),
                                                  platform=f"ArduCopter ({opts.backend}) + {camera.name}",
                                                  progress=opts.progress))

    with stages.stage("hub", "local coordination hub and upload"):
        upload, event_id, hub_url = _publish(out, scenario, location, out / "damage", mosaic.mosaic_path)

    counts = damage.summary.get("buildings_per_grade") or damage.summary.get("counts_per_grade") or {}
    result.summary = {
        "scenario": scenario.name,
        "event": scenario.event,
        "location": location.name,
        "photos": len(photos),
        "photos_written": len(records),
        "photos_expected": plan.summary.get("photo_count"),
        "area_ha": round(float(plan.summary.get("area_m2", 0.0)) / 1e4, 2),
        "plan_gsd_cm": round(plan.gsd_cm, 2),
        "mosaic_gsd_cm": (mosaic.quality.get("mosaic") or {}).get("gsd_cm") if isinstance(
            mosaic.quality.get("mosaic"), dict) else mosaic.quality.get("gsd_native_cm"),
        "tie_rmse_px": mosaic.quality.get("tie_rmse_px"),
        "damaged_buildings": counts.get("Damaged", 0),
        "destroyed_buildings": counts.get("Destroyed", 0),
        "report_id": upload.report_id,
        "hub_event": event_id,
        "paths": {
            "plan": str(out / "plan" / "mission.plan"),
            "flight": str(out / "flight" / "flight.json"),
            "mosaic": str(mosaic.mosaic_path),
            "damage_geojson": str(out / "damage" / "damage.geojson"),
            "report": str(out / "damage" / "report.html"),
        },
        "hub_map": f"{hub_url}/map",
        "hub_serve": f"uavops hub serve --data-dir {out / 'hub'} --public-read",
    }
    write_json(out / "demo_summary.json", result.to_json())
    return result

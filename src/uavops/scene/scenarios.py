"""Training scenarios: a location, an event, a vehicle, wind and a camera, in one TOML file.

Scenarios live in ``sim/scenarios/*.toml`` in the repository and, identically, as package data in
``uavops/scene/scenarios/`` so an installed uavops finds them. :func:`load_scenario` takes a
scenario name (``almaty-mudflow``) or a path to a ``.toml`` file.

File format::

    name = "almaty-mudflow"
    title = "Sel on the southern edge of Almaty"
    location = "Almaty"            # uavops.locations name
    event = "mudflow"              # earthquake | flood | mudflow | tailings | fire
    seed = 11
    [scene]   size_m = 600, gsd_cm = 3.0
    [vehicle] frame = "quad", cruise_speed_mps = 10.0, survey_alt_m = 80.0
    [wind]    speed_mps = 4.0, from_deg = 180.0, turbulence_mps = 1.0
    [camera]  name = "DJI Phantom 4 Pro", front_overlap_pct = 75, side_overlap_pct = 65
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError, SceneError
from ..locations import Location, get_location
from .events import canonical_event

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "CameraSpec",
    "Scenario",
    "SceneSpec",
    "VehicleSpec",
    "WindSpec",
    "list_scenarios",
    "load_scenario",
    "scenario_dirs",
]


@dataclass(frozen=True)
class SceneSpec:
    size_m: float = 600.0
    gsd_cm: float = 3.0


@dataclass(frozen=True)
class VehicleSpec:
    frame: str = "quad"
    cruise_speed_mps: float = 10.0
    survey_alt_m: float = 80.0


@dataclass(frozen=True)
class WindSpec:
    speed_mps: float = 0.0
    from_deg: float = 0.0
    turbulence_mps: float = 0.0


@dataclass(frozen=True)
class CameraSpec:
    name: str = "DJI Phantom 4 Pro"
    front_overlap_pct: float = 75.0
    side_overlap_pct: float = 65.0


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    location_name: str
    event: str
    seed: int = 1
    description: str = ""
    scene: SceneSpec = field(default_factory=SceneSpec)
    vehicle: VehicleSpec = field(default_factory=VehicleSpec)
    wind: WindSpec = field(default_factory=WindSpec)
    camera: CameraSpec = field(default_factory=CameraSpec)
    source: Path | None = None

    @property
    def location(self) -> Location:
        return get_location(self.location_name)

    def get_camera(self) -> Any:
        """The scenario's :class:`uavops.plan.camera.Camera`."""
        from ..plan.camera import get_camera

        return get_camera(self.camera.name)

    def make_scene(self, out_dir: str | Path, *, progress: bool | None = False) -> Any:
        """Generate this scenario's scene into ``out_dir`` (see :func:`uavops.scene.make_scene`)."""
        from .generator import make_scene

        return make_scene(self.event, self.location, self.scene.size_m, self.scene.gsd_cm, self.seed, out_dir,
                          progress=progress)

    def sim_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`uavops.sim.SimConfig` (home and wind)."""
        return {"home": self.location, "wind_speed_mps": self.wind.speed_mps, "wind_dir_deg": self.wind.from_deg,
                "wind_turbulence_mps": self.wind.turbulence_mps}


def scenario_dirs() -> list[Path]:
    """Where scenarios are looked up: the repository's ``sim/scenarios`` (if present), then package data."""
    dirs = []
    repo = Path(__file__).resolve().parents[3] / "sim" / "scenarios"
    if repo.is_dir():
        dirs.append(repo)
    dirs.append(Path(str(resources.files("uavops.scene").joinpath("scenarios"))))
    return dirs


def list_scenarios() -> list[str]:
    names: set[str] = set()
    for d in scenario_dirs():
        names.update(p.stem for p in d.glob("*.toml"))
    return sorted(names)


_SECTIONS = {"scene": SceneSpec, "vehicle": VehicleSpec, "wind": WindSpec, "camera": CameraSpec}
_TOP = {"name", "title", "location", "event", "seed", "description", *_SECTIONS}


def _section(cls: type, data: Any, path: Path, key: str) -> Any:
    if not isinstance(data, dict):
        raise SceneError(f"Scenario {path}: [{key}] must be a table.")
    known = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    unknown = set(data) - known
    if unknown:
        raise SceneError(f"Scenario {path}: unknown key(s) {', '.join(sorted(unknown))} in [{key}]; "
                         f"known keys are {', '.join(sorted(known))}.")
    try:
        return cls(**{k: (type(getattr(cls(), k))(v)) for k, v in data.items()})
    except (TypeError, ValueError) as exc:
        raise SceneError(f"Scenario {path}: a value in [{key}] has the wrong type ({exc}).") from None


def _parse(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(f"Scenario {path} is not valid TOML ({exc}); fix that line.") from None
    unknown = set(data) - _TOP
    if unknown:
        raise SceneError(f"Scenario {path}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"known keys are {', '.join(sorted(_TOP))}.")
    for key in ("location", "event"):
        if key not in data:
            raise SceneError(f"Scenario {path} has no '{key}'; add it.")
    get_location(str(data["location"]))
    event = canonical_event(str(data["event"]))
    sections = {k: _section(cls, data.get(k, {}), path, k) for k, cls in _SECTIONS.items()}
    scenario = Scenario(name=str(data.get("name", path.stem)), title=str(data.get("title", path.stem)),
                        location_name=str(data["location"]), event=event, seed=int(data.get("seed", 1)),
                        description=str(data.get("description", "")), source=path, **sections)
    from ..plan.camera import get_camera

    get_camera(scenario.camera.name)  # fail now, with the camera's own message, if unknown
    return scenario


def load_scenario(name: str | Path) -> Scenario:
    """A scenario by name (``"almaty-mudflow"``) or by path to a TOML file.

    Raises
    ------
    InputError
        No scenario of that name; the message lists the available ones.
    SceneError
        The file is not a valid scenario (bad TOML, unknown keys, unknown event).
    """
    text = str(name)
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        if not path.is_file():
            raise InputError(f"The scenario file {path} does not exist; check the path.")
        return _parse(path)
    key = text.strip().lower().replace("_", "-").replace(" ", "-")
    for d in scenario_dirs():
        path = d / f"{key}.toml"
        if path.is_file():
            return _parse(path)
    raise InputError(f"Unknown scenario '{name}'; available: {', '.join(list_scenarios())}.")

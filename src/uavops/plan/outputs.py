"""Writing a plan's files into an output folder, and describing the layout in summary.json.

Layout (what QGC users expect: one plan to open, plus the split plans to actually fly)::

    mission.plan / mission.waypoints   the whole survey as ONE mission for one vehicle
                                      (flyable with battery-failsafe RTL and `uavops fly --resume`)
    sortie_K.plan / .waypoints         one vehicle, several sorties: each a complete mission
    vehicle_N/mission.plan / .waypoints     several vehicles, one sortie each
    vehicle_N/sortie_K.plan / .waypoints    several vehicles and sorties
    preview.geojson, preview.png, summary.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..files import ensure_out_dir, write_json
from ..mission import Mission
from .formats import write_plan, write_waypoints
from .model import SurveyPlan
from .preview import write_preview_geojson, write_preview_png

__all__ = ["write_outputs", "part_relpath"]

LAYOUT_NOTE = ("mission.plan is the whole survey as one mission for one vehicle; when the survey is split, "
               "fly the part files listed in 'files' (each a complete mission: takeoff ... RTL).")


def part_relpath(plan: SurveyPlan, part: Mission) -> str | None:
    """Relative path (without suffix) of a part's files, or None when the plan is not split."""
    n_vehicles = plan.vehicles
    sorties_of_vehicle = len(plan.parts_of_vehicle(part.vehicle))
    if len(plan.parts) == 1:
        return None
    if n_vehicles > 1:
        base = f"vehicle_{part.vehicle + 1}/"
        return base + (f"sortie_{part.sortie + 1}" if sorties_of_vehicle > 1 else "mission")
    return f"sortie_{part.sortie + 1}"


def _remove_stale_parts(out: Path, keep: set[str]) -> None:
    """Delete part files an earlier plan left in this folder, so no one flies a stale sortie."""
    stale = list(out.glob("sortie_*.plan")) + list(out.glob("sortie_*.waypoints"))
    for sub in out.glob("vehicle_*"):
        if sub.is_dir():
            stale += [p for p in sub.iterdir() if p.suffix in (".plan", ".waypoints")
                      and (p.stem == "mission" or p.stem.startswith("sortie_"))]
    for path in stale:
        if path.relative_to(out).as_posix() not in keep:
            path.unlink()
    for sub in out.glob("vehicle_*"):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()


def write_outputs(plan: SurveyPlan, out_dir: str | Path, *, png: bool = True) -> dict[str, Any]:
    """Write every file of the plan; returns the summary (with its ``layout``) also written to summary.json."""
    out = ensure_out_dir(out_dir)
    extra = {"camera": plan.camera.to_dict(), "summary": plan.summary}
    write_plan(plan.mission, out / "mission.plan", extra=extra)
    write_waypoints(plan.mission, out / "mission.waypoints")
    files: list[dict[str, Any]] = [{"path": "mission.plan", "waypoints": "mission.waypoints", "role": "whole survey",
                                    "vehicle": None, "sortie": None, "time_s": plan.summary.get("time_s"),
                                    "photos": plan.summary.get("photo_count")}]
    for part, t in zip(plan.parts, plan.part_times_s):
        rel = part_relpath(plan, part)
        if rel is None:
            continue
        ensure_out_dir((out / rel).parent)
        write_plan(part, out / f"{rel}.plan", extra={"camera": plan.camera.to_dict(), "part_time_s": round(t, 1)})
        write_waypoints(part, out / f"{rel}.waypoints")
        files.append({"path": f"{rel}.plan", "waypoints": f"{rel}.waypoints", "role": "part",
                      "vehicle": part.vehicle + 1, "sortie": part.sortie + 1, "time_s": round(t, 1),
                      "photos": len(part.photos), "legs": [leg.leg for leg in part.legs]})
    _remove_stale_parts(out, {f["path"] for f in files} | {f["waypoints"] for f in files})
    write_preview_geojson(plan, out / "preview.geojson")
    if png:
        write_preview_png(plan, out / "preview.png")
    elif (out / "preview.png").exists():
        (out / "preview.png").unlink()  # an older plan's picture would mislead
    summary = dict(plan.summary)
    summary["layout"] = {"note": LAYOUT_NOTE, "files": files,
                         "preview": ["preview.geojson", "preview.png"] if png else ["preview.geojson"]}
    write_json(out / "summary.json", summary)
    return summary

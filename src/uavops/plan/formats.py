"""Mission files: QGroundControl ``.plan`` and Mission Planner ``QGC WPL 110`` ``.waypoints``.

Both read back into :class:`uavops.mission.Mission`. The ``.plan`` written here is what QGC 4.x
writes for a mission of SimpleItems (every ground station and MAVSDK flies those as they are),
plus a top-level ``"uavops"`` object QGC ignores: planned photos, survey legs, sortie/vehicle,
camera and summary. Reading a ``.plan`` from QGC expands survey/corridor/structure complex items
into their stored ``TransectStyleComplexItem.Items``. Legs and photos are kept only while the
mission items still match the hash stored with them (an edit in QGC invalidates them).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..files import atomic_write
from ..mission import (MAV_CMD, MAV_FRAME, MAV_MISSION_TYPE, HomePosition, Mission, MissionItem, PlannedPhoto,
                       SurveyLeg)

__all__ = ["plan_to_dict", "mission_from_plan_dict", "write_plan", "read_mission", "write_waypoints",
           "read_waypoints", "waypoints_text"]

log = logging.getLogger(__name__)

_ALT_MODE = {MAV_FRAME.GLOBAL_RELATIVE_ALT: 1, MAV_FRAME.GLOBAL_RELATIVE_ALT_INT: 1, MAV_FRAME.GLOBAL: 2,
             MAV_FRAME.GLOBAL_INT: 2, MAV_FRAME.GLOBAL_TERRAIN_ALT: 4, MAV_FRAME.GLOBAL_TERRAIN_ALT_INT: 4}
_FENCE_POLY = {MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION: True, MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION: False}
_POSITIONED = {MAV_CMD.NAV_WAYPOINT, MAV_CMD.NAV_TAKEOFF, MAV_CMD.NAV_LAND, MAV_CMD.NAV_LOITER_TIME,
               MAV_CMD.NAV_LOITER_TURNS, MAV_CMD.NAV_LOITER_UNLIM}
_FENCE_CIRCLE = {MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION: True, MAV_CMD.NAV_FENCE_CIRCLE_EXCLUSION: False}


def _num(v: float) -> float | int | None:
    """JSON number as QGC writes it: NaN → null, integral floats as ints."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    f = float(v)
    return int(f) if f.is_integer() and abs(f) < 1e15 else f


def _item_to_json(item: MissionItem, jump_id: int) -> dict[str, Any]:
    params = [_num(p) for p in item.params]
    out: dict[str, Any] = {}
    if item.is_nav_with_position:
        out["AMSLAltAboveTerrain"] = None
        out["Altitude"] = _num(item.param7)
        out["AltitudeMode"] = _ALT_MODE.get(item.frame, 1)
    out.update({"autoContinue": bool(item.autocontinue), "command": item.command, "doJumpId": jump_id,
                "frame": item.frame, "params": params, "type": "SimpleItem"})
    return out


def _fence_to_json(fence: list[MissionItem]) -> dict[str, Any]:
    polygons: list[dict[str, Any]] = []
    circles: list[dict[str, Any]] = []
    i = 0
    while i < len(fence):
        it = fence[i]
        if it.command in _FENCE_POLY:
            n = max(1, int(round(it.param1)))
            verts = fence[i:i + n]
            polygons.append({"inclusion": _FENCE_POLY[it.command],
                             "polygon": [[v.param5, v.param6] for v in verts], "version": 1})
            i += n
        elif it.command in _FENCE_CIRCLE:
            circles.append({"circle": {"center": [it.param5, it.param6], "radius": it.param1},
                            "inclusion": _FENCE_CIRCLE[it.command], "version": 1})
            i += 1
        else:
            i += 1  # return point etc.: not representable in QGC's geoFence object
    return {"circles": circles, "polygons": polygons, "version": 2}


def _meta(mission: Mission) -> dict[str, Any]:
    return {
        "version": 1,
        "name": mission.name,
        "sortie": mission.sortie,
        "vehicle": mission.vehicle,
        "items_hash": _items_hash(mission),
        "photos": [dict(vars(p)) for p in mission.photos],
        "legs": [dict(vars(leg)) for leg in mission.legs],
    }


def _items_hash(mission: Mission) -> str:
    """Hash of the mission items only (legs/photos refer to these)."""
    return Mission(home=HomePosition(0, 0, 0), items=[_rounded(i) for i in mission.items]).content_hash()


def _rounded(i: MissionItem) -> MissionItem:
    def r(v: float, nd: int) -> float:
        return v if math.isnan(v) else round(v, nd)

    return MissionItem(i.command, i.frame, r(i.param1, 4), r(i.param2, 4), r(i.param3, 4), r(i.param4, 4),
                       r(i.param5, 7), r(i.param6, 7), r(i.param7, 2), i.autocontinue, i.mission_type)


def plan_to_dict(mission: Mission, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The QGC ``.plan`` JSON object for a mission (SimpleItems only)."""
    items = [_item_to_json(it, n + 1) for n, it in enumerate(mission.items)]
    meta = _meta(mission)
    if extra:
        meta.update(extra)
    return {
        "fileType": "Plan",
        "geoFence": _fence_to_json(mission.fence),
        "groundStation": "QGroundControl",
        "mission": {
            "cruiseSpeed": _num(mission.cruise_speed_mps or 15),
            "firmwareType": 3,
            "globalPlanAltitudeMode": 1,
            "hoverSpeed": _num(mission.hover_speed_mps or 5),
            "items": items,
            "plannedHomePosition": [mission.home.lat_deg, mission.home.lon_deg, mission.home.alt_amsl_m],
            "vehicleType": 2,
            "version": 2,
        },
        "rallyPoints": {"points": [[r.param5, r.param6, r.param7] for r in mission.rally], "version": 2},
        "version": 1,
        "uavops": meta,
    }


def write_plan(mission_or_plan: Any, path: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
    """Write a ``.plan`` atomically. Accepts a :class:`Mission` or a ``SurveyPlan`` (its whole mission)."""
    mission = getattr(mission_or_plan, "mission", mission_or_plan)
    if extra is None and hasattr(mission_or_plan, "summary"):
        extra = {"camera": mission_or_plan.camera.to_dict(), "summary": mission_or_plan.summary}
    data = plan_to_dict(mission, extra=extra)
    meta = data.pop("uavops")
    # QGC's own layout (4-space indent, sorted like QGC) for what QGC reads; the uavops block, which can
    # hold tens of thousands of photos, compact on one line (the C encoder: 40 000 photos in ~0.1 s)
    head = json.dumps(data, indent=4, allow_nan=False)
    tail = json.dumps(meta, allow_nan=False, separators=(",", ":"))
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(head[:-2] + ',\n    "uavops": ' + tail + "\n}\n")
    return path


# ----------------------------------------------------------------------------------------------
# reading .plan
# ----------------------------------------------------------------------------------------------
def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def _simple_from_json(obj: dict[str, Any], where: str) -> MissionItem:
    try:
        params = [_f(p) for p in obj["params"]]
        if len(params) != 7:
            raise ValueError("params must have 7 values")
        frame = int(obj.get("frame", MAV_FRAME.GLOBAL_RELATIVE_ALT))
        command = int(obj["command"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{where} has a mission item QGroundControl would not load ({exc}); re-save it in QGC.") from None
    if math.isnan(params[6]) and command in _POSITIONED:
        # QGC's "calculated above terrain" mode (AltitudeMode 3) writes null and keeps the AMSL value apart
        if obj.get("AMSLAltAboveTerrain") is not None:
            params[6] = float(obj["AMSLAltAboveTerrain"])
        elif obj.get("AltitudeMode") == 3:
            raise InputError(f"{where} has a waypoint whose above-terrain altitude QGroundControl has not calculated "
                             "yet; open the plan in QGC with terrain data loaded and save it again.")
        elif obj.get("Altitude") is not None:
            params[6] = float(obj["Altitude"])
    return MissionItem(command=command, frame=frame, param1=params[0], param2=params[1], param3=params[2],
                       param4=params[3], param5=params[4], param6=params[5], param7=params[6],
                       autocontinue=1 if obj.get("autoContinue", True) else 0)


def _items_from_json(objs: list[Any], where: str) -> list[MissionItem]:
    out: list[MissionItem] = []
    for obj in objs:
        if not isinstance(obj, dict):
            raise InputError(f"{where} has a mission item that is not an object; re-save it in QGroundControl.")
        kind = obj.get("type")
        if kind == "SimpleItem":
            out.append(_simple_from_json(obj, where))
        elif kind == "ComplexItem":
            ctype = obj.get("complexItemType", "?")
            inner = (obj.get("TransectStyleComplexItem") or {}).get("Items")
            if inner is None:
                inner = obj.get("Items")
            if inner is None:
                raise InputError(f"{where} has a {ctype} complex item without its expanded items; open and "
                                 "save it again in QGroundControl 4.x, which stores them.")
            out.extend(_items_from_json(inner, where))
        else:
            raise InputError(f"{where} has a mission item of unknown type {kind!r}; re-save it in QGroundControl.")
    return out


def mission_from_plan_dict(data: Any, where: str = "The .plan file") -> Mission:
    if not isinstance(data, dict) or data.get("fileType") != "Plan":
        raise InputError(f"{where} is not a QGroundControl plan (fileType is not \"Plan\").")
    mis = data.get("mission")
    if not isinstance(mis, dict):
        raise InputError(f"{where} has no mission section; save a mission from QGroundControl's Plan view.")
    home_raw = mis.get("plannedHomePosition") or [0, 0, 0]
    try:
        home = HomePosition(lat_deg=float(home_raw[0]), lon_deg=float(home_raw[1]),
                            alt_amsl_m=float(home_raw[2]) if len(home_raw) > 2 and home_raw[2] is not None else 0.0)
    except (TypeError, ValueError, IndexError):
        raise InputError(f"{where} has an unreadable plannedHomePosition; set the home position in QGC.") from None
    items = _items_from_json(mis.get("items") or [], where)
    fence: list[MissionItem] = []
    gf = data.get("geoFence") or {}
    for poly in gf.get("polygons") or []:
        verts = poly.get("polygon") or []
        cmd = (MAV_CMD.NAV_FENCE_POLYGON_VERTEX_INCLUSION if poly.get("inclusion", True)
               else MAV_CMD.NAV_FENCE_POLYGON_VERTEX_EXCLUSION)
        for lat, lon in verts:
            fence.append(MissionItem(cmd, MAV_FRAME.GLOBAL, param1=float(len(verts)), param5=float(lat),
                                     param6=float(lon), mission_type=MAV_MISSION_TYPE.FENCE))
    for circ in gf.get("circles") or []:
        c = circ.get("circle") or {}
        lat, lon = c.get("center", [0, 0])
        cmd = MAV_CMD.NAV_FENCE_CIRCLE_INCLUSION if circ.get("inclusion", True) else MAV_CMD.NAV_FENCE_CIRCLE_EXCLUSION
        fence.append(MissionItem(cmd, MAV_FRAME.GLOBAL, param1=float(c.get("radius", 0)), param5=float(lat),
                                 param6=float(lon), mission_type=MAV_MISSION_TYPE.FENCE))
    if gf.get("breachReturn"):
        br = gf["breachReturn"]
        fence.append(MissionItem(MAV_CMD.NAV_FENCE_RETURN_POINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=float(br[0]),
                                 param6=float(br[1]), param7=float(br[2]) if len(br) > 2 else 0.0,
                                 mission_type=MAV_MISSION_TYPE.FENCE))
    rally = [MissionItem(MAV_CMD.NAV_RALLY_POINT, MAV_FRAME.GLOBAL_RELATIVE_ALT, param5=float(p[0]), param6=float(p[1]),
                         param7=float(p[2]) if len(p) > 2 else 0.0, mission_type=MAV_MISSION_TYPE.RALLY)
             for p in (data.get("rallyPoints") or {}).get("points") or []]
    mission = Mission(home=home, items=items, fence=fence, rally=rally,
                      cruise_speed_mps=_opt(mis.get("cruiseSpeed")), hover_speed_mps=_opt(mis.get("hoverSpeed")))
    meta = data.get("uavops")
    if isinstance(meta, dict):
        mission.name = str(meta.get("name", mission.name))
        mission.sortie = int(meta.get("sortie", 0))
        mission.vehicle = int(meta.get("vehicle", 0))
        if meta.get("items_hash") == _items_hash(mission):
            mission.photos = [PlannedPhoto(**p) for p in meta.get("photos") or []]
            mission.legs = [SurveyLeg(**leg) for leg in meta.get("legs") or []]
        elif meta.get("legs") or meta.get("photos"):
            log.warning("%s was edited after uavops planned it; its survey legs and photo list were dropped.", where)
    return mission


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)


def read_mission(path: str | Path) -> Mission:
    """Read a QGC ``.plan`` or a Mission Planner/QGC ``.waypoints`` (``QGC WPL 110``) file.

    Raises
    ------
    InputError
        Missing file, or not a mission file this reader understands.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"The mission file {path} does not exist; check the path.") from None
    except IsADirectoryError:
        raise InputError(f"The mission file {path} is a folder; name the .plan or .waypoints file inside it.") from None
    except UnicodeDecodeError:
        raise InputError(f"The mission file {path} is not text; give a .plan or .waypoints file.") from None
    if text.lstrip().startswith("QGC WPL"):
        return _parse_waypoints(text, f"The mission file {path.name}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"The mission file {path} is neither a .plan (JSON: {exc.msg}) nor a QGC WPL "
                         ".waypoints file.") from None
    mission = mission_from_plan_dict(data, f"The mission file {path.name}")
    if mission.name == "mission":
        mission.name = path.stem
    return mission


# ----------------------------------------------------------------------------------------------
# .waypoints
# ----------------------------------------------------------------------------------------------
def _p(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    return f"{v:.8f}"


def waypoints_text(mission: Mission) -> str:
    """``QGC WPL 110`` text: row 0 = home, 12 tab-separated columns, lat/lon with 8 decimals."""
    lines = ["QGC WPL 110"]
    for seq, it in enumerate(mission.wire_items()):
        current = 1 if seq == 0 else 0
        lines.append("\t".join([str(seq), str(current), str(it.frame), str(it.command), _p(it.param1), _p(it.param2),
                                _p(it.param3), _p(it.param4), _p(it.param5), _p(it.param6),
                                "NaN" if math.isnan(it.param7) else f"{it.param7:.6f}", str(int(it.autocontinue))]))
    return "\r\n".join(lines) + "\r\n"


def write_waypoints(mission_or_plan: Any, path: str | Path) -> Path:
    """Write a Mission Planner ``.waypoints`` file atomically (mission items only; MP keeps fences apart)."""
    mission = getattr(mission_or_plan, "mission", mission_or_plan)
    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(waypoints_text(mission))
    return path


def _parse_waypoints(text: str, where: str) -> Mission:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = lines[0].split()
    if len(header) < 3 or header[2] not in ("110", "120"):
        raise InputError(f"{where} has an unsupported header {lines[0]!r}; expected 'QGC WPL 110'.")
    rows: list[MissionItem] = []
    for n, line in enumerate(lines[1:], start=2):
        cols = line.split("\t") if "\t" in line else line.split()
        if len(cols) != 12:
            raise InputError(f"{where} line {n} has {len(cols)} columns, not 12; it is not a QGC WPL 110 file.")
        try:
            frame, command = int(cols[2]), int(cols[3])
            p = [float(c) for c in cols[4:11]]
            auto = int(float(cols[11]))
        except ValueError:
            raise InputError(f"{where} line {n} has a value that is not a number.") from None
        rows.append(MissionItem(command=command, frame=frame, param1=p[0], param2=p[1], param3=p[2], param4=p[3],
                                param5=p[4], param6=p[5], param7=p[6], autocontinue=auto))
    if not rows:
        return Mission(home=HomePosition(0.0, 0.0, 0.0))
    h = rows[0]
    home = HomePosition(lat_deg=h.param5, lon_deg=h.param6, alt_amsl_m=h.param7)
    return Mission(home=home, items=rows[1:])


def read_waypoints(path: str | Path) -> Mission:
    return read_mission(path)


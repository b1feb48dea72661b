"""Missions for the rest of a survey (``--resume``) and for its gaps (``--refly-gaps``).

Resume starts at the first survey leg that was not completed. If photos of that leg were
already taken, the leg starts at the last one (one photo of overlap: the camera trigger
fires again there) instead of at the leg's start, so nothing is flown twice needlessly and
nothing is skipped. Takeoff and set-up items (speed) of the plan are kept in front.
Refly-gaps visits only the planned photo points that have no capture: a waypoint and a
DO_DIGICAM_CONTROL at each, in nearest-neighbour order from home, then RTL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import InputError
from ..mission import MAV_CMD, MAV_FRAME, Mission, MissionItem, PlannedPhoto, SurveyLeg
from .records import Capture, _dist_m, build_ledger

__all__ = ["ResumePoint", "build_resume_mission", "build_gap_mission", "leg_of_seq"]


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed mission starts in the original plan."""

    leg: int | None
    from_photo_id: int | None
    plan_seq: int
    skipped_legs: int


def _prefix(plan: Mission, first_seq: int) -> list[MissionItem]:
    """Plan items before ``first_seq`` that set the vehicle up (takeoff, speed, camera settings)."""
    out = []
    for it in plan.wire_items()[1:first_seq]:
        if it.command == MAV_CMD.NAV_TAKEOFF or not it.is_nav_with_position:
            if it.command not in (MAV_CMD.DO_SET_CAM_TRIGG_DIST, MAV_CMD.DO_DIGICAM_CONTROL):
                out.append(it)
    if not any(it.command == MAV_CMD.NAV_TAKEOFF for it in out):
        alt = next((it.param7 for it in plan.items if it.is_nav_with_position), 30.0)
        out.insert(0, MissionItem(MAV_CMD.NAV_TAKEOFF, MAV_FRAME.GLOBAL_RELATIVE_ALT, param7=alt))
    return out


def _extend(a: MissionItem, b: MissionItem, extra_m: float) -> MissionItem:
    """``b`` moved ``extra_m`` further along the direction a→b."""
    d = _dist_m(a.param5, a.param6, b.param5, b.param6)
    if d < 1e-3 or extra_m <= 0:
        return b
    k = extra_m / d
    return replace(b, param5=b.param5 + (b.param5 - a.param5) * k, param6=b.param6 + (b.param6 - a.param6) * k)


def leg_of_seq(legs: list[SurveyLeg], seq: int) -> SurveyLeg | None:
    for leg in legs:
        if leg.start_seq <= seq <= leg.end_seq:
            return leg
    return None


def build_resume_mission(plan: Mission, completed_legs: set[int], captures: list[Capture], *,
                         resume_seq: int | None = None) -> tuple[Mission, ResumePoint]:
    """The remaining mission (wire seq renumbered; legs and photos carried over).

    ``resume_seq`` is used for plans without survey legs (e.g. a hand-made .waypoints): the
    mission restarts at that plan item.
    """
    wire = plan.wire_items()
    if not plan.legs:
        seq = max(1, resume_seq or 1)
        first_nav = next((i for i, it in enumerate(wire) if i >= 1 and it.command != MAV_CMD.NAV_TAKEOFF
                          and it.is_nav_with_position), 1)
        seq = max(seq, first_nav)
        prefix = _prefix(plan, first_nav)
        items = prefix + wire[seq:]
        return (Mission(home=plan.home, items=items, fence=plan.fence, rally=plan.rally,
                        cruise_speed_mps=plan.cruise_speed_mps, sortie=plan.sortie, vehicle=plan.vehicle,
                        name=f"{plan.name} (resumed)"), ResumePoint(None, None, seq, 0))
    legs = sorted(plan.legs, key=lambda lg: lg.start_seq)
    remaining = [lg for lg in legs if lg.leg not in completed_legs]
    if not remaining:
        raise InputError("Every survey leg of this flight is already complete; use --refly-gaps for missing photos.")
    first = remaining[0]
    prefix = _prefix(plan, legs[0].start_seq)
    # one photo of overlap: start at the last photo taken on the interrupted leg
    leg_photos = sorted((p for p in plan.photos if p.leg == first.leg), key=lambda p: p.photo_id)
    ledger = build_ledger(leg_photos, captures) if leg_photos else None
    taken_ids = {p.photo_id for p in leg_photos} - {p.photo_id for p in (ledger.missing if ledger else [])}
    start_item = wire[first.start_seq]
    from_photo: PlannedPhoto | None = None
    if taken_ids:
        # the last photo of the leading run of taken photos (a later gap must still be flown)
        for p in leg_photos:
            if p.photo_id in taken_ids:
                from_photo = p
            else:
                break
    if from_photo is not None:
        start_item = replace(start_item, param5=from_photo.lat_deg, param6=from_photo.lon_deg)
    rest = wire[first.start_seq + 1:]
    # Run-out: a resumed leg starts where the vehicle was accepted at its first waypoint (up to
    # WPNAV_RADIUS late), which shifts the whole distance-trigger train; extending the leg's last
    # waypoint by half a photo spacing keeps its last planned photo inside the triggered stretch.
    end_idx = max((i for i, it in enumerate(rest, first.start_seq + 1)
                   if i <= first.end_seq and it.is_nav_with_position), default=None)
    end_item = None
    if end_idx is not None and len(leg_photos) >= 2:
        spacing = _dist_m(leg_photos[0].lat_deg, leg_photos[0].lon_deg, leg_photos[1].lat_deg, leg_photos[1].lon_deg)
        end_item = _extend(start_item, wire[end_idx], 0.5 * spacing)
        rest = list(rest)
        rest[end_idx - first.start_seq - 1] = end_item
    items = prefix + [start_item] + rest
    shift = len(prefix) + 1 - first.start_seq
    new_legs = []
    for lg in legs:
        if lg.start_seq < first.start_seq:
            continue
        nl = replace(lg, start_seq=lg.start_seq + shift, end_seq=lg.end_seq + shift)
        if lg.leg == first.leg:
            nl = replace(nl, start_lat_deg=start_item.param5, start_lon_deg=start_item.param6)
            if end_item is not None:
                nl = replace(nl, end_lat_deg=end_item.param5, end_lon_deg=end_item.param6)
        new_legs.append(nl)
    kept_legs = {lg.leg for lg in new_legs}
    photos = [p for p in plan.photos if p.leg in kept_legs
              and not (p.leg == first.leg and from_photo is not None and p.photo_id < from_photo.photo_id)]
    mission = Mission(home=plan.home, items=items, fence=plan.fence, rally=plan.rally, photos=photos, legs=new_legs,
                      cruise_speed_mps=plan.cruise_speed_mps, hover_speed_mps=plan.hover_speed_mps,
                      sortie=plan.sortie, vehicle=plan.vehicle, name=f"{plan.name} (resumed)")
    return mission, ResumePoint(first.leg, from_photo.photo_id if from_photo else None, first.start_seq,
                                len(legs) - len(remaining))


def build_gap_mission(plan: Mission, missing: list[PlannedPhoto], *, hold_s: float = 1.0) -> Mission:
    """A mission over only the ``missing`` photo points (each its own one-photo leg)."""
    if not missing:
        raise InputError("The coverage ledger lists no missing photos; there are no gaps to fly.")
    survey_wp = next((it for it in plan.items if it.command == MAV_CMD.NAV_WAYPOINT and it.is_nav_with_position), None)
    frame = survey_wp.frame if survey_wp is not None else MAV_FRAME.GLOBAL_RELATIVE_ALT
    first_leg_seq = min((lg.start_seq for lg in plan.legs), default=len(plan.wire_items()))
    items = _prefix(plan, first_leg_seq)
    # nearest neighbour from home
    todo = list(missing)
    lat, lon = plan.home.lat_deg, plan.home.lon_deg
    order: list[PlannedPhoto] = []
    while todo:
        nxt = min(todo, key=lambda p: _dist_m(lat, lon, p.lat_deg, p.lon_deg))
        todo.remove(nxt)
        order.append(nxt)
        lat, lon = nxt.lat_deg, nxt.lon_deg
    legs, photos = [], []
    for n, p in enumerate(order):
        seq = len(items) + 1
        items.append(MissionItem(MAV_CMD.NAV_WAYPOINT, frame, param1=hold_s, param5=p.lat_deg, param6=p.lon_deg,
                                 param7=p.alt_m))
        items.append(MissionItem(MAV_CMD.DO_DIGICAM_CONTROL, MAV_FRAME.MISSION, param5=1.0))
        legs.append(SurveyLeg(leg=-(p.photo_id + 1), start_seq=seq, end_seq=seq + 1, start_lat_deg=p.lat_deg,
                              start_lon_deg=p.lon_deg, end_lat_deg=p.lat_deg, end_lon_deg=p.lon_deg,
                              sortie=p.sortie, vehicle=p.vehicle))
        photos.append(p)
    items.append(MissionItem(MAV_CMD.NAV_RETURN_TO_LAUNCH, MAV_FRAME.MISSION))
    if any(math.isnan(v) for it in items for v in (it.param5, it.param6)):
        raise InputError("A missing photo has no position; the ledger is damaged.")
    return Mission(home=plan.home, items=items, fence=plan.fence, rally=plan.rally, photos=photos, legs=legs,
                   cruise_speed_mps=plan.cruise_speed_mps, sortie=plan.sortie, vehicle=plan.vehicle,
                   name=f"{plan.name} (gaps)")

"""Event extents delineated as an analyst maps them, and building grades burnt into the package map."""

from __future__ import annotations

import numpy as np

from uavops.damage.delineation import (
    EXTENT_BRIDGE_M,
    EXTENT_CLASS,
    EXTENT_MAX_HOLE_M2,
    EXTENT_MIN_PART_M2,
    bridge_m_for_event,
    burn_building_grades,
    delineate_extent,
    package_classes,
)
from uavops.damage.inputs import WorkGrid

GSD_M = 0.2


def _grid(h: int, w: int) -> WorkGrid:
    return WorkGrid(width=w, height=h, scale=4.0, full_width=4 * w, full_height=4 * h,
                    gsd_m=GSD_M, native_gsd_m=0.05)


def _scar(h: int = 600, w: int = 600) -> np.ndarray:
    """A square burn scar (rows/cols 100-500) on a 20 cm grid, all valid."""
    classes = np.zeros((h, w), np.uint8)
    classes[100:500, 100:500] = EXTENT_CLASS
    return classes


def test_small_enclosed_holes_join_the_extent_and_large_ones_stay_out():
    classes = _scar()
    classes[200:215, 200:215] = 0        # a tree crown standing in the water: 3 m x 3 m = 9 m2
    classes[300:420, 300:420] = 0        # a dry compound: 24 m x 24 m = 576 m2 > 400 m2
    valid = np.ones(classes.shape, bool)
    added = delineate_extent(classes, valid, _grid(*classes.shape))
    assert (classes[200:215, 200:215] == EXTENT_CLASS).all()
    assert (classes[305:415, 305:415] == 0).all(), "a hole larger than a house plot was filled"
    assert added[200:215, 200:215].all() and added.sum() < 15 * 15 + 4 * 120 * 6


def test_the_hole_size_limit_is_in_square_metres():
    side_px = int(np.sqrt(EXTENT_MAX_HOLE_M2) / GSD_M)      # 100 px = 20 m: exactly at the limit
    for side, filled in ((side_px - 2, True), (side_px + 6, False)):
        classes = _scar()
        classes[150:150 + side, 150:150 + side] = 0
        delineate_extent(classes, np.ones(classes.shape, bool), _grid(*classes.shape), close_m=0.0)
        inner = classes[152:148 + side, 152:148 + side]
        assert (inner == EXTENT_CLASS).all() == filled, f"{side * GSD_M:.1f} m hole"


def test_narrow_gaps_are_bridged_but_without_an_event_a_street_is_not():
    classes = _scar()
    classes[100:500, 250:254] = 0        # a 0.8 m crack through the scar: bridged
    classes[100:500, 350:390] = 0        # an 8 m street crossing the whole scar: open at both ends, stays out
    delineate_extent(classes, np.ones(classes.shape, bool), _grid(*classes.shape))
    assert (classes[110:490, 250:254] == EXTENT_CLASS).all()
    assert (classes[110:490, 360:380] == 0).all()


def test_a_street_crossing_a_burn_scar_or_a_flow_is_inside_its_extent():
    """Continuous events: the scar's two halves either side of a street are one mapped area."""
    for event in ("fire", "mudflow", "tailings_dam_failure"):
        classes = _scar()
        classes[100:500, 350:410] = 0    # a 12 m street with its pavements crossing the whole scar
        added = delineate_extent(classes, np.ones(classes.shape, bool), _grid(*classes.shape),
                                 bridge_m=bridge_m_for_event(event))
        # (where the street leaves the scar, a disc closing leaves the mouth's corners rounded: about 2 m)
        assert (classes[110:490, 350:410] == EXTENT_CLASS).all(), event
        # ... and nothing is invented outside the scar's perimeter (its straight edges, its corners)
        assert not added[:100, :].any() and not added[500:, :].any() and not added[:, 410:].any()
        assert not added[:, :350].any() and added.sum() > 0.97 * 400 * 60


def test_debris_and_flood_water_are_not_bridged():
    for event in ("earthquake", "flood", "other", None):
        assert bridge_m_for_event(event) == 0.0
        classes = _scar()
        classes[100:500, 350:410] = 0
        delineate_extent(classes, np.ones(classes.shape, bool), _grid(*classes.shape),
                         bridge_m=bridge_m_for_event(event))
        assert (classes[110:490, 360:400] == 0).all(), event


def test_small_parts_are_not_bridged_and_wide_gaps_stay_open():
    """Scattered false alarms (< 200 m²) are never joined; neither are parts a block apart."""
    classes = np.zeros((600, 900), np.uint8)
    classes[100:150, 100:150] = EXTENT_CLASS       # 10 m x 10 m = 100 m² each, 10 m apart
    classes[100:150, 200:250] = EXTENT_CLASS
    classes[300:500, 100:300] = EXTENT_CLASS       # two 40 m x 40 m parts 40 m apart
    classes[300:500, 500:700] = EXTENT_CLASS
    # (no minimum mapping unit here, so the small parts stay and only the bridging is tested)
    delineate_extent(classes, np.ones(classes.shape, bool), _grid(*classes.shape), bridge_m=EXTENT_BRIDGE_M,
                     min_part_m2=0.0)
    assert (classes[100:150, 100:150] == EXTENT_CLASS).all() and (classes[100:150, 200:250] == EXTENT_CLASS).all()
    assert (classes[110:140, 160:190] == 0).all(), "two small false alarms were merged"
    assert (classes[350:450, 320:480] == 0).all(), "a 40 m gap was bridged"


def test_bridging_stops_at_no_data_and_grades():
    classes = _scar()
    classes[100:500, 350:410] = 0
    classes[200:220, 360:380] = 2                  # a damaged building standing in the street
    valid = np.ones(classes.shape, bool)
    valid[400:500, 350:410] = False                # part of the street outside the mosaic's coverage
    delineate_extent(classes, valid, _grid(*classes.shape), bridge_m=EXTENT_BRIDGE_M)
    assert (classes[200:220, 360:380] == 2).all()
    assert (classes[400:500, 350:410] == 0).all()
    assert (classes[110:200, 350:410] == EXTENT_CLASS).all()


def test_package_classes_bridges_for_the_named_event_only():
    classes = _scar()
    classes[100:500, 350:410] = 0
    valid = np.ones(classes.shape, bool)
    fire = package_classes(classes, valid, _grid(*classes.shape), event="fire")
    quake = package_classes(classes, valid, _grid(*classes.shape), event="earthquake")
    assert (fire[110:490, 350:410] == EXTENT_CLASS).all() and (quake[110:490, 360:400] == 0).all()


def test_extent_parts_below_the_minimum_mapping_unit_are_not_mapped():
    side_px = int(np.sqrt(EXTENT_MIN_PART_M2) / GSD_M)   # 70 px = 14 m: at the limit
    classes = _scar()
    classes[20:40, 20:40] = EXTENT_CLASS                 # a 4 m x 4 m "puddle": 16 m²
    classes[520:520 + side_px + 2, 20:20 + side_px + 2] = EXTENT_CLASS   # just over 200 m²
    classes[30:40, 540:550] = 1                          # a damaged building's pixels are never dropped
    added = delineate_extent(classes, np.ones(classes.shape, bool), _grid(*classes.shape))
    assert (classes[20:40, 20:40] == 0).all()
    assert (classes[520:520 + side_px + 2, 20:20 + side_px + 2] == EXTENT_CLASS).all()
    assert (classes[100:500, 100:500] == EXTENT_CLASS).all() and (classes[30:40, 540:550] == 1).all()
    assert not added[20:40, 20:40].any()


def test_a_pixel_grid_keeps_every_extent_part():
    """No ground pixel size (plain PNG pair): a 200 m² unit has no size in pixels, nothing is dropped."""
    classes = np.zeros((100, 100), np.uint8)
    classes[10:20, 10:20] = EXTENT_CLASS
    delineate_extent(classes, np.ones(classes.shape, bool), None)
    assert (classes[10:20, 10:20] == EXTENT_CLASS).all()


def test_holes_touching_the_image_edge_are_not_holes():
    classes = np.zeros((300, 300), np.uint8)
    classes[:, :] = EXTENT_CLASS
    classes[0:20, 100:120] = 0           # open to the edge: outside the picture it may go on
    delineate_extent(classes, np.ones(classes.shape, bool), _grid(*classes.shape), close_m=0.0)
    assert (classes[0:20, 100:120] == 0).all()


def test_damage_grades_and_no_data_are_never_overwritten():
    classes = _scar()
    classes[200:210, 200:210] = 2        # a damaged building's pixels inside the scar
    classes[220:230, 220:230] = 0
    valid = np.ones(classes.shape, bool)
    valid[220:230, 220:230] = False      # outside the mosaic's coverage
    delineate_extent(classes, valid, _grid(*classes.shape))
    assert (classes[200:210, 200:210] == 2).all()
    assert (classes[220:230, 220:230] == 0).all()


def test_without_extent_nothing_changes():
    classes = np.zeros((200, 200), np.uint8)
    classes[50:60, 50:60] = 3
    before = classes.copy()
    added = delineate_extent(classes, np.ones(classes.shape, bool), None)
    assert not added.any() and (classes == before).all()


def test_pixel_grid_uses_the_default_working_pixel():
    """No GSD (plain PNG pair): the same sizes as at the default 20 cm working pixel."""
    classes = _scar()
    classes[200:215, 200:215] = 0
    classes[300:420, 300:420] = 0
    delineate_extent(classes, np.ones(classes.shape, bool), None)
    assert (classes[200:215, 200:215] == EXTENT_CLASS).all() and (classes[305:415, 305:415] == 0).all()


def test_package_classes_burns_building_grades_over_the_delineated_extent():
    classes = _scar()
    classes[200:215, 200:215] = 0        # an intact house inside the flood: the hole is filled ...
    grades = np.full(classes.shape, 255, np.uint8)
    grades[200:215, 200:215] = 0         # ... but the grader says "No visible damage" for its footprint
    grades[400:420, 400:420] = 1
    valid = np.ones(classes.shape, bool)
    out = package_classes(classes, valid, _grid(*classes.shape), grades)
    assert (out[200:215, 200:215] == 0).all() and (out[400:420, 400:420] == 1).all()
    assert (classes[400:420, 400:420] == EXTENT_CLASS).all(), "the input map must not be modified"
    burn_building_grades(classes, valid, grades)
    assert (classes[200:215, 200:215] == 0).all()

"""From the network's pixel classes to the map the package holds (``damage.tif``, event extents).

Why a separate step: rapid-mapping analysts (Copernicus EMS, UNOSAT) do not delineate an event
extent pixel by pixel. A burn scar is mapped as one area, including the unburnt pavements and yards
inside it; a flood extent includes the tree crowns that stand above the water; a mudflow extent
includes the boulders lying in the mud. A pixel detector sees none of those as changed, because they
are not. So, as an analyst would, the extent is closed across gaps up to about 2 m and its enclosed
holes up to a house plot (400 m²) are filled. Larger enclosed areas (a dry block inside a flood, an
unburnt compound) stay out, and so does a street that crosses the whole extent: it is not enclosed,
and bridging 10-20 m would swallow the ground between debris heaps and the bays of an extent's
edge (on the validation scenes every closing wider than 1 m lowered change F1).

One exception, by event: a burn scar, a mudflow or a tailings flow is one continuous area, and an
analyst draws its perimeter across the streets that cut it (the asphalt did not burn, the mud ran
under the cars, but the street is inside the affected area). For those events the large parts of the
extent (≥ 200 m², so scattered false alarms are never merged) are joined across gaps up to about
24 m: a street with its pavements. Earthquake debris heaps and flood water are left as they are:
bridging them lowered change F1 on the validation scenes, bridging the continuous events raised it
(0.925 → 0.936 overall; fire 0.774 → 0.835, tailings 0.787 → 0.837).

Last, a minimum mapping unit: extent parts smaller than 200 m² (a 14 m square) are not mapped. Rapid
mapping products carry one for the same reason: at 20 cm a moved car's shadow, a wet patch or a
sheet of plastic is a few m² of "water" or "mud", and the coordination mechanism needs the areas, not
the specks (validation change F1 0.936 → 0.950; no event lost any). It needs a ground pixel size, so a
plain image pair (pixel grid) keeps every part.

With footprints, a building's pixels then carry the grade the grader gave the whole building. That
grade is the assessment the package reports, so the raster must agree with it.
"""

from __future__ import annotations

import cv2
import numpy as np

from .inputs import DEFAULT_WORK_GSD_M, WorkGrid
from .model import EXTENT_CLASS

__all__ = ["BRIDGE_MIN_PART_M2", "CONTINUOUS_EXTENT_EVENTS", "EXTENT_BRIDGE_M", "EXTENT_CLASS", "EXTENT_CLOSE_M",
           "EXTENT_MAX_HOLE_M2", "EXTENT_MIN_PART_M2", "EXTENT_MIN_PART_M2_BY_EVENT", "bridge_m_for_event",
           "burn_building_grades", "delineate_extent", "delineate_extent_for_event", "min_part_m2_for_event",
           "package_classes"]

#: Gaps narrower than about twice this are bridged (chosen on the validation seeds among 0-8 m).
EXTENT_CLOSE_M = 1.0
#: Enclosed holes up to this area join the extent (chosen on the validation seeds among 100 m² to all).
EXTENT_MAX_HOLE_M2 = 400.0
#: Events whose extent is one continuous area, mapped across the streets that cross it.
CONTINUOUS_EXTENT_EVENTS = frozenset({"fire", "mudflow", "tailings_dam_failure", "landslide", "industrial"})
#: For those, gaps narrower than about twice this between large parts are bridged (validation plateau 10-20 m).
EXTENT_BRIDGE_M = 12.0
#: Only parts at least this large are bridged (validation: 100 m² merges false alarms, 400 m² misses flow pieces).
BRIDGE_MIN_PART_M2 = 200.0
#: Minimum mapping unit of an event extent part (validation: 100 m² 0.949, 200 m² 0.950, 250-2000 m² 0.950).
EXTENT_MIN_PART_M2 = 200.0
#: Events whose extent comes in smaller parts. Earthquake debris is the rubble around one collapsed house,
#: a few tens of m², and at 200 m² most of it went. Change F1 of the delineated map on the four validation
#: earthquake scenes (both validation sets, field conditions), mean for network 1.5 / network 1.0:
#: 200 m² 0.545 / 0.638, 100 m² 0.634 / 0.644, 50 m² 0.668 / 0.654, 25 m² 0.707 / 0.700, none 0.707 / 0.689.
EXTENT_MIN_PART_M2_BY_EVENT: dict[str, float] = {"earthquake": 25.0}


def bridge_m_for_event(event: str | None) -> float:
    """How far apart two large parts of an extent may lie and still be mapped as one area, for ``event``."""
    return EXTENT_BRIDGE_M if event in CONTINUOUS_EXTENT_EVENTS else 0.0


def min_part_m2_for_event(event: str | None) -> float:
    """The smallest extent part mapped for ``event`` (EXTENT_MIN_PART_M2_BY_EVENT, else EXTENT_MIN_PART_M2)."""
    return EXTENT_MIN_PART_M2_BY_EVENT.get(event or "", EXTENT_MIN_PART_M2)


def delineate_extent(classes: np.ndarray, valid: np.ndarray, grid: WorkGrid | None = None,
                     close_m: float = EXTENT_CLOSE_M, max_hole_m2: float = EXTENT_MAX_HOLE_M2,
                     bridge_m: float = 0.0, bridge_min_part_m2: float = BRIDGE_MIN_PART_M2,
                     min_part_m2: float = EXTENT_MIN_PART_M2) -> np.ndarray:
    """Mark as event extent the unchanged pixels an analyst would map with it; returns what was added.

    ``classes`` is modified in place. Only "no change" pixels inside the image's coverage are added:
    a pixel the detector graded as building damage keeps its grade. ``bridge_m`` (see
    :func:`bridge_m_for_event`) joins large parts of the extent across streets; 0 leaves them apart.
    Extent parts smaller than ``min_part_m2`` become "no change" when the grid has a ground pixel size.
    """
    known_gsd_m = grid.gsd_m if grid is not None and grid.gsd_m else None
    gsd_m = known_gsd_m or DEFAULT_WORK_GSD_M
    extent = (classes == EXTENT_CLASS).astype(np.uint8)
    if not extent.any():
        return np.zeros(classes.shape, bool)
    r = round(close_m / gsd_m)
    if r > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        # replicate the border so the closing neither eats nor invents extent along the image edge
        padded = cv2.copyMakeBorder(extent, r, r, r, r, cv2.BORDER_REPLICATE)
        extent = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, k)[r:-r, r:-r]
    max_hole_px = int(max_hole_m2 / (gsd_m * gsd_m))
    if max_hole_px > 0:
        # holes: 4-connected background components that do not touch the image border
        _n, labels, stats, _ = cv2.connectedComponentsWithStats((extent == 0).astype(np.uint8), connectivity=4)
        h, w = extent.shape
        x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
        fill = (stats[:, cv2.CC_STAT_AREA] <= max_hole_px) & (x0 > 0) & (y0 > 0) & (x1 < w) & (y1 < h)
        fill[0] = False  # label 0 is the extent itself
        if fill.any():
            extent[fill[labels] & (extent == 0)] = 1
    if bridge_m > 0:
        _bridge_large_parts(extent, bridge_m / gsd_m, int(bridge_min_part_m2 / (gsd_m * gsd_m)))
    added = (extent > 0) & (classes == 0) & valid
    classes[added] = EXTENT_CLASS
    if known_gsd_m and min_part_m2 > 0:
        dropped = _small_parts(classes == EXTENT_CLASS, int(min_part_m2 / (known_gsd_m * known_gsd_m)))
        classes[dropped] = 0
        added &= ~dropped
    return added


def _small_parts(mask: np.ndarray, min_px: int) -> np.ndarray:
    """Pixels of the 8-connected parts of ``mask`` smaller than ``min_px``."""
    _n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    small = stats[:, cv2.CC_STAT_AREA] < min_px
    small[0] = False  # label 0 is the background
    return small[labels] if small.any() else np.zeros(mask.shape, bool)


def _bridge_large_parts(extent: np.ndarray, r_px: float, min_part_px: int) -> None:
    """Close the union of the extent's large parts with a disc of radius ``r_px``, in place.

    Done with two distance transforms (dilate, then erode) on the parts' bounding box: their cost does not
    grow with the radius, where a 121 px structuring element takes over 11 s on a 10 000 px square image.
    """
    # a single large part is closed too: a street that cuts into it from one side is inside its perimeter
    _n, labels, stats, _ = cv2.connectedComponentsWithStats(extent, connectivity=8)
    large = stats[:, cv2.CC_STAT_AREA] >= max(min_part_px, 1)
    large[0] = False  # label 0 is the background
    if not large.any():
        return
    h, w = extent.shape
    m = int(np.ceil(r_px)) + 2
    x0 = max(int(stats[large, cv2.CC_STAT_LEFT].min()) - m, 0)
    y0 = max(int(stats[large, cv2.CC_STAT_TOP].min()) - m, 0)
    x1 = min(int((stats[large, cv2.CC_STAT_LEFT] + stats[large, cv2.CC_STAT_WIDTH]).max()) + m, w)
    y1 = min(int((stats[large, cv2.CC_STAT_TOP] + stats[large, cv2.CC_STAT_HEIGHT]).max()) + m, h)
    parts = large[labels[y0:y1, x0:x1]]
    # dilation: within r of a part; erosion of that: farther than r from anything outside it. Beyond the
    # image edge counts as inside, so the closing neither eats nor invents extent along the edge.
    near = cv2.distanceTransform((~parts).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5) <= r_px
    closed = cv2.distanceTransform(near.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5) > r_px
    extent[y0:y1, x0:x1][closed] = 1


def burn_building_grades(classes: np.ndarray, valid: np.ndarray, grade_raster: np.ndarray) -> None:
    """Give each building's pixels its grade (``grade_raster``: 0..3, 255 outside buildings), in place."""
    inside = (grade_raster != 255) & valid
    classes[inside] = grade_raster[inside]


def delineate_extent_for_event(classes: np.ndarray, valid: np.ndarray, grid: WorkGrid | None,
                               event: str | None) -> np.ndarray:
    """:func:`delineate_extent` (in place) with ``event``'s bridging (:func:`bridge_m_for_event`) and
    smallest part (:func:`min_part_m2_for_event`): the one place that turns an event into delineation
    settings, for the pipeline and for :func:`package_classes`."""
    return delineate_extent(classes, valid, grid, bridge_m=bridge_m_for_event(event),
                            min_part_m2=min_part_m2_for_event(event))


def package_classes(classes: np.ndarray, valid: np.ndarray, grid: WorkGrid | None,
                    building_grades: np.ndarray | None = None, event: str | None = None) -> np.ndarray:
    """The class map ``damage.tif`` holds: extents delineated, then building grades burnt in (a copy).

    ``building_grades`` is the raster from :func:`uavops.damage.buildings.burn_grades` (or None);
    ``event`` sets the delineation (:func:`delineate_extent_for_event`).
    """
    out = classes.copy()
    delineate_extent_for_event(out, valid, grid, event)
    if building_grades is not None:
        burn_building_grades(out, valid, building_grades)
    return out

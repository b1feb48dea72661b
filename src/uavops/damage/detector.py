"""Change detection on the working grid: co-register, compute cues tile by tile, run the model.

Tiles (default 768 working px plus a margin of context: what the cues and the network see around a
pixel, 48 px for the 1.x models' network, 94 px for the 2.x recipe's) bound the memory: only one tile's
cue stack (21 float32 planes) exists at a time; the full-grid outputs are one uint8 class plane and
uint8 probability planes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..progress import progress_bar
from .coreg import Registration, coregister
from .cues import (
    CUE_NAMES,
    MARGIN_PX,
    ColourMatch,
    Sharpness,
    colour_match,
    compute_cues,
    match_sharpness,
)
from .inputs import ImagePair
from .model import CLASS_NAMES, ChangeModel, load_model

__all__ = ["ChangeMap", "detect_changes", "decide_classes", "iter_tiles", "GRADE_CUES"]

#: Cues kept (uint8, value / scale x 255) for per-building grading: (name, scale, use absolute value).
GRADE_CUES: tuple[tuple[str, float, bool], ...] = (
    ("d_intensity", 0.5, False), ("d_chroma", 0.3, False), ("d_structure", 1.0, False), ("d_texture", 1.5, True),
    ("d_edges", 0.5, True), ("post_rubble", 1.0, False), ("post_burn", 1.0, False), ("post_mud", 1.0, False),
    ("post_water", 1.0, False), ("shadow_any", 1.0, False),
)


@dataclass
class ChangeMap:
    """Result on the working grid. ``probs`` are uint8 (0..255) per class of :data:`CLASS_NAMES`."""

    classes: np.ndarray                 # (H, W) uint8 class index
    probs: np.ndarray                   # (K, H, W) uint8
    valid: np.ndarray                   # (H, W) bool, post image has data
    compared: np.ndarray                # (H, W) bool, a pre image was available here
    registration: Registration | None
    colour: ColourMatch | None
    model_version: str
    single_image_indices: np.ndarray | None = None   # (4, H, W) uint8: water, mud, burn, rubble (post)
    pre_registered: np.ndarray | None = None          # (H, W, 3) uint8 pre image on the post grid
    new_spots: np.ndarray | None = None               # (H, W) uint8, cues.new_dark_spots x 255 (0 where not compared)
    cue_planes: np.ndarray | None = None              # (len(GRADE_CUES), H, W) uint8, see GRADE_CUES
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> np.ndarray:
        """Probability of any damage (grades 1-3) or event extent, uint8."""
        return (255 - self.probs[0]).astype(np.uint8)


def iter_tiles(h: int, w: int, tile: int) -> list[tuple[int, int, int, int]]:
    return [(y, x, min(tile, h - y), min(tile, w - x)) for y in range(0, h, tile) for x in range(0, w, tile)]


def _pad_to(a: np.ndarray, mult: int) -> tuple[np.ndarray, int, int]:
    h, w = a.shape[-2:]
    ph, pw = (-h) % mult, (-w) % mult
    if ph or pw:
        pad = [(0, 0)] * (a.ndim - 2) + [(0, ph), (0, pw)]
        a = np.pad(a, pad, mode="reflect" if min(h, w) > max(ph, pw) else "edge")
    return a, h, w


def fill_outside(img: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A copy of ``img`` where every pixel outside ``valid`` takes the value of the nearest valid pixel.

    Why: cues are computed over neighbourhoods, and next to a mosaic's no-data edge a neighbourhood
    otherwise holds a step from ground to black, which the texture and edge cues read as a strong
    change -- a band of "Possibly damaged" all along the map's border on an intact scene. The model
    never saw such edges (its training scenes are fully covered). Cues near the border now see the
    ground continued outwards; the pixels outside stay out of the result (``valid``).
    """
    if valid.all() or not valid.any():
        return img
    _, labels = cv2.distanceTransformWithLabels((~valid).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    # with DIST_LABEL_PIXEL every valid pixel gets its own label, numbered 1.. in row-major order
    source = np.flatnonzero(valid.ravel())
    flat = img.reshape(-1, *img.shape[2:])
    return flat[source[labels.ravel() - 1]].reshape(img.shape)


def decide_classes(probs: np.ndarray, valid: np.ndarray, class_log_bias: np.ndarray) -> np.ndarray:
    """Per-pixel class from uint8 probabilities: biased argmax, then specks of one or two working pixels
    (a car's edge, a leaf) are dropped -- they are not damage an operator can act on."""
    logp = np.log(probs.astype(np.float32) + 1.0) + class_log_bias.astype(np.float32)[:, None, None]
    classes = np.argmax(logp, axis=0).astype(np.uint8)
    classes[~valid] = 0
    changed = (classes >= 1).astype(np.uint8)
    kept = cv2.morphologyEx(changed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    classes[(changed > 0) & (kept == 0)] = 0
    return classes


def detect_changes(pair: ImagePair, *, model: ChangeModel | None = None, tile_px: int = 768,
                   progress: bool | None = None) -> ChangeMap:
    """Run the detector on an :class:`ImagePair` (pre optional).

    Raises
    ------
    DetectionError
        The model is missing or unusable.
    """
    model = model or load_model()
    post, valid = pair.post, pair.post_valid
    h, w = post.shape[:2]
    reg: Registration | None = None
    pre = pair.pre
    compared = np.zeros((h, w), bool)
    match: ColourMatch | None = None
    sharp: Sharpness | None = None
    pre_valid: np.ndarray | None = None
    if pre is not None and pair.pre_valid is not None:
        with progress_bar(progress) as bar:
            task = bar.add_task("Co-registering pre to post", total=1)
            pre, pre_valid, reg = coregister(post, pre, valid, pair.pre_valid, georeferenced=pair.grid.georeferenced)
            bar.advance(task)
        compared = pre_valid & valid
        match = colour_match(post, pre, compared)
        sharp = match_sharpness(post, pre, compared)
    k = len(CLASS_NAMES)
    probs = np.zeros((k, h, w), np.uint8)
    indices = np.zeros((4, h, w), np.uint8)
    planes = np.zeros((len(GRADE_CUES), h, w), np.uint8)
    spots = np.zeros((h, w), np.uint8)
    plane_idx = [CUE_NAMES.index(n) for n, _, _ in GRADE_CUES]
    plane_scale = np.asarray([255.0 / sc for _, sc, _ in GRADE_CUES], np.float32)[:, None, None]
    plane_abs = [i for i, (_, _, a) in enumerate(GRADE_CUES) if a]
    # context: the cues' own neighbourhoods plus what the network sees around a pixel (from its card)
    m = max(MARGIN_PX, int(model.card.get("context_px", 0)) + 16)
    multiple = int(model.card.get("pad_multiple", 4))
    tiles = iter_tiles(h, w, tile_px)
    # cues are computed on copies whose no-data areas continue the nearest ground (see fill_outside);
    # the pictures in the report keep the originals
    post_cues_src = fill_outside(post, valid)
    pre_cues_src = fill_outside(pre, pre_valid) if pre is not None and pre_valid is not None else None
    with progress_bar(progress) as bar:
        task = bar.add_task("Detecting change", total=len(tiles))
        for y, x, th, tw in tiles:
            y0, x0 = max(0, y - m), max(0, x - m)
            y1, x1 = min(h, y + th + m), min(w, x + tw + m)
            sub_post = post_cues_src[y0:y1, x0:x1]
            sub_cmp = compared[y0:y1, x0:x1]
            sub_pre = pre_cues_src[y0:y1, x0:x1] if pre_cues_src is not None and sub_cmp.any() else None
            sp = np.zeros(sub_post.shape[:2], np.float32) if sub_pre is not None else None  # spots need a pre
            cues = compute_cues(sub_post, sub_pre, match, sharp, spots_out=sp)
            if sub_pre is not None and not sub_cmp.all():
                # Where the pre image has no data, behave exactly like the single-image model.
                single = compute_cues(sub_post, None)
                cues[:, ~sub_cmp] = single[:, ~sub_cmp]
            padded, ph, pw = _pad_to(cues, multiple)
            p = model.predict(padded)[:, :ph, :pw]
            cy, cx = y - y0, x - x0
            probs[:, y:y + th, x:x + tw] = np.clip(p[:, cy:cy + th, cx:cx + tw] * 255.0 + 0.5, 0, 255).astype(np.uint8)
            indices[:, y:y + th, x:x + tw] = np.clip(cues[13:17, cy:cy + th, cx:cx + tw] * 255.0 + 0.5, 0, 255)
            sel = cues[plane_idx, cy:cy + th, cx:cx + tw]
            sel[plane_abs] = np.abs(sel[plane_abs])
            planes[:, y:y + th, x:x + tw] = np.clip(sel * plane_scale + 0.5, 0, 255)
            if sp is not None:
                sp[~sub_cmp] = 0.0
                spots[y:y + th, x:x + tw] = np.clip(sp[cy:cy + th, cx:cx + tw] * 255.0 + 0.5, 0, 255)
            bar.advance(task)
    classes = decide_classes(probs, valid, np.asarray(model.card.get("class_log_bias", [0.0] * k), np.float32))
    probs[:, ~valid] = 0
    probs[0, ~valid] = 255
    notes = list(pair.notes)
    if pre is None:
        notes.append("no pre image: damage is judged from the post image alone (single-image cues)")
    elif sharp is not None and (sharp.post_sigma_px or sharp.pre_sigma_px):
        softer, sigma = ("pre", sharp.post_sigma_px) if sharp.post_sigma_px else ("post", sharp.pre_sigma_px)
        notes.append(f"the {softer} image is softer: the two were compared at a common sharpness "
                     f"(Gaussian blur of {sigma:.2f} working px on the sharper one)")
    return ChangeMap(classes=classes, probs=probs, valid=valid, compared=compared, registration=reg,
                     colour=match, model_version=model.version, single_image_indices=indices,
                     pre_registered=pre, cue_planes=planes, new_spots=spots, notes=notes)

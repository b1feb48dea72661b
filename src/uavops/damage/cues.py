"""Per-pixel cues the damage model combines.

Why these: two flights over an undamaged town differ in exposure, white balance, sun angle (shadows
move), season and registration by a pixel or two. Each cue is built to be blind to one of those
and sensitive to real change:

* intensity is compared in log space after removing the local mean (exposure, vignetting, haze);
* colour is compared as log-chromaticity (independent of brightness, so of most shadowing);
* structure is an SSIM-like gradient agreement, texture a log ratio of local contrast, edges a
  difference of edge density -- rubble and collapsed roofs change these, lighting barely does;
* every pixel difference takes the minimum over a 3x3 neighbourhood of the pre image, so a
  residual misregistration of one working pixel costs nothing;
* a shadow cue (darker than surroundings in either image) lets the model discount moved shadows.

Single-image cues (post and, when present, pre) describe what the ground *is*: water, fresh mud or
bare earth, burn scars and rubble texture. Without a pre image the change channels are zero and the
``has_pre`` channel tells the model to rely on these alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CUE_NAMES", "ColourMatch", "colour_match", "compute_cues", "single_image_indices", "MARGIN_PX",
           "SPOT_PX", "Sharpness", "match_sharpness", "new_dark_spots"]

CUE_NAMES: tuple[str, ...] = (
    "has_pre",
    "d_intensity", "d_chroma", "d_structure", "d_texture", "d_edges", "shadow_any",
    "post_lnorm", "post_chroma_r", "post_chroma_g", "post_chroma_b", "post_texture", "post_edges",
    "post_water", "post_mud", "post_burn", "post_rubble",
    "pre_water", "pre_mud", "pre_burn", "pre_rubble",
)

#: Context a tile needs on each side for the cues and the model to be exact at its centre.
MARGIN_PX = 48

_EPS = 1.0 / 255.0


@dataclass(frozen=True)
class ColourMatch:
    """Per-channel affine map in log space taking the pre image's statistics to the post image's."""

    gain: tuple[float, float, float]
    offset: tuple[float, float, float]


def _log_rgb(rgb_u8: np.ndarray) -> np.ndarray:
    return np.log(rgb_u8.astype(np.float32) / 255.0 + _EPS)


def colour_match(post: np.ndarray, pre: np.ndarray, valid: np.ndarray) -> ColourMatch:
    """Robust (median/IQR) match of pre to post per channel: removes exposure and white-balance change."""
    if valid.sum() < 100:
        return ColourMatch((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    step = max(1, int(np.sqrt(valid.sum() / 200_000)))
    lp = _log_rgb(post[::step, ::step])[valid[::step, ::step]]
    lq = _log_rgb(pre[::step, ::step])[valid[::step, ::step]]
    gains, offs = [], []
    for c in range(3):
        p25, p50, p75 = np.percentile(lp[:, c], [25, 50, 75])
        q25, q50, q75 = np.percentile(lq[:, c], [25, 50, 75])
        g = float(np.clip((p75 - p25) / max(q75 - q25, 1e-3), 0.5, 2.0))
        gains.append(g)
        offs.append(float(p50 - g * q50))
    return ColourMatch(tuple(gains), tuple(offs))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Sharpness:
    """Gaussian blur (working px) applied to the sharper image before the two are compared.

    A reference flown with another camera, at another height or taken from a basemap is often
    softer than the post-event mosaic; every edge then differs between the two and the structure,
    texture and edge cues see change everywhere. Comparing at a common sharpness removes that, as
    radiometric matching removes exposure. Single-image cues keep the unblurred post image.
    """

    post_sigma_px: float = 0.0
    pre_sigma_px: float = 0.0


_SIGMAS_PX = (0.3, 0.45, 0.6, 0.8, 1.0, 1.25, 1.6, 2.0, 2.5)


def _blocks(x: np.ndarray, block: int = 32) -> np.ndarray:
    """(rows, block, cols, block) view of the whole blocks of a 2-D array."""
    h, w = (x.shape[0] // block) * block, (x.shape[1] // block) * block
    return x[:h, :w].reshape(h // block, block, w // block, block)


def _block_mean(x: np.ndarray) -> np.ndarray:
    return _blocks(x).mean(axis=(1, 3)).ravel()


def _gradient_magnitude(lum: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy)


def _block_sharpness(lum: np.ndarray) -> np.ndarray:
    """Per 32-px block: fine-scale over coarse-scale gradient energy.

    A ratio within one image, so contrast, exposure and gamma cancel; blur lowers it. (Comparing
    raw gradient magnitudes between the two images would confound blur with any radiometric
    mismatch, and damage biases the radiometric match.)
    """
    fine = _block_mean(_gradient_magnitude(lum))
    coarse = _block_mean(_gradient_magnitude(_blur(lum, 1.5)))
    return fine / np.maximum(coarse, 1e-6)


def match_sharpness(post: np.ndarray, pre: np.ndarray, valid: np.ndarray, min_ratio: float = 1.06,
                    sample_px: int = 1024) -> Sharpness:
    """How much to blur the sharper of two co-registered images so both have the same sharpness.

    Sharpness is compared block by block (see ``_block_sharpness``) and summarised by the median
    ratio over blocks, which ignores damage: it changes a minority of blocks. Pairs whose ratio
    is within ``min_ratio`` are left alone. The measure is free of radiometry, so it needs no colour
    match first.
    """
    h, w = valid.shape
    if valid.sum() < 64 * 64:
        return Sharpness()
    ys, xs = np.nonzero(valid[::16, ::16])
    cy, cx = int(np.median(ys)) * 16, int(np.median(xs)) * 16
    y0, x0 = max(0, min(h - sample_px, cy - sample_px // 2)), max(0, min(w - sample_px, cx - sample_px // 2))
    sl = (slice(y0, y0 + sample_px), slice(x0, x0 + sample_px))
    lp = _log_rgb(post[sl]).mean(axis=2)
    lq = _log_rgb(pre[sl]).mean(axis=2)
    ok = _blocks(valid[sl]).all(axis=(1, 3)).ravel()
    # flat blocks (water, roofs) say nothing about sharpness
    ok &= (_block_mean(_gradient_magnitude(lp)) > 0.02) & (_block_mean(_gradient_magnitude(lq)) > 0.02)
    if ok.sum() < 16:
        return Sharpness()
    sq = _block_sharpness(lq)[ok]
    sp = _block_sharpness(lp)[ok]
    r = float(np.median(sp / sq))
    if 1.0 / min_ratio <= r <= min_ratio:
        return Sharpness()
    sharp, soft = (lp, sq) if r > 1.0 else (lq, sp)
    best, best_err = 0.0, abs(np.log(r))
    for sigma in _SIGMAS_PX:
        err = abs(np.log(float(np.median(_block_sharpness(_blur(sharp, sigma))[ok] / soft))))
        if err < best_err:
            best, best_err = sigma, err
    if best == 0.0:
        return Sharpness()
    return Sharpness(post_sigma_px=best) if r > 1.0 else Sharpness(pre_sigma_px=best)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _min_shift_abs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min over 3x3 shifts s of |a - b(x+s)| (works on (H,W) or (H,W,C) with an L2 over C)."""
    out = None
    bp = cv2.copyMakeBorder(b, 1, 1, 1, 1, cv2.BORDER_REFLECT)
    if bp.ndim == 2 and b.ndim == 3:
        bp = bp[:, :, None]
    h, w = a.shape[:2]
    for dy in range(3):
        for dx in range(3):
            d = a - bp[dy:dy + h, dx:dx + w]
            d = np.abs(d) if d.ndim == 2 else np.sqrt((d * d).sum(axis=2))
            out = d if out is None else np.minimum(out, d)
    assert out is not None
    return out


class _Image:
    """Derived quantities of one image, computed once and shared by the change and single-image cues."""

    def __init__(self, logrgb: np.ndarray):
        self.logrgb = logrgb
        self.l = logrgb.mean(axis=2)
        self.lnorm = self.l - _blur(self.l, 10.0)
        self.chroma = logrgb - self.l[:, :, None]
        gx = cv2.Sobel(self.lnorm, cv2.CV_32F, 1, 0, ksize=3) / 8.0
        gy = cv2.Sobel(self.lnorm, cv2.CV_32F, 0, 1, ksize=3) / 8.0
        self.gx, self.gy = gx, gy
        mag = np.sqrt(gx * gx + gy * gy)
        self.edges = _blur((mag > 0.06).astype(np.float32), 2.0)
        m = _blur(self.lnorm, 2.0)
        self.texture = np.sqrt(np.maximum(_blur(self.lnorm * self.lnorm, 2.0) - m * m, 0.0))
        # Structure-tensor coherence: ~1 along straight edges (roofs, roads), low in rubble.
        jxx, jyy, jxy = _blur(gx * gx, 2.5), _blur(gy * gy, 2.5), _blur(gx * gy, 2.5)
        tr = jxx + jyy
        self.coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy) / (tr + 1e-4)


def single_image_indices(img: _Image) -> np.ndarray:
    """(4, H, W) in 0..1: water, mud/bare earth, burn, rubble -- hand-made, physically motivated indices."""
    rgb = np.exp(img.logrgb) - _EPS
    r, g, b = rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]
    v = rgb.max(axis=2)
    s = (v - rgb.min(axis=2)) / (v + 1e-3)
    smooth = np.clip(1.0 - img.texture / 0.12, 0.0, 1.0)
    # Clear or turbid water: blue/green over red or uniform brown-grey, always smooth and mid-dark.
    blueish = np.clip(((g + b) / 2 - r) / (v + 1e-3) * 4.0, 0, 1)
    water = smooth * np.clip(blueish + 0.5 * (v < 0.55) * (s < 0.45), 0, 1)
    # Mud / bare earth: orange-brown hue, moderate saturation, smooth-ish.
    hue_ok = (r > g) & (g > b) & ((r - b) / (v + 1e-3) > 0.15)
    mud = hue_ok.astype(np.float32) * np.clip(s * 2.0, 0, 1) * (0.5 + 0.5 * smooth) * (v > 0.15)
    # Burn scar: very dark and grey (charcoal, soot).
    burn = np.clip((0.3 - v) / 0.2, 0, 1) * np.clip((0.45 - s) / 0.3, 0, 1)
    # Rubble: strong texture without dominant orientation, grey/dusty.
    rubble = np.clip(img.texture / 0.15, 0, 1) * np.clip(1.0 - img.coherence, 0, 1) * np.clip((0.6 - s) / 0.4, 0, 1)
    return np.stack([water, mud, burn, rubble]).astype(np.float32)


def compute_cues(post: np.ndarray, pre: np.ndarray | None = None, match: ColourMatch | None = None,
                 sharpness: Sharpness | None = None, spots_out: np.ndarray | None = None) -> np.ndarray:
    """Cue stack (len(CUE_NAMES), H, W) float32 for one tile (include MARGIN_PX of context around it).

    ``spots_out`` (H, W) float32, when given with a pre image, receives :func:`new_dark_spots` of the
    tile, from the luminances computed here (not a cue of the network: the building grader's).
    """
    h, w = post.shape[:2]
    lp = _log_rgb(post)
    p = _Image(lp)
    out = np.zeros((len(CUE_NAMES), h, w), np.float32)
    out[7] = p.lnorm
    out[8:11] = np.moveaxis(p.chroma, -1, 0)
    out[11] = p.texture
    out[12] = p.edges
    out[13:17] = single_image_indices(p)
    if pre is None:
        return out
    lq = _log_rgb(pre)
    if match is not None:
        lq = lq * np.float32(match.gain) + np.float32(match.offset)
    if sharpness is not None and sharpness.pre_sigma_px > 0:
        lq = _blur(lq, sharpness.pre_sigma_px)
    q = _Image(lq)
    if sharpness is not None and sharpness.post_sigma_px > 0:
        p = _Image(_blur(lp, sharpness.post_sigma_px))  # for the comparison only; single-image cues are set
    out[0] = 1.0
    out[1] = _min_shift_abs(p.lnorm, q.lnorm)
    out[2] = _min_shift_abs(p.chroma, q.chroma)
    # SSIM-like agreement of gradients, with a floor so flat areas count as unchanged.
    c = 0.02 ** 2
    num = 2 * _blur(p.gx * q.gx + p.gy * q.gy, 2.0) + c
    den = _blur(p.gx ** 2 + p.gy ** 2 + q.gx ** 2 + q.gy ** 2, 2.0) + c
    out[3] = 1.0 - num / den
    out[4] = np.log((p.texture + 0.01) / (q.texture + 0.01))
    out[5] = p.edges - _blur(cv2.dilate(q.edges, np.ones((3, 3), np.float32)), 1.0)
    shadow_p = np.clip(-p.lnorm / 0.4, 0, 1)
    shadow_q = np.clip(-q.lnorm / 0.4, 0, 1)
    out[6] = np.maximum(shadow_p, shadow_q)
    out[17:21] = single_image_indices(q)
    if spots_out is not None:
        spots_out[...] = _new_spots(p.l, q.l)
    return out


#: Dark spots narrower than this (working px, ~1 m at 20 cm) are what :func:`new_dark_spots` looks for.
SPOT_PX = 5
#: Log-luminance depth that counts as a full-strength spot (1.0: e^1, a spot ~2.7x darker than its roof).
_SPOT_DEPTH = 1.0


def new_dark_spots(post: np.ndarray, pre: np.ndarray, match: ColourMatch | None = None,
                   sharpness: Sharpness | None = None) -> np.ndarray:
    """(H, W) float32 in 0..1: dark spots under ~1 m across in the post image that the pre image lacks.

    Why: the first sign of earthquake damage on a roof is a few holes or fallen tiles of a few tens of
    centimetres -- one to three working pixels, too small to move the mean of any cue over a roof, so
    the building grader would otherwise not see a "Possibly damaged" roof at all. A black-hat (closing
    minus image, in log luminance, so exposure cancels) measures how much darker than its surroundings
    each spot is; the pre image's own spots (vents, chimneys, skylights), widened by a pixel for the
    residual misregistration, are subtracted.
    """
    out = np.zeros(post.shape[:2], np.float32)
    compute_cues(post, pre, match, sharpness, spots_out=out)
    return out


def _new_spots(lp: np.ndarray, lq: np.ndarray) -> np.ndarray:
    """:func:`new_dark_spots` from the two images' log luminances (colour-matched, same sharpness)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (SPOT_PX, SPOT_PX))
    dp = cv2.morphologyEx(lp, cv2.MORPH_BLACKHAT, k, borderType=cv2.BORDER_REFLECT)
    dq = cv2.dilate(cv2.morphologyEx(lq, cv2.MORPH_BLACKHAT, k, borderType=cv2.BORDER_REFLECT),
                    np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REFLECT)
    return np.clip((dp - dq) / _SPOT_DEPTH, 0.0, 1.0)

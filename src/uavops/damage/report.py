"""report.html: one self-contained page an operator can check by eye, offline.

Why self-contained: the report is read in a field tent or forwarded by e-mail; every picture is
inlined as base64 JPEG/PNG and there is no script, font or stylesheet from the network.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from shapely.geometry.base import BaseGeometry

from ..files import atomic_write
from ..package import DAMAGE_GRADES

__all__ = ["Place", "render_report", "overlay_image", "GRADE_RGB"]

GRADE_RGB = {"No visible damage": (60, 180, 75), "Possibly damaged": (255, 215, 0), "Damaged": (255, 120, 0),
             "Destroyed": (220, 0, 0)}
EXTENT_RGB = (40, 110, 255)
CLASS_RGB = np.array([(0, 0, 0), GRADE_RGB["Possibly damaged"], GRADE_RGB["Damaged"], GRADE_RGB["Destroyed"],
                      EXTENT_RGB], np.uint8)


@dataclass
class Place:
    """One of the worst places shown with before/after/overlay crops."""

    title: str
    damage_gra: str
    confidence: float
    geometry_grid: BaseGeometry


def _b64(img_rgb: np.ndarray, fmt: str = ".jpg") -> str:
    params = [cv2.IMWRITE_JPEG_QUALITY, 85] if fmt == ".jpg" else []
    ok, buf = cv2.imencode(fmt, cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:  # pragma: no cover
        raise RuntimeError("image encoding failed")
    mime = "image/jpeg" if fmt == ".jpg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.tobytes()).decode('ascii')}"


def _draw_geom(img: np.ndarray, g: BaseGeometry, colour: tuple[int, int, int], scale: float, offset: tuple[float, float],
               thickness: int) -> None:
    polys = list(getattr(g, "geoms", [g]))
    for p in polys:
        if p.is_empty or not hasattr(p, "exterior"):
            continue
        pts = (np.asarray(p.exterior.coords)[:, :2] - np.asarray(offset)) * scale
        cv2.polylines(img, [np.round(pts).astype(np.int32)], True, colour, thickness, cv2.LINE_AA)


def overlay_image(post: np.ndarray, classes: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    colour = CLASS_RGB[np.minimum(classes, 4)]
    m = (classes > 0)[:, :, None]
    out = post.astype(np.float32)
    out = np.where(m, (1 - alpha) * out + alpha * colour.astype(np.float32), out)
    return out.astype(np.uint8)


def _fit(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    elif max(h, w) < 260:
        s = 260 / max(h, w)
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_NEAREST)
    return img, s


def render_report(path: Path, *, title: str, post: np.ndarray, pre: np.ndarray | None, classes: np.ndarray,
                  buildings: list[tuple[BaseGeometry, str]], places: list[Place], summary: dict[str, Any],
                  facts: list[tuple[str, str]], notes: list[str]) -> None:
    """Write report.html with the overview map, the worst places and the summary table."""
    over = overlay_image(post, classes)
    overview, s = _fit(over, 1400)
    thick = max(1, round(2 * overview.shape[1] / 1400))
    for g, grade in buildings:
        _draw_geom(overview, g, GRADE_RGB[grade], s, (0.0, 0.0), thick)
    for i, pl in enumerate(places, 1):
        c = pl.geometry_grid.centroid
        cv2.putText(overview, str(i), (int(c.x * s) + 4, int(c.y * s) - 4), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6 * thick, (255, 255, 255), 2 * thick, cv2.LINE_AA)
        cv2.putText(overview, str(i), (int(c.x * s) + 4, int(c.y * s) - 4), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6 * thick, (0, 0, 0), thick, cv2.LINE_AA)
    h, w = classes.shape
    place_html = []
    for i, pl in enumerate(places, 1):
        minx, miny, maxx, maxy = pl.geometry_grid.bounds
        pad = max(12.0, 0.6 * max(maxx - minx, maxy - miny))
        x0, y0 = int(max(0, minx - pad)), int(max(0, miny - pad))
        x1, y1 = int(min(w, maxx + pad + 1)), int(min(h, maxy + pad + 1))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        crops = []
        if pre is not None:
            crops.append(("Before", pre[y0:y1, x0:x1]))
        crops.append(("After", post[y0:y1, x0:x1]))
        ov = over[y0:y1, x0:x1].copy()
        ov, cs = _fit(ov, 360)
        _draw_geom(ov, pl.geometry_grid, GRADE_RGB[pl.damage_gra], cs, (x0, y0), 2)
        figs = "".join(
            f'<figure><img alt="{lab} {i}" src="{_b64(_fit(img, 360)[0])}"><figcaption>{lab}</figcaption></figure>'
            for lab, img in crops)
        figs += f'<figure><img alt="Overlay {i}" src="{_b64(ov)}"><figcaption>Detection</figcaption></figure>'
        rgb = GRADE_RGB[pl.damage_gra]
        place_html.append(
            f'<section class="place"><h3>{i}. {html.escape(pl.title)} — <span class="tag" '
            f'style="background:rgb{rgb}">{html.escape(pl.damage_gra)}</span> '
            f'(confidence {pl.confidence:.0%})</h3><div class="row">{figs}</div></section>')
    counts = summary.get("counts_per_grade", {})
    count_rows = "".join(
        f'<tr><td><span class="swatch" style="background:rgb{GRADE_RGB[g]}"></span>{html.escape(g)}</td>'
        f'<td>{counts.get(g, 0)}</td></tr>' for g in DAMAGE_GRADES)
    fact_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    note_html = "".join(f"<li>{html.escape(n)}</li>" for n in notes) or "<li>none</li>"
    legend = "".join(f'<span class="swatch" style="background:rgb{GRADE_RGB[g]}"></span>{html.escape(g)} &nbsp; '
                     for g in DAMAGE_GRADES[1:])
    legend += f'<span class="swatch" style="background:rgb{EXTENT_RGB}"></span>Event extent'
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#222;max-width:1450px}}
h1{{font-size:1.6em;margin:0 0 .3em}} h2{{border-bottom:2px solid #ddd;padding-bottom:.2em}}
table{{border-collapse:collapse;margin:.5em 0}} td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}
.swatch{{display:inline-block;width:1em;height:1em;margin-right:.4em;vertical-align:middle;border:1px solid #555}}
.row{{display:flex;gap:.8em;flex-wrap:wrap}} figure{{margin:0}} figcaption{{text-align:center;color:#555}}
.tag{{padding:0 .4em;border-radius:3px}} #map{{max-width:100%;border:1px solid #999}}
.cols{{display:flex;gap:2em;flex-wrap:wrap}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<div class="cols"><div><h2>Summary</h2><table><tr><th>Grade</th><th>Count</th></tr>{count_rows}</table>
<table>{fact_rows}</table></div>
<div><h2>Notes</h2><ul>{note_html}</ul></div></div>
<h2>Map overview</h2><p>{legend}. Numbers mark the places shown below.</p>
<img id="map" alt="Map overview" src="{_b64(overview)}">
<h2>Worst places</h2>
{''.join(place_html) or '<p>No damage detected.</p>'}
<p style="color:#777">Generated by uavops damage. Grades follow the Copernicus EMS damage_gra vocabulary.</p>
</body></html>
"""
    with atomic_write(path) as fh:
        fh.write(doc)

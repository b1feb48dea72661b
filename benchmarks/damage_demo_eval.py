#!/usr/bin/env python
"""Score ``run_damage`` on end-to-end demo folders: photo->orthomosaic post image against the scene's pre.

    python benchmarks/damage_demo_eval.py /tmp/demo2 /tmp/dsitl [--json out.json] [--with-scene-post]

Each folder has the demo layout: ``scene/{pre.tif,post.tif,buildings.geojson,damage_mask.tif}`` (truth,
from ``uavops.scene.make_scene``), ``mosaic/mosaic.tif`` (the post orthomosaic built from the
virtual-camera photos) and ``footprints.geojson`` (outlines without grades). The detector runs exactly
as the demo runs it (mosaic as post, scene pre, footprints) into a scratch folder; the grades are joined
to the truth by ``building_id``. Printed per folder and pooled:

* the per-building grade confusion (rows truth, columns prediction, EMS grade order);
* how many buildings are over-graded (predicted grade above truth) and under-graded;
* the xView2-style score (0.3 x localisation F1 + 0.7 x harmonic mean of per-grade F1), localisation
  being pixel F1 of the graded footprints (grade >= Possibly damaged) against truth mask classes 1-3;
* with ``--with-scene-post`` the same figures for the scene's own post.tif, to separate what the
  photo->mosaic path costs from what the detector costs anyway.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from uavops.damage.buildings import burn_grades  # noqa: E402
from uavops.damage.metrics import f1, grade_f1s, harmonic_mean  # noqa: E402
from uavops.damage.pipeline import DamageOptions, run_damage  # noqa: E402
from uavops.package import DAMAGE_GRADES  # noqa: E402


def _truth_grades(scene: Path) -> dict[str, str]:
    feats = json.loads((scene / "buildings.geojson").read_text())["features"]
    out = {}
    for i, f in enumerate(feats):
        p = f.get("properties") or {}
        out[str(p.get("building_id", p.get("id", f.get("id", i))))] = str(p["damage_gra"])
    return out


def _truth_mask(scene: Path, grid) -> np.ndarray:  # type: ignore[no-untyped-def]
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    out = np.zeros((grid.height, grid.width), np.uint8)
    with rasterio.open(scene / "damage_mask.tif") as ds:
        reproject(ds.read(1), out, src_transform=ds.transform, src_crs=ds.crs, dst_transform=grid.transform,
                  dst_crs=grid.crs, resampling=Resampling.mode, dst_nodata=0)
    return out


def score_pair(post: Path, pre: Path, footprints: Path, scene: Path) -> dict[str, object]:
    truth = _truth_grades(scene)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="uavops-demo-eval-") as tmp:
        res = run_damage(post, Path(tmp) / "out", pre=pre, buildings=footprints,
                         options=DamageOptions(event="auto", progress=False))
    dt = time.time() - t0
    pred_g, truth_g = [], []
    for b in res.buildings:
        bid = b.footprint.building_id
        if bid in truth:
            pred_g.append(b.damage_gra)
            truth_g.append(truth[bid])
    conf = np.zeros((4, 4), int)
    for p, t in zip(pred_g, truth_g):
        conf[DAMAGE_GRADES.index(t), DAMAGE_GRADES.index(p)] += 1
    over = int(np.triu(conf, 1).sum())
    under = int(np.tril(conf, -1).sum())
    grid = res.pair.grid
    tmask = _truth_mask(scene, grid)
    burnt = burn_grades(res.buildings, (grid.height, grid.width))
    valid = res.change.valid & res.change.compared
    pred_loc = ((burnt >= 1) & (burnt <= 3))[valid]
    t_loc = ((tmask >= 1) & (tmask <= 3))[valid]
    tp, fp, fn = (int(np.count_nonzero(pred_loc & t_loc)), int(np.count_nonzero(pred_loc & ~t_loc)),
                  int(np.count_nonzero(~pred_loc & t_loc)))
    g = grade_f1s(pred_g, truth_g)
    return {"post": str(post), "seconds": round(dt, 1), "buildings_scored": len(pred_g),
            "confusion_truth_rows_pred_cols": conf.tolist(), "over_graded": over, "under_graded": under,
            "exact": int(np.trace(conf)),
            "predicted_counts": {k: pred_g.count(k) for k in DAMAGE_GRADES},
            "truth_counts": {k: truth_g.count(k) for k in DAMAGE_GRADES},
            "loc_counts": [tp, fp, fn], "localisation_f1": round(f1(tp, fp, fn), 4),
            "grade_f1": {k: round(v, 4) for k, v in g.items()},
            "xview2_score": round(0.3 * f1(tp, fp, fn) + 0.7 * harmonic_mean(list(g.values())), 4),
            "_pred": pred_g, "_truth": truth_g}


def pooled(rows: list[dict[str, object]]) -> dict[str, object]:
    pred = sum((r["_pred"] for r in rows), [])  # type: ignore[arg-type]
    truth = sum((r["_truth"] for r in rows), [])  # type: ignore[arg-type]
    tp, fp, fn = (sum(r["loc_counts"][i] for r in rows) for i in range(3))  # type: ignore[index]
    g = grade_f1s(pred, truth)
    conf = np.sum([np.asarray(r["confusion_truth_rows_pred_cols"]) for r in rows], axis=0)
    return {"buildings_scored": len(pred), "over_graded": int(np.triu(conf, 1).sum()),
            "under_graded": int(np.tril(conf, -1).sum()), "exact": int(np.trace(conf)),
            "confusion_truth_rows_pred_cols": conf.tolist(), "localisation_f1": round(f1(tp, fp, fn), 4),
            "grade_f1": {k: round(v, 4) for k, v in g.items()},
            "xview2_score": round(0.3 * f1(tp, fp, fn) + 0.7 * harmonic_mean(list(g.values())), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", type=Path, nargs="+", help="Demo output folders (scene/, mosaic/, footprints.geojson).")
    ap.add_argument("--json", type=Path, help="Also write the figures to this file.")
    ap.add_argument("--with-scene-post", action="store_true", help="Also score the scene's own post.tif.")
    args = ap.parse_args()
    result: dict[str, object] = {}
    for kind in (["mosaic", "scene_post"] if args.with_scene_post else ["mosaic"]):
        rows = []
        for d in args.folders:
            post = d / "mosaic" / "mosaic.tif" if kind == "mosaic" else d / "scene" / "post.tif"
            fps = d / "footprints.geojson" if (d / "footprints.geojson").exists() else d / "scene" / "buildings.geojson"
            row = score_pair(post, d / "scene" / "pre.tif", fps, d / "scene")
            rows.append(row)
            print(json.dumps({"kind": kind, "folder": str(d), **{k: v for k, v in row.items() if not k.startswith("_")}}),
                  flush=True)
        result[kind] = {"pooled": pooled(rows),
                        "per_folder": [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]}
        print(json.dumps({"kind": kind, "pooled": result[kind]["pooled"]}, indent=1), flush=True)  # type: ignore[index]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

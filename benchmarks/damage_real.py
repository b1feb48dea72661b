#!/usr/bin/env python
"""False alarms of ``uavops damage`` on real aerial imagery of an unchanged place, beside the baselines.

    python benchmarks/damage_real.py [--photos ../shared/data/odm_brighton_beach/images]
                                     [--work /tmp/uavops-real] [--json out.json]

Generated scenes are flat: no tree or roof leans differently in two flights, no sea moves. Here the
pair is real and nothing changed between its two images, so every flagged pixel is a false alarm:

* **two mosaics** (``uavops mosaic``, 5 cm/px) of the same survey, one from the even-numbered photos
  and one from the odd-numbered ones: what an operator compares when a place is flown twice. The
  trees lean differently in the two (each mosaic pixel comes from another photo, and at 40 m above
  20 m trees a tree top moves metres between views), seams fall elsewhere, the sea moves;
* **two overlapping photos** as plain images (pixel-grid mode): the same, without the mosaic's help.

For each pair: the share of the compared area flagged in the pixel map and in damage.tif without
footprints (event as ``--event auto`` would guess it, and as earthquake, whose 25 m^2 smallest part is
the finest and for which standing tree canopy is unflagged, ``uavops.damage.vegetation``), and the
same share for the baselines (absdiff, CVA, 1-SSIM, each + Otsu) on the same
co-registered grid. Otsu always splits a histogram in two, so a baseline flags a good part of any pair;
the figure to watch is ours, and how it moves between versions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from uavops.damage.baselines import BASELINES  # noqa: E402
from uavops.damage.delineation import package_classes  # noqa: E402
from uavops.damage.detector import detect_changes  # noqa: E402
from uavops.damage.inputs import load_pair  # noqa: E402
from uavops.damage.model import load_model  # noqa: E402
from uavops.damage.pipeline import guess_event  # noqa: E402
from uavops.damage.vegetation import unflag_standing_canopy  # noqa: E402

DEFAULT_PHOTOS = ROOT.parent / "shared" / "data" / "odm_brighton_beach" / "images"
PHOTO_PAIRS = (("DJI_0020.JPG", "DJI_0021.JPG"), ("DJI_0021.JPG", "DJI_0022.JPG"), ("DJI_0030.JPG", "DJI_0031.JPG"))
MOSAIC_GSD_CM = 5.0
PLAIN_WIDTH_PX = 1600


def split_mosaics(photos: Path, work: Path) -> tuple[Path, Path]:
    """Two mosaics from the even- and odd-numbered photos (built once, reused from ``work``)."""
    from uavops.imagery.pipeline import MosaicOptions, build_mosaic

    paths = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff"))
    out = []
    for half, chosen in (("even", paths[0::2]), ("odd", paths[1::2])):
        d = work / f"photos_{half}"
        m = work / f"mosaic_{half}"
        if not (m / "mosaic.tif").is_file():
            d.mkdir(parents=True, exist_ok=True)
            for p in chosen:
                link = d / p.name
                if not link.exists():
                    link.symlink_to(p.resolve())
            build_mosaic(d, m, MosaicOptions(gsd_cm=MOSAIC_GSD_CM, progress=False))
        out.append(m / "mosaic.tif")
    return out[0], out[1]


def plain_pair(photos: Path, work: Path, a: str, b: str) -> tuple[Path, Path]:
    """Two photos as same-size plain PNGs (the working size of pixel-grid mode is set by load_pair)."""
    res = []
    for name in (a, b):
        out = work / f"{Path(name).stem}.png"
        if not out.is_file():
            img = cv2.imread(str(photos / name), cv2.IMREAD_COLOR)
            h = round(img.shape[0] * PLAIN_WIDTH_PX / img.shape[1])
            cv2.imwrite(str(out), cv2.resize(img, (PLAIN_WIDTH_PX, h), interpolation=cv2.INTER_AREA))
        res.append(out)
    return res[0], res[1]


def flagged(pre: Path, post: Path, model: object) -> dict[str, object]:
    t0 = time.time()
    pair = load_pair(post, pre)
    change = detect_changes(pair, model=model, progress=False)  # type: ignore[arg-type]
    cmp_ = change.compared & change.valid
    n = max(int(cmp_.sum()), 1)
    event = guess_event(change, pair.post)
    row: dict[str, object] = {
        "pre": str(pre.name if pre.suffix != ".tif" else pre.parent.name),
        "post": str(post.name if post.suffix != ".tif" else post.parent.name),
        "compared_frac": round(float(cmp_.sum() / max(int(change.valid.sum()), 1)), 4),
        "event_guessed": event,
        "detector": round(float(((change.classes >= 1) & cmp_).sum() / n), 4),
    }
    assert change.pre_registered is not None
    for ev in dict.fromkeys((event, "earthquake")):
        classes = change.classes.copy()
        unflagged = unflag_standing_canopy(classes, pair.post, change.pre_registered, change.compared,
                                           pair.grid.gsd_m, ev)
        mapped = package_classes(classes, change.valid, pair.grid, event=ev)
        row[f"damage_tif_{ev}"] = round(float(((mapped >= 1) & cmp_).sum() / n), 4)
        row[f"canopy_unflagged_{ev}"] = round(unflagged / n, 4)
    for name, fn in BASELINES.items():
        row[name] = round(float((fn(pair.post, change.pre_registered, cmp_) & cmp_).sum() / n), 4)
    row["seconds"] = round(time.time() - t0, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    ap.add_argument("--work", type=Path, default=Path("/tmp/uavops-real"))
    ap.add_argument("--model", help="ONNX model to score instead of the shipped one (its .json card beside it).")
    ap.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = ap.parse_args()
    if not args.photos.is_dir():
        sys.exit(f"{args.photos} does not exist: give --photos, a folder of overlapping survey photos with GPS.")
    args.work.mkdir(parents=True, exist_ok=True)
    model = load_model(args.model)
    rows = []
    even, odd = split_mosaics(args.photos, args.work)
    for pre, post in ((even, odd), (odd, even)):
        rows.append({"kind": "mosaic pair", **flagged(pre, post, model)})
        print(json.dumps(rows[-1]), flush=True)
    for a, b in PHOTO_PAIRS:
        if (args.photos / a).is_file() and (args.photos / b).is_file():
            pre, post = plain_pair(args.photos, args.work, a, b)
            rows.append({"kind": "photo pair", **flagged(pre, post, model)})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'pair':<34} {'compared':>8} {'ours px':>8} {'ours tif':>8} {'eq tif':>7} "
          + " ".join(f"{n:>13}" for n in BASELINES))
    for r in rows:
        auto = r[f"damage_tif_{r['event_guessed']}"]
        print(f"{r['kind'] + ' ' + r['pre'] + '>' + r['post']:<34} {r['compared_frac']:>8.1%} {r['detector']:>8.1%} "
              f"{auto:>8.1%} {r['damage_tif_earthquake']:>7.1%} " + " ".join(f"{r[n]:>13.1%}" for n in BASELINES))
    if args.json:
        args.json.write_text(json.dumps({"model": model.version, "pairs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Decoding the first photos ahead of loading (native resolution): same photos, same errors, once each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.imagery import write_small_photo

from uavops.imagery.photos import PhotoReadError, read_image
from uavops.imagery.pipeline import _Prefetch


def test_prefetch_hands_over_decoded_photos_and_their_errors(tmp_path: Path) -> None:
    good = write_small_photo(tmp_path / "DJI_0001.JPG", 43.238, 76.945)
    bad = tmp_path / "DJI_0002.JPG"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # cut-off copy
    other = write_small_photo(tmp_path / "DJI_0003.JPG", 43.2381, 76.945, seed=3)
    with _Prefetch([good, bad]) as pre:
        img = pre.take(good)
        assert img is not None and np.array_equal(img, read_image(good))
        assert pre.take(good) is None  # handed over once, then forgotten
        with pytest.raises(PhotoReadError, match="truncated"):
            pre.take(bad)
        assert pre.take(other) is None  # not prefetched: the caller decodes it itself
    assert pre._pool is None  # the spare thread is gone when the run ends


def test_native_mosaic_decodes_each_photo_once(synthetic_flight, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from uavops.imagery import pipeline

    decoded: list[tuple[str, int]] = []
    real = pipeline.read_image

    def counting(path: Path, reduce: int = 1) -> np.ndarray:
        decoded.append((Path(path).name, reduce))
        return real(path, reduce)

    monkeypatch.setattr(pipeline, "read_image", counting)
    pipeline.build_mosaic(synthetic_flight.photos_dir, tmp_path / "m", pipeline.MosaicOptions(threads=2))
    full = [name for name, reduce in decoded if reduce == 1]
    assert len(full) == len(set(full)) == 15  # prefetched or not, every photo is decoded whole exactly once


def test_no_prefetch_when_photos_will_not_be_kept_decoded(synthetic_flight, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from uavops.imagery import pipeline

    asked: list[list[Path]] = []
    real = pipeline._Prefetch

    def recording(paths: list[Path]) -> _Prefetch:
        asked.append(list(paths))
        return real(paths)

    monkeypatch.setattr(pipeline, "_Prefetch", recording)
    pipeline.build_mosaic(synthetic_flight.photos_dir, tmp_path / "a", pipeline.MosaicOptions(gsd_cm=20.0))
    pipeline.build_mosaic(synthetic_flight.photos_dir, tmp_path / "b", pipeline.MosaicOptions(memory_mb=1))
    pipeline.build_mosaic(synthetic_flight.photos_dir, tmp_path / "c", pipeline.MosaicOptions(threads=2))
    # a coarser --gsd, or a survey too big for the memory budget: nothing decoded whole ahead of time
    assert [len(a) for a in asked] == [0, 0, 4]

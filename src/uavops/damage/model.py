"""The shipped change model: a small ONNX network run with OpenCV's ``cv2.dnn`` (no torch needed).

Why a learned combiner: each cue fails somewhere (chroma in dark shadow, structure on water,
texture on trees in a new season); a few convolution layers trained on generated scenes learn
which cue to trust where, and add a little spatial context (rubble next to a roof, mud around
houses). The network and its card (``damage_net.json``: cue normalisation, classes, training seeds
and scores; for larger networks also their reach ``context_px`` and input multiple ``pad_multiple``,
which set the detector's tile margin and padding) are produced by ``scripts/train_damage_model.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import DetectionError
from .cues import CUE_NAMES

__all__ = ["CLASS_NAMES", "EXTENT_CLASS", "ChangeModel", "load_model", "MODEL_DIR"]

#: Output classes of the network; the first four are the EMS grades at pixel level.
CLASS_NAMES: tuple[str, ...] = ("none", "possibly_damaged", "damaged", "destroyed", "event_extent")
#: Index of the event extent (water, mud, burn scar, debris) in the class map.
EXTENT_CLASS = CLASS_NAMES.index("event_extent")

MODEL_DIR = Path(str(resources.files("uavops.damage") / "model"))


@dataclass
class ChangeModel:
    net: Any
    card: dict[str, Any]
    mean: np.ndarray
    std: np.ndarray

    @property
    def version(self) -> str:
        return str(self.card.get("version", "unknown"))

    def predict(self, cues: np.ndarray) -> np.ndarray:
        """(C, H, W) cues -> (K, H, W) class probabilities. H and W must be multiples of 4."""
        x = (cues - self.mean[:, None, None]) / self.std[:, None, None]
        self.net.setInput(np.ascontiguousarray(x[None].astype(np.float32)))
        out = self.net.forward()
        return np.asarray(out[0], dtype=np.float32)


@lru_cache(maxsize=4)
def load_model(path: str | None = None) -> ChangeModel:
    """Load the ONNX network and its card (default: the one shipped in the package).

    Raises
    ------
    DetectionError
        The model files are missing or do not match this version of the cues.
    """
    onnx_path = Path(path) if path else MODEL_DIR / "damage_net.onnx"
    card_path = onnx_path.with_suffix(".json")
    if not onnx_path.is_file() or not card_path.is_file():
        raise DetectionError(f"The damage model {onnx_path} is missing; reinstall uavops or run "
                             "scripts/train_damage_model.py.")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    if tuple(card.get("cues", ())) != CUE_NAMES:
        raise DetectionError(f"The damage model {onnx_path.name} was trained on other cues than this uavops "
                             "computes; retrain it with scripts/train_damage_model.py.")
    try:
        net = cv2.dnn.readNetFromONNX(str(onnx_path))
    except cv2.error as exc:
        raise DetectionError(f"OpenCV cannot load the damage model {onnx_path.name} ({exc}); "
                             "reinstall uavops.") from None
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    return ChangeModel(net=net, card=card, mean=np.asarray(card["mean"], np.float32),
                       std=np.asarray(card["std"], np.float32))

"""Damage detection: post mosaic (+ optional pre reference) -> EMS damage grades and a package folder.

Public surface: :func:`run_damage` (what ``uavops damage`` does), :class:`DamageOptions`,
:class:`DamageResult`, plus the building blocks other stages may reuse: :func:`load_pair`,
:func:`detect_changes`, :func:`load_model`.
"""

from __future__ import annotations

from .detector import ChangeMap, detect_changes
from .inputs import ImagePair, WorkGrid, load_pair
from .model import CLASS_NAMES, load_model
from .pipeline import EVENT_CHOICES, DamageOptions, DamageResult, run_damage

__all__ = ["run_damage", "DamageOptions", "DamageResult", "EVENT_CHOICES", "load_pair", "ImagePair", "WorkGrid",
           "detect_changes", "ChangeMap", "load_model", "CLASS_NAMES"]

"""Imagery: turning survey photos into a georeferenced orthomosaic (``uavops mosaic``).

Public surface: :func:`build_mosaic` with :class:`MosaicOptions` → :class:`MosaicResult`;
:func:`read_photo_meta` / :class:`PhotoMeta` to read a photo's pose; :func:`read_captures` for the
flight's capture log. The output file names are :data:`MOSAIC_NAME`, :data:`FOOTPRINTS_NAME`,
:data:`QUALITY_NAME`.
"""

from __future__ import annotations

from .captures import CapturePose, read_captures
from .photos import PhotoMeta, read_photo_meta
from .pipeline import FOOTPRINTS_NAME, MOSAIC_NAME, QUALITY_NAME, MosaicOptions, MosaicResult, build_mosaic

__all__ = ["build_mosaic", "MosaicOptions", "MosaicResult", "PhotoMeta", "read_photo_meta", "CapturePose",
           "read_captures", "MOSAIC_NAME", "FOOTPRINTS_NAME", "QUALITY_NAME"]

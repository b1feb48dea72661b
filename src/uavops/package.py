"""The damage package: what ``uavops damage`` writes and ``uavops upload`` / the hub read.

A package is a folder (or a .zip/.tar of it) holding ``package.json`` (this model) and the
files it lists. The hub validates every file; the client uses ``package_id`` as the
idempotency key so a package sent twice makes one report.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DAMAGE_GRADES",
    "EVENT_TYPES",
    "normalize_event_type",
    "PackageFile",
    "EventInfo",
    "DamagePackageMeta",
    "sha256_file",
    "PACKAGE_SCHEMA_VERSION",
]

PACKAGE_SCHEMA_VERSION = "1.0"

#: Copernicus EMS damage grades, in increasing severity (``damage_gra`` values).
DAMAGE_GRADES: tuple[str, ...] = ("No visible damage", "Possibly damaged", "Damaged", "Destroyed")

EVENT_TYPES: tuple[str, ...] = ("earthquake", "flood", "mudflow", "tailings_dam_failure", "fire", "industrial",
                                "landslide", "other")

_EVENT_ALIASES = {
    "tailings": "tailings_dam_failure", "tailings-dam": "tailings_dam_failure", "tailings_dam": "tailings_dam_failure",
    "tailings-dam-failure": "tailings_dam_failure", "dam": "tailings_dam_failure", "sel": "mudflow",
    "debris-flow": "mudflow", "debris_flow": "mudflow", "industrial-fire": "fire", "wildfire": "fire",
    "chemical": "industrial", "explosion": "industrial",
}


def normalize_event_type(name: str) -> str:
    """The package vocabulary's name for an event type (scenes and operators use a few aliases)."""
    key = name.strip().lower().replace(" ", "_")
    key = _EVENT_ALIASES.get(key, _EVENT_ALIASES.get(key.replace("_", "-"), key))
    return key if key in EVENT_TYPES else "other"


FileRole = Literal["damage_geojson", "damage_raster", "mosaic", "report", "summary", "change_mask", "other"]


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


class PackageFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Relative to the package folder, forward slashes, no '..'.")
    role: FileRole
    media_type: str
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith(("/", "\\")) or ".." in value.replace("\\", "/").split("/") or ":" in value:
            raise ValueError("file paths must be relative to the package and must not contain '..'")
        return value


class EventInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="One of EVENT_TYPES.")
    name: str | None = None
    incident_id: str | None = Field(default=None, description="Hub event id, when the operator knows it.")
    glide: str | None = None
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes.")


class DamagePackageMeta(BaseModel):
    """``package.json``."""

    model_config = ConfigDict(extra="allow")

    schema_version: str = PACKAGE_SCHEMA_VERSION
    package_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    created: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    event: EventInfo
    bbox: tuple[float, float, float, float] = Field(description="WGS84 minlon, minlat, maxlon, maxlat.")
    crs_epsg: int | None = Field(default=None, description="EPSG of the rasters (UTM of the site).")
    acquisition_start: datetime | None = None
    acquisition_end: datetime | None = None
    platform: str | None = Field(default=None, description="Aircraft and camera, e.g. 'DJI Phantom 4 Pro'.")
    gsd_cm: float | None = Field(default=None, gt=0)
    producer: str | None = Field(default=None, description="Organisation code, e.g. 'KG-MChS'.")
    licence: str = "CC-BY-4.0"
    detector: str | None = Field(default=None, description="det_method of the features, with version.")
    summary: dict[str, object] = Field(default_factory=dict, description="Counts per grade, areas.")
    files: list[PackageFile] = Field(default_factory=list)

    @field_validator("bbox")
    @classmethod
    def _bbox_valid(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = value
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ValueError("bbox must be minlon, minlat, maxlon, maxlat in WGS84 degrees")
        return value

    def file(self, role: str) -> PackageFile | None:
        return next((f for f in self.files if f.role == role), None)

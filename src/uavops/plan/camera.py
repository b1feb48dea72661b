"""Camera models for survey planning and for reading photos back.

The presets in ``cameras.json`` use QGroundControl's canonical names where QGC knows the
camera (so a ``.plan`` written here shows the same camera name in QGC) and true optical values:
``focal_length_mm`` is the physical focal length, never the 35 mm equivalent.

The ground formulas are QGroundControl's (``CameraCalc``)::

    GSD [cm/px]      = alt_m * sensor_width_mm * 100 / (image_width_px * focal_length_mm)
    footprint across = image_width_px  * GSD / 100      (landscape: sensor's long side across track)
    footprint along  = image_height_px * GSD / 100

For a camera mounted in portrait (``landscape=False``) the sensor's short side lies across track.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import InputError

__all__ = ["Camera", "get_camera", "list_cameras", "find_camera_by_exif"]

_FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


@dataclass(frozen=True)
class Camera:
    """One camera + lens as the planner sees it.

    ``make``/``model`` are the strings the camera writes into EXIF (``Image Make``/``Image Model``),
    so photos can be matched back to a preset with :func:`find_camera_by_exif`.
    """

    name: str
    make: str
    model: str
    sensor_width_mm: float
    sensor_height_mm: float
    image_width_px: int
    image_height_px: int
    focal_length_mm: float
    min_trigger_interval_s: float = 2.0
    fixed_orientation: bool = False
    landscape: bool = True
    aliases: tuple[str, ...] = field(default=(), compare=False)
    exif_models: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for attr in ("sensor_width_mm", "sensor_height_mm", "focal_length_mm"):
            value = getattr(self, attr)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"Camera {self.name!r}: {attr} must be a positive number, not {value!r}.")
        for attr in ("image_width_px", "image_height_px"):
            value = getattr(self, attr)
            if not (isinstance(value, int) and value > 0):
                raise InputError(f"Camera {self.name!r}: {attr} must be a positive whole number, not {value!r}.")
        if not (math.isfinite(self.min_trigger_interval_s) and self.min_trigger_interval_s >= 0):
            raise InputError(f"Camera {self.name!r}: min_trigger_interval_s must be zero or positive.")

    # --- construction -----------------------------------------------------------------------
    @classmethod
    def custom(cls, *, sensor_width_mm: float, sensor_height_mm: float, image_width_px: int,
               image_height_px: int, focal_length_mm: float, min_trigger_interval_s: float = 2.0,
               landscape: bool = True, name: str = "Custom camera", make: str = "", model: str = "") -> "Camera":
        """A camera from user-supplied values (the planner's ``--sensor-width`` … flags)."""
        return cls(name=name, make=make, model=model, sensor_width_mm=float(sensor_width_mm),
                   sensor_height_mm=float(sensor_height_mm), image_width_px=int(image_width_px),
                   image_height_px=int(image_height_px), focal_length_mm=float(focal_length_mm),
                   min_trigger_interval_s=float(min_trigger_interval_s), landscape=bool(landscape))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Camera":
        """Inverse of :meth:`to_dict` (unknown keys are ignored so older/newer files still load)."""
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key in ("aliases", "exif_models"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        for key in ("image_width_px", "image_height_px"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise InputError(f"The camera description is incomplete ({exc}); give all sensor and image sizes.") from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        data["exif_models"] = list(self.exif_models)
        return data

    def portrait(self) -> "Camera":
        """The same camera mounted with its short side across track."""
        return replace(self, landscape=False)

    # --- derived optics ---------------------------------------------------------------------
    @property
    def _across(self) -> tuple[float, int]:
        """(sensor mm, image px) of the side that lies across the flight direction."""
        if self.landscape:
            return self.sensor_width_mm, self.image_width_px
        return self.sensor_height_mm, self.image_height_px

    @property
    def _along(self) -> tuple[float, int]:
        if self.landscape:
            return self.sensor_height_mm, self.image_height_px
        return self.sensor_width_mm, self.image_width_px

    @property
    def pixel_pitch_um(self) -> float:
        return self.sensor_width_mm / self.image_width_px * 1000.0

    @property
    def focal_px(self) -> float:
        """Focal length in pixels (image-width based), as photogrammetry tools (ODM, OpenCV) use it."""
        return self.focal_length_mm * self.image_width_px / self.sensor_width_mm

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view across the image width."""
        return math.degrees(2.0 * math.atan(self.sensor_width_mm / (2.0 * self.focal_length_mm)))

    @property
    def vfov_deg(self) -> float:
        """Vertical field of view across the image height."""
        return math.degrees(2.0 * math.atan(self.sensor_height_mm / (2.0 * self.focal_length_mm)))

    @property
    def focal_35mm_equiv(self) -> float:
        """35 mm-equivalent focal length (by the diagonal, as EXIF FocalLengthIn35mmFilm)."""
        return self.focal_length_mm * _FULL_FRAME_DIAGONAL_MM / math.hypot(self.sensor_width_mm, self.sensor_height_mm)

    def gsd_cm(self, alt_m: float) -> float:
        """Ground sample distance (cm/px) at ``alt_m`` above ground, nadir, QGC's formula."""
        sensor_mm, image_px = self._across
        return alt_m * sensor_mm * 100.0 / (image_px * self.focal_length_mm)

    def alt_for_gsd(self, gsd_cm: float) -> float:
        """Height above ground (m) that gives ``gsd_cm``."""
        sensor_mm, image_px = self._across
        return gsd_cm * image_px * self.focal_length_mm / (sensor_mm * 100.0)

    def footprint_m(self, alt_m: float) -> tuple[float, float]:
        """(across-track, along-track) ground size of one nadir photo at ``alt_m``."""
        gsd = self.gsd_cm(alt_m)
        return self._across[1] * gsd / 100.0, self._along[1] * gsd / 100.0

    def for_image_size(self, width_px: int, height_px: int) -> "Camera":
        """This camera as it records ``width_px``×``height_px`` images (cropped aspect or downscaled).

        A 16:9 photo from a 4:3 sensor (DJI's video-aspect stills, e.g. 4000×2250 from a 4000×3000
        FC300S) uses the full sensor width and a cropped height; a downscaled photo keeps the sensor
        size and has fewer, larger pixels. Rotated EXIF sizes (height > width) are taken as landscape.
        """
        w, h = int(width_px), int(height_px)
        if w <= 0 or h <= 0:
            raise InputError(f"Image size {width_px}×{height_px} is not valid; it must be positive.")
        if (w < h) != (self.image_width_px < self.image_height_px):
            w, h = h, w
        if (w, h) == (self.image_width_px, self.image_height_px):
            return self
        native = self.sensor_width_mm / self.sensor_height_mm
        aspect = w / h
        if abs(aspect - native) / native < 0.01:
            sw, sh = self.sensor_width_mm, self.sensor_height_mm
        elif aspect > native:  # wider than the sensor: full width, cropped height
            sw, sh = self.sensor_width_mm, self.sensor_width_mm / aspect
        else:  # taller: full height, cropped width
            sw, sh = self.sensor_height_mm * aspect, self.sensor_height_mm
        return replace(self, sensor_width_mm=sw, sensor_height_mm=sh, image_width_px=w, image_height_px=h)


@lru_cache(maxsize=1)
def _presets() -> tuple[Camera, ...]:
    text = resources.files("uavops.plan").joinpath("cameras.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return tuple(Camera.from_dict(entry) for entry in data["cameras"])


def list_cameras() -> list[Camera]:
    """All presets, in file order."""
    return list(_presets())


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").split())


def get_camera(name: str) -> Camera:
    """The preset called ``name`` (case-insensitive; QGC names, aliases and "Make Model" all work).

    Raises
    ------
    InputError
        No preset has that name; the message lists the closest names.
    """
    key = _norm(name)
    for cam in _presets():
        if key == _norm(cam.name) or key in {_norm(a) for a in cam.aliases}:
            return cam
    for cam in _presets():  # "DJI FC6310" or "FC6310": EXIF make/model
        models = {_norm(cam.model), *(_norm(m) for m in cam.exif_models)}
        if key in models or key in {f"{_norm(cam.make)} {m}" for m in models}:
            return cam
    names = [c.name for c in _presets()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    if not close:
        close = [n for n in names if any(word in _norm(n) for word in key.split() if len(word) > 2)][:3]
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise InputError(f"Unknown camera {name!r}.{hint} Run `uavops cameras` for the list, or give a custom "
                     "camera with --sensor-width/--sensor-height/--image-width/--image-height/--focal-length.")


def find_camera_by_exif(make: str | None, model: str | None, focal_length_mm: float | None = None, *,
                        image_width_px: int | None = None, image_height_px: int | None = None) -> Camera | None:
    """The preset matching a photo's EXIF Make/Model, or None.

    Where several presets share a body (Sony a6000 16 mm/35 mm) ``focal_length_mm`` picks the lens;
    if no preset has that focal length, the nearest preset is returned with the photo's focal length
    (a zoom or a different lens on a known sensor). With the image size, the camera is adapted to a
    cropped aspect or downscaled photos (see :meth:`Camera.for_image_size`).
    """
    if not model:
        return None
    mk, md = _norm(make or ""), _norm(model)
    candidates = []
    for cam in _presets():
        models = {_norm(cam.model), *(_norm(m) for m in cam.exif_models)}
        if md in models or (mk and md.startswith(mk) and md[len(mk):].strip() in models):
            if not mk or _norm(cam.make) in mk or mk in _norm(cam.make) or mk.split()[0] == _norm(cam.make).split()[0]:
                candidates.append(cam)
    if not candidates:
        return None
    cam = candidates[0]
    if focal_length_mm is not None and focal_length_mm > 0:
        cam = min(candidates, key=lambda c: abs(c.focal_length_mm - focal_length_mm))
        if abs(cam.focal_length_mm - focal_length_mm) > 0.03 * cam.focal_length_mm:
            cam = replace(cam, name=f"{cam.make} {cam.model} {focal_length_mm:g}mm",
                          focal_length_mm=float(focal_length_mm), aliases=())
    if image_width_px and image_height_px:
        cam = cam.for_image_size(image_width_px, image_height_px)
    return cam

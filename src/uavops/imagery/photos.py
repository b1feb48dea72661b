"""Reading survey photos: EXIF position, DJI XMP attitude and the pixels at a chosen resolution.

Why both EXIF and XMP: EXIF holds the GPS fix (latitude, longitude, an AMSL altitude that is often
wrong by tens of metres) and the lens focal length; DJI drones add XMP tags with the gimbal attitude
and ``RelativeAltitude`` (height above the take-off point), which is what the ground footprint needs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

__all__ = ["PhotoMeta", "PHOTO_SUFFIXES", "list_photos", "read_photo_meta", "read_image", "PhotoReadError"]

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".tif", ".tiff")


class PhotoReadError(Exception):
    """One photo cannot be used; ``str()`` is the reason shown in the quality report (not fatal)."""


@dataclass(frozen=True)
class PhotoMeta:
    """What one photo tells about where and how it was taken.

    Angles follow DJI's gimbal convention: ``pitch_deg`` −90 looks straight down, 0 at the horizon;
    ``yaw_deg`` is the compass heading (clockwise from north) of the image's top edge when nadir;
    ``roll_deg`` positive tilts the image's right side down.
    """

    path: Path
    width_px: int
    height_px: int
    make: str | None = None
    model: str | None = None
    focal_length_mm: float | None = None
    focal_35mm: float | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    alt_amsl_m: float | None = None
    rel_alt_m: float | None = None
    yaw_deg: float | None = None
    pitch_deg: float | None = None
    roll_deg: float | None = None
    time_utc: datetime | None = None
    orientation: int = 1

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def has_position(self) -> bool:
        return self.lat_deg is not None and self.lon_deg is not None

    def with_pose(self, **kwargs: object) -> "PhotoMeta":
        return replace(self, **kwargs)  # type: ignore[arg-type]


def list_photos(folder: Path) -> list[Path]:
    """JPEG/TIFF files directly in ``folder``, sorted by name (DJI numbers them in capture order)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
                  and not p.name.startswith("."))


def _ratio(value: object) -> float:
    num = getattr(value, "num", None)
    den = getattr(value, "den", None)
    if num is not None and den is not None:
        if den == 0:
            raise ZeroDivisionError
        return float(num) / float(den)
    return float(value)  # type: ignore[arg-type]


def _dms(tag: object) -> float:
    vals = [_ratio(v) for v in tag.values]  # type: ignore[attr-defined]
    while len(vals) < 3:
        vals.append(0.0)
    return vals[0] + vals[1] / 60.0 + vals[2] / 3600.0


_XMP_NUM = re.compile(r"drone-dji:(\w+)\s*=\s*\"([+\-]?[0-9.eE+\-]+)\"|<drone-dji:(\w+)>\s*([+\-]?[0-9.eE+\-]+)\s*<")


def _read_xmp(head: bytes) -> dict[str, float]:
    """DJI XMP numbers (``drone-dji:Name="+1.0"`` attribute or element form)."""
    start = head.find(b"<x:xmpmeta")
    if start < 0:
        return {}
    end = head.find(b"</x:xmpmeta>", start)
    text = head[start:end if end > 0 else start + 65536].decode("utf-8", errors="replace")
    out: dict[str, float] = {}
    for m in _XMP_NUM.finditer(text):
        key, val = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        try:
            out[key] = float(val)
        except ValueError:
            continue
    return out


def read_photo_meta(path: Path) -> PhotoMeta:
    """Read position, attitude, lens and size from one photo without decoding its pixels.

    Raises
    ------
    PhotoReadError
        The file is not a readable JPEG/TIFF (the reason goes into the quality report).
    """
    import exifread

    try:
        with open(path, "rb") as fh:
            head = fh.read(256 * 1024)
            fh.seek(0)
            tags = exifread.process_file(fh, details=False)
    except OSError as exc:
        raise PhotoReadError(f"cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # exifread raises assorted errors on garbage
        raise PhotoReadError(f"has unreadable EXIF data ({type(exc).__name__})") from None
    width, height = _image_size(path, tags)

    def get(name: str) -> object | None:
        return tags.get(name)

    def num(name: str) -> float | None:
        tag = get(name)
        if tag is None:
            return None
        try:
            v = _ratio(tag.values[0])  # type: ignore[attr-defined]
        except (ZeroDivisionError, ValueError, TypeError, IndexError):
            return None
        return v if math.isfinite(v) else None

    lat = lon = alt = None
    try:
        if get("GPS GPSLatitude") is not None and get("GPS GPSLongitude") is not None:
            lat = _dms(get("GPS GPSLatitude"))
            lon = _dms(get("GPS GPSLongitude"))
            if str(get("GPS GPSLatitudeRef") or "N").strip().upper().startswith("S"):
                lat = -lat
            if str(get("GPS GPSLongitudeRef") or "E").strip().upper().startswith("W"):
                lon = -lon
            if lat == 0.0 and lon == 0.0:  # cameras write 0/0 when they had no fix
                lat = lon = None
            alt = num("GPS GPSAltitude")
            if alt is not None and str(get("GPS GPSAltitudeRef") or "0").strip() in {"1", "Below Sea Level"}:
                alt = -alt
    except (ZeroDivisionError, ValueError, TypeError, AttributeError):
        lat = lon = alt = None
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):  # type: ignore[operator]
        lat = lon = None

    xmp = _read_xmp(head)
    yaw = xmp.get("GimbalYawDegree", xmp.get("FlightYawDegree"))
    pitch = xmp.get("GimbalPitchDegree")
    roll = xmp.get("GimbalRollDegree")
    rel_alt = xmp.get("RelativeAltitude")
    if alt is None and "AbsoluteAltitude" in xmp:
        alt = xmp["AbsoluteAltitude"]

    time_utc = None
    stamp = get("EXIF DateTimeOriginal") or get("Image DateTime")
    if stamp is not None:
        try:
            time_utc = datetime.strptime(str(stamp).strip(), "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc)
        except ValueError:
            time_utc = None
    orient_tag = get("Image Orientation")
    orientation = 1
    if orient_tag is not None:
        try:
            orientation = int(orient_tag.values[0])  # type: ignore[attr-defined]
        except (TypeError, ValueError, IndexError):
            orientation = 1
    make = str(get("Image Make")).strip() if get("Image Make") is not None else None
    model = str(get("Image Model")).strip() if get("Image Model") is not None else None
    return PhotoMeta(path=path, width_px=width, height_px=height, make=make or None, model=model or None,
                     focal_length_mm=num("EXIF FocalLength"), focal_35mm=num("EXIF FocalLengthIn35mmFilm"),
                     lat_deg=lat, lon_deg=lon, alt_amsl_m=alt, rel_alt_m=rel_alt, yaw_deg=yaw, pitch_deg=pitch,
                     roll_deg=roll, time_utc=time_utc, orientation=orientation)


def _image_size(path: Path, tags: dict) -> tuple[int, int]:  # type: ignore[type-arg]
    """Pixel size from the image header (Pillow reads only the header, not the pixels)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise PhotoReadError(f"is not a readable JPEG/TIFF image ({type(exc).__name__})") from None
    if w < 16 or h < 16:
        raise PhotoReadError(f"is too small ({w}×{h} px) to be a survey photo")
    return int(w), int(h)


def read_image(path: Path, reduce: int = 1) -> np.ndarray:
    """Decode a photo as BGR uint8, shrunk by ``reduce`` ∈ {1, 2, 4, 8}.

    JPEGs are shrunk inside the decoder (libjpeg DCT scaling), which is several times faster than a
    full decode, so matching at 1–2 MP costs little. Truncated files are reported, not half-used.

    Raises
    ------
    PhotoReadError
        The pixels cannot be decoded.
    """
    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
             8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    flags |= cv2.IMREAD_IGNORE_ORIENTATION
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise PhotoReadError(f"cannot be read ({exc.strerror or exc})") from None
    if path.suffix.lower() in (".jpg", ".jpeg") and (data.size < 4 or data[-2] != 0xFF or data[-1] != 0xD9):
        # libjpeg pads a truncated file with grey silently; a cut-off copy must not enter the mosaic.
        tail = data[-4096:].tobytes()
        if b"\xff\xd9" not in tail:
            raise PhotoReadError("is truncated or corrupt (no JPEG end marker); copy it again from the card")
    img = cv2.imdecode(data, flags)
    if img is None:
        raise PhotoReadError("cannot be decoded (corrupt image data)")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if path.suffix.lower() in (".tif", ".tiff") and reduce > 1:
        img = cv2.resize(img, (img.shape[1] // reduce, img.shape[0] // reduce), interpolation=cv2.INTER_AREA)
    return img

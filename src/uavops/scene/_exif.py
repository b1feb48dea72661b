"""Writing photos the way DJI drones do: EXIF (GPS, time, make/model, focal length) plus DJI XMP.

The layout copies a DJI Phantom JPEG: GPS in the GPS IFD as degrees/minutes/seconds rationals
with N/S/E/W refs and altitude above sea level, ``DateTimeOriginal`` in local "YYYY:MM:DD HH:MM:SS"
(we write UTC and say so in ``OffsetTimeOriginal``), and an XMP packet in the
``http://www.dji.com/drone-dji/1.0/`` namespace with signed two-decimal attitude values.
"""

from __future__ import annotations

import io
import math
import re
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import piexif
from PIL import Image

from ..errors import ImageryError
from ..files import atomic_path

__all__ = ["build_xmp", "read_photo_meta", "write_photo"]


def _rational(value: float, denominator: int = 10000) -> tuple[int, int]:
    return int(round(value * denominator)), denominator


def _dms(value_deg: float) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    value = abs(value_deg)
    deg = int(value)
    minutes_f = (value - deg) * 60
    minutes = int(minutes_f)
    seconds = (minutes_f - minutes) * 60
    sec = _rational(seconds, 100000)
    if sec[0] >= 60 * 100000:  # rounding carried into the next minute
        sec = (sec[0] - 60 * 100000, 100000)
        minutes += 1
        if minutes == 60:
            minutes, deg = 0, deg + 1
    return (deg, 1), (minutes, 1), sec


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def build_xmp(pose: Any, camera: Any, rel_alt_m: float, time_utc: datetime, gimbal: tuple[float, float, float],
              extra: dict[str, str] | None = None) -> bytes:
    """DJI-style XMP packet (``drone-dji:`` attributes on one ``rdf:Description``)."""
    groll, gpitch, gyaw = gimbal
    fyaw = (pose.yaw_deg + 180.0) % 360.0 - 180.0
    attrs = {
        "xmp:ModifyDate": time_utc.strftime("%Y-%m-%d"),
        "xmp:CreateDate": time_utc.strftime("%Y-%m-%d"),
        "tiff:Make": camera.make,
        "tiff:Model": camera.model,
        "dc:format": "image/jpeg",
        "drone-dji:GpsLatitude": f"{pose.lat_deg:+.8f}",
        "drone-dji:GpsLongitude": f"{pose.lon_deg:+.8f}",
        "drone-dji:AbsoluteAltitude": _signed(pose.alt_amsl_m),
        "drone-dji:RelativeAltitude": _signed(rel_alt_m),
        "drone-dji:GimbalRollDegree": _signed(groll),
        "drone-dji:GimbalYawDegree": _signed(gyaw),
        "drone-dji:GimbalPitchDegree": _signed(gpitch),
        "drone-dji:FlightRollDegree": _signed(pose.roll_deg),
        "drone-dji:FlightYawDegree": _signed(fyaw),
        "drone-dji:FlightPitchDegree": _signed(pose.pitch_deg),
        "drone-dji:CamReverse": "0",
        "drone-dji:GimbalReverse": "0",
    }
    attrs.update(extra or {})
    body = "\n".join(f'   {k}="{v}"' for k, v in attrs.items())
    text = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="DJI Meta Data"\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"\n'
        '    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"\n'
        f"{body}>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return text.encode("utf-8")


def _exif_bytes(pose: Any, camera: Any, time_utc: datetime, width: int, height: int, shutter_s: float,
                image_no: int | None) -> bytes:
    stamp = time_utc.strftime("%Y:%m:%d %H:%M:%S")
    sub = f"{time_utc.microsecond // 1000:03d}"
    exposure = Fraction(shutter_s).limit_denominator(100000)
    zeroth = {
        piexif.ImageIFD.Make: camera.make.encode(),
        piexif.ImageIFD.Model: camera.model.encode(),
        piexif.ImageIFD.Orientation: 1,
        piexif.ImageIFD.XResolution: (72, 1),
        piexif.ImageIFD.YResolution: (72, 1),
        piexif.ImageIFD.ResolutionUnit: 2,
        piexif.ImageIFD.Software: b"uavops virtual camera",
        piexif.ImageIFD.DateTime: stamp.encode(),
        piexif.ImageIFD.YCbCrPositioning: 1,
    }
    if image_no is not None:
        zeroth[piexif.ImageIFD.ImageDescription] = f"DCIM\\100MEDIA\\IMG_{image_no:04d}.JPG".encode()
    exif = {
        piexif.ExifIFD.ExposureTime: (exposure.numerator, exposure.denominator),
        piexif.ExifIFD.FNumber: (28, 10),
        piexif.ExifIFD.ExposureProgram: 2,
        piexif.ExifIFD.ISOSpeedRatings: 100,
        piexif.ExifIFD.ExifVersion: b"0230",
        piexif.ExifIFD.DateTimeOriginal: stamp.encode(),
        piexif.ExifIFD.DateTimeDigitized: stamp.encode(),
        piexif.ExifIFD.OffsetTimeOriginal: b"+00:00",
        piexif.ExifIFD.SubSecTimeOriginal: sub.encode(),
        piexif.ExifIFD.ComponentsConfiguration: b"\x01\x02\x03\x00",
        piexif.ExifIFD.FocalLength: _rational(camera.focal_length_mm, 100),
        piexif.ExifIFD.FocalLengthIn35mmFilm: int(round(camera.focal_35mm_equiv)),
        piexif.ExifIFD.ColorSpace: 1,
        piexif.ExifIFD.PixelXDimension: width,
        piexif.ExifIFD.PixelYDimension: height,
        piexif.ExifIFD.FocalPlaneXResolution: _rational(width / (camera.sensor_width_mm / 10.0), 1000),
        piexif.ExifIFD.FocalPlaneYResolution: _rational(height / (camera.sensor_height_mm / 10.0), 1000),
        piexif.ExifIFD.FocalPlaneResolutionUnit: 3,  # centimetres
        piexif.ExifIFD.ExposureMode: 0,
        piexif.ExifIFD.WhiteBalance: 0,
        piexif.ExifIFD.SceneCaptureType: 0,
        piexif.ExifIFD.FileSource: b"\x03",
    }
    gps = {
        piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
        piexif.GPSIFD.GPSLatitudeRef: b"N" if pose.lat_deg >= 0 else b"S",
        piexif.GPSIFD.GPSLatitude: _dms(pose.lat_deg),
        piexif.GPSIFD.GPSLongitudeRef: b"E" if pose.lon_deg >= 0 else b"W",
        piexif.GPSIFD.GPSLongitude: _dms(pose.lon_deg),
        piexif.GPSIFD.GPSAltitudeRef: 0 if pose.alt_amsl_m >= 0 else 1,
        piexif.GPSIFD.GPSAltitude: _rational(abs(pose.alt_amsl_m), 1000),
        piexif.GPSIFD.GPSTimeStamp: ((time_utc.hour, 1), (time_utc.minute, 1),
                                     _rational(time_utc.second + time_utc.microsecond / 1e6, 1000)),
        piexif.GPSIFD.GPSDateStamp: time_utc.strftime("%Y:%m:%d").encode(),
        piexif.GPSIFD.GPSMapDatum: b"WGS-84",
    }
    return piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}, "thumbnail": None})


def write_photo(path: str | Path, img: np.ndarray, pose: Any, camera: Any, time_utc: datetime, rel_alt_m: float, *,
                quality: int = 92, shutter_s: float = 1 / 800, image_no: int | None = None,
                gimbal: tuple[float, float, float] | None = None) -> Path:
    """Write ``img`` (RGB uint8) as a JPEG with DJI-style EXIF and XMP; atomic.

    ``time_utc`` must be timezone-aware (or naive UTC); ``rel_alt_m`` is the height above the
    take-off point (``drone-dji:RelativeAltitude``). ``gimbal`` defaults to
    :func:`uavops.scene.camera.gimbal_angles` of ``pose`` (body-fixed nadir camera).

    Raises
    ------
    ImageryError
        The image is not an RGB uint8 array of the camera's size.
    """
    from .camera import gimbal_angles

    path = Path(path)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ImageryError(f"A photo must be an RGB uint8 array, not {img.dtype} {img.shape}.")
    if time_utc.tzinfo is not None:
        time_utc = time_utc.astimezone(timezone.utc)
    h, w = img.shape[:2]
    exif = _exif_bytes(pose, camera, time_utc, w, h, shutter_s, image_no)
    xmp = build_xmp(pose, camera, rel_alt_m, time_utc, gimbal or gimbal_angles(pose))
    pil = Image.fromarray(img, "RGB")
    with atomic_path(path, suffix=".jpg") as tmp:
        pil.save(tmp, "JPEG", quality=quality, exif=exif, xmp=xmp, subsampling=2)
    return path


_XMP_ATTR = re.compile(r'drone-dji:(\w+)="([^"]*)"')


def read_photo_meta(path: str | Path) -> dict[str, Any]:
    """Read back what :func:`write_photo` (or a DJI drone) wrote: GPS, time, camera, DJI XMP angles.

    Returns a dict with ``lat_deg``, ``lon_deg``, ``alt_amsl_m``, ``make``, ``model``, ``focal_length_mm``,
    ``focal_35mm``, ``width_px``, ``height_px``, ``datetime_original`` and every ``drone-dji`` XMP
    attribute as a float when numeric (e.g. ``RelativeAltitude``, ``GimbalPitchDegree``).
    """
    import exifread

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ImageryError(f"Cannot read the photo {path} ({exc.strerror}); check the path.") from None
    tags = exifread.process_file(io.BytesIO(data), details=False)

    def ratio(v: Any) -> float:
        return float(v.num) / float(v.den) if v.den else math.nan

    def dms(tag: str, ref: str) -> float | None:
        if tag not in tags:
            return None
        d, m, s = (ratio(x) for x in tags[tag].values)
        val = d + m / 60 + s / 3600
        return -val if str(tags.get(ref, "")).strip() in ("S", "W") else val

    out: dict[str, Any] = {
        "lat_deg": dms("GPS GPSLatitude", "GPS GPSLatitudeRef"),
        "lon_deg": dms("GPS GPSLongitude", "GPS GPSLongitudeRef"),
        "alt_amsl_m": ratio(tags["GPS GPSAltitude"].values[0]) * (-1 if str(tags.get("GPS GPSAltitudeRef", "0")) == "1" else 1)
        if "GPS GPSAltitude" in tags else None,
        "make": str(tags.get("Image Make", "")).strip(),
        "model": str(tags.get("Image Model", "")).strip(),
        "focal_length_mm": ratio(tags["EXIF FocalLength"].values[0]) if "EXIF FocalLength" in tags else None,
        "focal_35mm": int(str(tags["EXIF FocalLengthIn35mmFilm"])) if "EXIF FocalLengthIn35mmFilm" in tags else None,
        "datetime_original": str(tags.get("EXIF DateTimeOriginal", "")) or None,
    }
    with Image.open(io.BytesIO(data)) as im:
        out["width_px"], out["height_px"] = im.size
    start = data.find(b"<x:xmpmeta")
    end = data.find(b"</x:xmpmeta>")
    if start >= 0 and end > start:
        for key, value in _XMP_ATTR.findall(data[start:end].decode("utf-8", "replace")):
            try:
                out[key] = float(value)
            except ValueError:
                out[key] = value
    return out

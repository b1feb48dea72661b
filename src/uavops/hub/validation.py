"""Checks every uploaded package before the hub stores any of it.

Each failure raises a :class:`~uavops.errors.HubError` subclass with one sentence that tells the
operator what is wrong and what to do; the web layer turns it into a 4xx JSON answer. Nothing here
touches the database: the service calls :func:`extract_archive` and :func:`validate_package` on a
staging folder and registers the result only when both succeed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import mmap
import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Self

from pydantic import ValidationError

from ..errors import HubValidationError, PayloadTooLargeError
from ..package import DAMAGE_GRADES, DamagePackageMeta, PackageFile, sha256_file
from .config import HubConfig

__all__ = [
    "TIFF_MAGIC",
    "ExtractedFiles",
    "ValidatedPackage",
    "extract_archive",
    "validate_geojson",
    "validate_geotiff",
    "validate_package",
]

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
GEOMETRY_TYPES = ("Polygon", "MultiPolygon", "Point", "MultiPoint")
REQUIRED_ROLES = ("damage_geojson", "damage_raster")
MAX_RASTER_SIDE_PX = 200_000
COG_TILING_THRESHOLD_PX = 512


@dataclass
class RasterInfo:
    width: int
    height: int
    count: int
    epsg: int | None
    gsd_m: float | None
    bounds_wgs84: tuple[float, float, float, float]
    tiled: bool
    overviews: int


@dataclass
class ValidatedPackage:
    """A package that passed every check, ready to be registered."""

    root: Path
    meta: DamagePackageMeta
    files: list[tuple[PackageFile, Path]]
    features: list[dict[str, Any]]
    rasters: dict[str, RasterInfo] = field(default_factory=dict)
    size_bytes: int = 0

    def grade_counts(self) -> dict[str, int]:
        counts = {g: 0 for g in DAMAGE_GRADES}
        for feat in self.features:
            counts[feat["properties"]["damage_gra"]] += 1
        return counts


# --------------------------------------------------------------------------- archives


def _safe_member_name(name: str) -> PurePosixPath:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]):
        raise HubValidationError(
            f"The archive member '{name}' points outside the package (absolute path or "
            "'..'); rebuild the package with uavops damage."
        )
    return posix


class ExtractedFiles(dict):  # type: ignore[type-arg]
    """relative path -> SHA-256 hex of every file written by :func:`extract_archive` (hashed while copying)."""


def _copy_limited(src: io.BufferedIOBase | Any, dst: Path, limit_bytes: int, name: str) -> str:
    """Copy at most ``limit_bytes`` and return the SHA-256 of what was written (one pass over the data)."""
    written = 0
    digest = hashlib.sha256()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as out:
        while block := src.read(1 << 20):
            written += len(block)
            if written > limit_bytes:
                raise PayloadTooLargeError(
                    f"The archive member '{name}' expands beyond its allowed size; "
                    "send the package without extra compression."
                )
            digest.update(block)
            out.write(block)
    # not fsynced here: only files that become blobs must be durable, and the blob store syncs them
    return digest.hexdigest()


class _ArchiveView:
    """Read-only memory map of an uncompressed archive (zero-copy hashing of its members)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by __exit__
        self.size = os.fstat(self._fh.fileno()).st_size
        self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if self.size else None

    def fileno(self) -> int:
        return self._fh.fileno()

    def sha256(self, start: int, length: int) -> str:
        digest = hashlib.sha256()
        if length and self._map is not None:
            with memoryview(self._map) as view:
                for pos in range(start, start + length, 8 << 20):
                    with view[pos : min(start + length, pos + (8 << 20))] as piece:
                        digest.update(piece)
        return digest.hexdigest()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._map is not None:
            self._map.close()
        self._fh.close()


def _copy_range(view: _ArchiveView, start: int, length: int, dst: Path, name: str) -> str:
    """Copy ``length`` bytes at ``start`` of the archive to ``dst``; return their SHA-256.

    Not fsynced here: only files that become blobs need to be durable, and the blob store syncs them.
    """
    if start + length > view.size:
        raise HubValidationError(
            f"The archive member '{name}' is cut short (the archive is truncated); "
            "build the package again and resend it."
        )
    digest = view.sha256(start, length)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as out:
        done = 0
        try:
            while done < length:
                n = os.copy_file_range(view.fileno(), out.fileno(), length - done, start + done, done)
                if n == 0:
                    break
                done += n
        except (AttributeError, OSError):  # no copy_file_range (not Linux, or the file system): user space
            out.seek(0)
            out.truncate(0)
            with open(view.path, "rb") as src:
                src.seek(start)
                done = 0
                while done < length:
                    block = src.read(min(1 << 20, length - done))
                    if not block:
                        break
                    out.write(block)
                    done += len(block)
        if done != length:
            raise HubValidationError(
                f"The archive member '{name}' is cut short (the archive is truncated); "
                "build the package again and resend it."
            )
    return digest


def extract_archive(
    archive: Path, dest: Path, config: HubConfig, hashes: ExtractedFiles | None = None
) -> Path:
    """Unpack a .tar, .tar.gz or .zip package into ``dest`` and return the package folder.

    Only regular files and folders are accepted: no links, devices, absolute paths or ``..``. The
    archive may expand at most ``config.max_decompression_ratio`` times its own size.

    Raises
    ------
    HubValidationError
        Not an archive, unsafe member names or types, too many members.
    PayloadTooLargeError
        A member or the whole archive expands beyond the limits.
    """
    archive_bytes = max(archive.stat().st_size, 1)
    budget = min(int(archive_bytes * config.max_decompression_ratio) + (1 << 16), config.max_org_bytes)
    with open(archive, "rb") as fh:
        head = fh.read(512)
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            zf = zipfile.ZipFile(archive)
        except zipfile.BadZipFile:
            raise HubValidationError(
                "The upload is a damaged zip file; build the package again and resend it."
            ) from None
        with zf:
            infos = zf.infolist()
            if len(infos) > config.max_archive_members:
                raise HubValidationError(
                    f"The archive has {len(infos)} members, more than the allowed "
                    f"{config.max_archive_members}; send only the package files."
                )
            for info in infos:
                name = _safe_member_name(info.filename)
                mode = (info.external_attr >> 16) & 0o170000
                if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    raise HubValidationError(
                        f"The archive member '{info.filename}' is a link or special file; "
                        "packages may hold only regular files."
                    )
                if info.is_dir():
                    continue
                if info.file_size > config.max_file_bytes:
                    raise PayloadTooLargeError(
                        f"'{info.filename}' is {info.file_size} bytes, more than the "
                        f"{config.max_file_bytes} allowed per file; split or downsample it."
                    )
                if (
                    info.compress_size
                    and info.file_size / info.compress_size > config.max_decompression_ratio
                ):
                    raise PayloadTooLargeError(
                        f"'{info.filename}' expands {info.file_size / info.compress_size:.0f}"
                        " times, which looks like a zip bomb; send the files uncompressed."
                    )
                total += info.file_size
                if total > budget:
                    raise PayloadTooLargeError(
                        "The archive expands far beyond its own size (decompression-ratio "
                        "limit); send the package uncompressed."
                    )
                with zf.open(info) as src:
                    digest = _copy_limited(src, dest / name, min(info.file_size, budget), info.filename)
                if hashes is not None:
                    hashes[str(dest / name)] = digest
    else:
        try:
            tf = tarfile.open(archive, mode="r:*")
        except tarfile.TarError:
            raise HubValidationError(
                "The upload is not a .tar, .tar.gz or .zip package; send the package "
                "folder with uavops upload."
            ) from None
        # An uncompressed tar holds each member's bytes in one piece: hash them in place (mmap) and
        # let the kernel copy them (copy_file_range), instead of reading and writing in Python.
        plain = (
            None if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" else archive
        )
        with tf, _ArchiveView(plain) if plain is not None else contextlib.nullcontext() as view:
            plain = view
            count = 0
            for member in tf:
                count += 1
                if count > config.max_archive_members:
                    raise HubValidationError(
                        f"The archive has more than {config.max_archive_members} members; "
                        "send only the package files."
                    )
                name = _safe_member_name(member.name)
                if member.isdir():
                    continue
                if not member.isreg():
                    raise HubValidationError(
                        f"The archive member '{member.name}' is a link or special file; "
                        "packages may hold only regular files."
                    )
                if member.size > config.max_file_bytes:
                    raise PayloadTooLargeError(
                        f"'{member.name}' is {member.size} bytes, more than the "
                        f"{config.max_file_bytes} allowed per file; split or downsample it."
                    )
                total += member.size
                if total > budget:
                    raise PayloadTooLargeError(
                        "The archive expands far beyond its own size (decompression-ratio "
                        "limit); send the package uncompressed."
                    )
                if plain is not None and not member.issparse():
                    digest = _copy_range(plain, member.offset_data, member.size, dest / name, member.name)
                else:
                    src = tf.extractfile(member)
                    assert src is not None
                    digest = _copy_limited(src, dest / name, member.size, member.name)
                if hashes is not None:
                    hashes[str(dest / name)] = digest
    candidates = [p.parent for p in dest.rglob("package.json")]
    if len(candidates) != 1:
        raise HubValidationError(
            "The archive must hold exactly one package.json; send one damage package per upload."
        )
    return candidates[0]


# --------------------------------------------------------------------------- GeoJSON


def _check_position(pos: Any, where: str) -> None:
    if (
        not isinstance(pos, (list, tuple))
        or len(pos) < 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pos)
    ):
        raise HubValidationError(f"{where} has a position that is not [lon, lat]; fix the geometry.")
    lon, lat = pos[0], pos[1]
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise HubValidationError(f"{where} has a non-finite coordinate; fix the geometry.")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise HubValidationError(
            f"{where} has coordinates ({lon}, {lat}) outside WGS84 longitude/latitude "
            "ranges; GeoJSON must be in WGS84 (RFC 7946), reproject it."
        )


def _check_ring(ring: Any, where: str) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        raise HubValidationError(f"{where} has a ring with fewer than 4 positions; fix the polygon.")
    for pos in ring:
        _check_position(pos, where)
    if list(ring[0][:2]) != list(ring[-1][:2]):
        raise HubValidationError(
            f"{where} has a ring that is not closed (first and last positions differ); fix the polygon."
        )


def _check_geometry(geom: Any, where: str) -> None:
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    if not isinstance(geom, dict) or geom.get("type") not in GEOMETRY_TYPES:
        kind = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
        raise HubValidationError(
            f"{where} has geometry type {kind!r}; damage features must be {', '.join(GEOMETRY_TYPES)}."
        )
    coords = geom.get("coordinates")
    gtype = geom["type"]
    try:
        if gtype == "Point":
            _check_position(coords, where)
        elif gtype == "MultiPoint":
            for pos in coords:
                _check_position(pos, where)
        elif gtype == "Polygon":
            if not isinstance(coords, list) or not coords:
                raise HubValidationError(f"{where} has an empty polygon; remove the feature or fix it.")
            for ring in coords:
                _check_ring(ring, where)
        else:
            if not isinstance(coords, list) or not coords:
                raise HubValidationError(f"{where} has an empty multipolygon; remove the feature or fix it.")
            for poly in coords:
                if not isinstance(poly, list) or not poly:
                    raise HubValidationError(f"{where} has an empty polygon part; fix the geometry.")
                for ring in poly:
                    _check_ring(ring, where)
    except TypeError:
        raise HubValidationError(f"{where} has malformed coordinates; fix the geometry.") from None
    if gtype in ("Polygon", "MultiPolygon"):
        try:
            shp = shape(geom)
        except Exception:  # shapely raises several types for nonsense input
            raise HubValidationError(
                f"{where} has a geometry shapely cannot read; fix the geometry."
            ) from None
        if not shp.is_valid:
            raise HubValidationError(
                f"{where} has an invalid geometry ({explain_validity(shp)}); repair it "
                "(e.g. make_valid) and export again."
            )


def validate_geojson(path: Path, config: HubConfig) -> list[dict[str, Any]]:
    """Check an RFC 7946 FeatureCollection of damage features; return its features.

    Raises
    ------
    HubValidationError
        Not JSON, not a FeatureCollection, invalid or out-of-range geometry, unknown ``damage_gra``,
        or more features than ``config.max_features``.
    """
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise HubValidationError(f"{path.name} is not valid JSON; export the damage GeoJSON again.") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise HubValidationError(f"{path.name} must be a GeoJSON FeatureCollection (RFC 7946).")
    crs = data.get("crs")
    if crs is not None and "CRS84" not in json.dumps(crs) and "4326" not in json.dumps(crs):
        raise HubValidationError(
            f"{path.name} declares a CRS other than WGS84; GeoJSON must be in WGS84 "
            "longitude/latitude (RFC 7946), reproject it."
        )
    feats = data.get("features")
    if not isinstance(feats, list):
        raise HubValidationError(f"{path.name} has no 'features' list; export the damage GeoJSON again.")
    if len(feats) > config.max_features:
        raise PayloadTooLargeError(
            f"{path.name} has {len(feats)} features, more than the {config.max_features} "
            "allowed; split the area into several packages."
        )
    out: list[dict[str, Any]] = []
    for i, feat in enumerate(feats):
        where = f"Feature {i} of {path.name}"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise HubValidationError(f"{where} is not a GeoJSON Feature.")
        _check_geometry(feat.get("geometry"), where)
        props = feat.get("properties")
        if not isinstance(props, dict):
            raise HubValidationError(f"{where} has no properties object; it needs at least damage_gra.")
        grade = props.get("damage_gra")
        if grade not in DAMAGE_GRADES:
            raise HubValidationError(
                f"{where} has damage_gra {grade!r}; use one of: {', '.join(DAMAGE_GRADES)}."
            )
        out.append({"type": "Feature", "geometry": feat["geometry"], "properties": props})
    return out


# --------------------------------------------------------------------------- GeoTIFF


def validate_geotiff(path: Path, what: str) -> RasterInfo:
    """Open a file strictly as a GeoTIFF and check it is georeferenced and cloud-optimised when large.

    Only GDAL's GTiff driver may open it (no VRT or other driver that could read other files on the
    hub), side-car files are ignored, and the first bytes must be a TIFF signature.

    Raises
    ------
    HubValidationError
        Not a TIFF, unreadable, no CRS/geotransform, or a large raster that is not tiled with overviews.
    """
    import rasterio
    from rasterio.errors import RasterioError
    from rasterio.warp import transform_bounds

    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic not in TIFF_MAGIC:
        raise HubValidationError(
            f"{what} ({path.name}) is not a GeoTIFF (wrong file signature); "
            "export it as a Cloud-Optimised GeoTIFF."
        )
    try:
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", GTIFF_IGNORE_READ_ERRORS="NO"):
            with rasterio.open(path, driver="GTiff") as ds:
                if ds.driver != "GTiff":
                    raise HubValidationError(f"{what} ({path.name}) is not a GeoTIFF; export it as a COG.")
                if ds.crs is None or ds.transform.is_identity:
                    raise HubValidationError(
                        f"{what} ({path.name}) has no coordinate system or geotransform; "
                        "export a georeferenced GeoTIFF."
                    )
                if max(ds.width, ds.height) > MAX_RASTER_SIDE_PX:
                    raise PayloadTooLargeError(
                        f"{what} ({path.name}) is {ds.width}x{ds.height} pixels, larger "
                        f"than {MAX_RASTER_SIDE_PX} on a side; downsample it."
                    )
                tiled = bool(ds.profile.get("tiled", False))
                overviews = len(ds.overviews(1))
                if max(ds.width, ds.height) > COG_TILING_THRESHOLD_PX and (
                    not ds.profile.get("tiled") or overviews == 0
                ):
                    raise HubValidationError(
                        f"{what} ({path.name}) is not cloud-optimised (needs internal tiles "
                        "and overviews); write it with the COG driver."
                    )
                epsg = ds.crs.to_epsg()
                gsd_m = abs(ds.transform.a) if ds.crs.is_projected else None
                b = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
                # read the last block of each band to prove the file is complete and decodes
                ds.read(window=((max(0, ds.height - 16), ds.height), (max(0, ds.width - 16), ds.width)))
                return RasterInfo(ds.width, ds.height, ds.count, epsg, gsd_m, tuple(b), tiled, overviews)  # type: ignore[arg-type]
    except HubValidationError:
        raise
    except (RasterioError, ValueError, OSError) as exc:
        raise HubValidationError(
            f"{what} ({path.name}) cannot be read as a GeoTIFF ({str(exc).splitlines()[0][:120]});"
            " export it again as a COG."
        ) from None


# --------------------------------------------------------------------------- package


def _pydantic_sentence(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "package.json"
    return f"{loc}: {err.get('msg', 'invalid value')}"


def validate_package(root: Path, config: HubConfig, hashes: ExtractedFiles | None = None) -> ValidatedPackage:
    """Check package.json, every listed file (size, SHA-256, format) and the damage features.

    Raises
    ------
    HubValidationError, PayloadTooLargeError
        The first problem found, in one sentence.
    """
    meta_path = root / "package.json"
    if not meta_path.is_file():
        raise HubValidationError("The package has no package.json; make it with uavops damage.")
    try:
        meta = DamagePackageMeta.model_validate_json(meta_path.read_bytes())
    except ValidationError as exc:
        raise HubValidationError(
            f"package.json is invalid ({_pydantic_sentence(exc)}); make the package again with uavops damage."
        ) from None
    listed: list[tuple[PackageFile, Path]] = []
    seen: set[str] = set()
    total = 0
    for pf in meta.files:
        if pf.path in seen:
            raise HubValidationError(f"package.json lists {pf.path} twice; list each file once.")
        seen.add(pf.path)
        path = root / pf.path
        if not path.is_file() or path.is_symlink():
            raise HubValidationError(
                f"package.json lists {pf.path} but the package does not contain it; "
                "send the complete package folder."
            )
        size = path.stat().st_size
        if size > config.max_file_bytes:
            raise PayloadTooLargeError(
                f"{pf.path} is {size} bytes, more than the {config.max_file_bytes} allowed "
                "per file; downsample it."
            )
        actual = (hashes or {}).get(str(path)) or sha256_file(path)
        if size != pf.size_bytes or actual != pf.sha256:
            raise HubValidationError(
                f"{pf.path} does not match the size/SHA-256 in package.json (corrupted or "
                "edited after packaging); make the package again."
            )
        total += size
        listed.append((pf, path))
    extra = sorted(
        str(p.relative_to(root).as_posix())
        for p in root.rglob("*")
        if p.is_file() and p.name != "package.json" and p.relative_to(root).as_posix() not in seen
    )
    if extra:
        raise HubValidationError(
            f"The package holds files not listed in package.json ({', '.join(extra[:3])}); "
            "list them or remove them."
        )
    for role in REQUIRED_ROLES:
        count = sum(1 for pf, _ in listed if pf.role == role)
        if count != 1:
            raise HubValidationError(
                f"The package must contain exactly one '{role}' file (found {count}); "
                "make it with uavops damage."
            )
    if sum(1 for pf, _ in listed if pf.role == "mosaic") > 1:
        raise HubValidationError(
            "The package may contain at most one mosaic; send further mosaics separately."
        )
    features: list[dict[str, Any]] = []
    rasters: dict[str, RasterInfo] = {}
    for pf, path in listed:
        if pf.role == "damage_geojson":
            features = validate_geojson(path, config)
        elif pf.role in ("damage_raster", "mosaic") or (
            pf.role == "change_mask" and pf.media_type.startswith("image/tiff")
        ):
            rasters[pf.role] = validate_geotiff(path, pf.role.replace("_", " "))
        elif pf.role == "change_mask":
            with open(path, "rb") as fh:
                if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                    raise HubValidationError(
                        f"The change mask {pf.path} is neither a GeoTIFF nor a PNG; make the "
                        "package again with uavops damage."
                    )
    return ValidatedPackage(
        root=root, meta=meta, files=listed, features=features, rasters=rasters, size_bytes=total
    )


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

"""The field upload client: resumable tus uploads over weak links, with an outbox on disk.

Operators in a field tent lose the link often. Everything the client needs to continue is on disk:
the package is packed once into a deterministic tar in the outbox (``Settings.outbox_dir``) with a
``state.json`` that remembers the hub's upload URL. A dropped connection, a restarted hub, or the
client itself being killed all end the same way: on the next try the client asks the hub how many
bytes it has (``HEAD``) and sends only the rest. The package id is the idempotency key, so a
package sent twice is one report.

The client only imports httpx; pass ``transport=httpx.ASGITransport(app=create_app(settings))`` to
talk to an in-process hub in tests.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import mmap
import os
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx

from ..errors import (
    AuthenticationError,
    ConflictError,
    HubError,
    HubValidationError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UploadError,
)
from ..files import atomic_path, ensure_out_dir, read_json, write_json
from ..package import DamagePackageMeta, PackageFile

__all__ = [
    "HubUnreachableError",
    "Outbox",
    "OutboxEntry",
    "UploadClient",
    "UploadResult",
    "build_archive",
    "sync_transport",
]

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
DEFAULT_CHUNK_BYTES = 2 << 20
"""First chunk of an adaptive upload."""
MAX_CHUNK_BYTES = 32 << 20
"""Ceiling for adaptive chunks (the hub accepts up to 64 MiB)."""
MIN_CHUNK_BYTES = 64 << 10
"""Floor an adaptive upload shrinks to on a failing link."""
CHUNK_TARGET_S = 3.0
"""Adaptive chunks aim at this many seconds per PATCH: long enough that per-request costs vanish,
short enough that a dropped link loses little and the offset advances often."""
RETRY_STATUSES = {408, 423, 425, 429, 500, 502, 503, 504}
ERROR_BY_STATUS: dict[int, type[HubError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: HubValidationError,
}

ProgressFn = Callable[[int, int], None]


class HubUnreachableError(UploadError):
    """The hub stayed unreachable through every retry; the package waits in the outbox."""


@dataclass
class UploadResult:
    """What the hub answered: the report (and version) the package became."""

    report_id: str
    version: int
    status: str  # created | new_version | exists
    package_id: str
    bytes_sent: int = 0
    resumed_from: int = 0
    upload_url: str | None = None


# --------------------------------------------------------------------------- transports


class _SyncOverAsync(httpx.BaseTransport):
    """Drive an async transport (e.g. ``httpx.ASGITransport``) from the synchronous client.

    Requests are buffered (chunks are at most a few MB) and run on a private event loop thread, so
    an in-process hub behaves like a remote one without a socket.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        import asyncio
        import threading

        self._inner = inner
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="uavops-asgi-loop", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        body = request.read()
        req = httpx.Request(
            request.method, request.url, headers=request.headers, content=body, extensions=request.extensions
        )

        async def run() -> tuple[int, httpx.Headers, bytes]:
            resp = await self._inner.handle_async_request(req)
            content = b"".join([part async for part in resp.stream])  # type: ignore[union-attr]
            await resp.aclose()
            return resp.status_code, resp.headers, content

        status, headers, content = asyncio.run_coroutine_threadsafe(run(), self._loop).result()
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def sync_transport(
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
) -> httpx.BaseTransport | None:
    """Accept either kind of httpx transport; async ones (ASGITransport) are wrapped."""
    if transport is None or isinstance(transport, httpx.BaseTransport):
        return transport
    return _SyncOverAsync(transport)


# --------------------------------------------------------------------------- packing


def _read_meta_from(package: Path) -> tuple[DamagePackageMeta, bytes]:
    """package.json of a folder, .tar(.gz) or .zip package."""
    raw: bytes | None = None
    if package.is_dir():
        path = package / "package.json"
        if not path.is_file():
            raise InputError(f"{package} has no package.json; give the folder uavops damage wrote.")
        raw = path.read_bytes()
    elif zipfile.is_zipfile(package):
        with zipfile.ZipFile(package) as zf:
            name = next((n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "package.json"), None)
            raw = zf.read(name) if name else None
    else:
        try:
            with tarfile.open(package, "r:*") as tf:
                member = next(
                    (m for m in tf if m.isreg() and m.name.rsplit("/", 1)[-1] == "package.json"), None
                )
                raw = tf.extractfile(member).read() if member else None  # type: ignore[union-attr]
        except (tarfile.TarError, OSError):
            raise InputError(
                f"{package} is not a package folder, .tar or .zip; give the folder uavops damage wrote."
            ) from None
    if raw is None:
        raise InputError(f"{package} holds no package.json; give the folder uavops damage wrote.")
    try:
        return DamagePackageMeta.model_validate_json(raw), raw
    except ValueError as exc:
        raise InputError(
            f"package.json in {package} is invalid ({str(exc).splitlines()[0]}); make the package "
            "again with uavops damage."
        ) from None


MOSAIC_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def with_mosaic(meta: DamagePackageMeta, mosaic: Path) -> tuple[DamagePackageMeta, bytes]:
    """package.json extended by a mosaic file (``mosaic.tif``, role ``mosaic``), as bytes."""
    if meta.file("mosaic") is not None:
        raise InputError("The package already contains a mosaic; leave out --mosaic.")
    if any(f.path == "mosaic.tif" for f in meta.files):
        raise InputError("The package already has a file named mosaic.tif; rename it or leave out --mosaic.")
    entry = PackageFile(
        path="mosaic.tif",
        role="mosaic",
        media_type=MOSAIC_MEDIA_TYPE,
        size_bytes=mosaic.stat().st_size,
        sha256=_sha256(mosaic),
    )
    extended = meta.model_copy(update={"files": [*meta.files, entry]})
    raw = (json.dumps(extended.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return extended, raw


def build_archive(
    package_dir: Path,
    meta: DamagePackageMeta,
    out: Path,
    *,
    meta_bytes: bytes | None = None,
    extra: dict[str, Path] | None = None,
) -> None:
    """Pack package.json and the files it lists into a tar with fixed metadata.

    The same package always gives the same bytes, so an interrupted upload can resume even if
    the archive has to be rebuilt. ``meta_bytes`` replaces package.json (e.g. with an attached
    mosaic) and ``extra`` maps archive names to files outside the package folder.
    """
    extra = extra or {}
    names = sorted(f.path for f in meta.files)

    def info_for(name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with atomic_path(out, suffix=".tar") as tmp, tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tf:
        if meta_bytes is None:
            meta_bytes = (package_dir / "package.json").read_bytes()
        tf.addfile(info_for("package.json", len(meta_bytes)), io.BytesIO(meta_bytes))
        for name in names:
            src = extra.get(name) or package_dir / name
            if not src.is_file():
                raise InputError(
                    f"package.json lists {name} but {package_dir} does not contain it; make the "
                    "package again with uavops damage."
                )
            with open(src, "rb") as fh:
                tf.addfile(info_for(name, src.stat().st_size), fh)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- outbox


@dataclass
class OutboxEntry:
    """One queued package: ``archive`` to send plus resumable ``state`` (saved in state.json)."""

    folder: Path
    package_id: str
    package_sha256: str
    archive: Path
    sha256: str
    size_bytes: int
    source: str
    event_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)

    def save(self) -> None:
        data = {k: v for k, v in asdict(self).items() if k not in ("folder",)}
        data["archive"] = self.archive.name
        write_json(self.folder / "state.json", data)


class Outbox:
    """Packages waiting to be sent, one sub-folder per package id."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def enqueue(
        self, package: Path, *, mosaic: Path | None = None, event_id: str | None = None
    ) -> OutboxEntry:
        """Pack ``package`` (folder, .tar or .zip) into the outbox; reuse the existing entry if unchanged.

        ``mosaic`` attaches the orthomosaic (COG) the damage map was made from; ``event_id`` names
        the hub event when package.json has no ``event.incident_id``.
        """
        package = Path(package)
        if not package.exists():
            raise InputError(f"The package {package} does not exist; give the folder uavops damage wrote.")
        meta, raw = _read_meta_from(package)
        if mosaic is not None:
            if not package.is_dir():
                raise InputError("--mosaic can be attached only to a package folder, not to an archive.")
            if not Path(mosaic).is_file():
                raise InputError(f"The mosaic {mosaic} does not exist; give the GeoTIFF uavops mosaic wrote.")
            meta, raw = with_mosaic(meta, Path(mosaic))
        package_sha = hashlib.sha256(raw).hexdigest()
        ensure_out_dir(self.root)
        folder = self.root / meta.package_id
        existing = self._load(folder)
        if existing is not None and existing.package_sha256 == package_sha and existing.archive.is_file():
            if event_id and existing.event_id != event_id:
                existing.event_id = event_id
                existing.save()
            return existing
        if existing is not None:
            shutil.rmtree(folder, ignore_errors=True)
        ensure_out_dir(folder)
        if package.is_dir():
            archive = folder / "package.tar"
            build_archive(
                package,
                meta,
                archive,
                meta_bytes=raw,
                extra={"mosaic.tif": Path(mosaic)} if mosaic is not None else None,
            )
        else:
            archive = folder / ("package.zip" if zipfile.is_zipfile(package) else "package.tar")
            with atomic_path(archive) as tmp:
                shutil.copyfile(package, tmp)
        entry = OutboxEntry(
            folder,
            meta.package_id,
            package_sha,
            archive,
            _sha256(archive),
            archive.stat().st_size,
            str(package.resolve()),
            event_id,
        )
        entry.save()
        return entry

    def _load(self, folder: Path) -> OutboxEntry | None:
        state_path = folder / "state.json"
        if not state_path.is_file():
            return None
        try:
            data = read_json(state_path, "outbox state file")
            return OutboxEntry(
                folder,
                data["package_id"],
                data["package_sha256"],
                folder / data["archive"],
                data["sha256"],
                int(data["size_bytes"]),
                data.get("source", ""),
                data.get("event_id"),
                data.get("state") or {},
            )
        except (InputError, KeyError, TypeError, ValueError):
            log.warning("ignoring damaged outbox entry %s", folder)
            return None

    def entries(self) -> list[OutboxEntry]:
        if not self.root.is_dir():
            return []
        found = [self._load(p) for p in sorted(self.root.iterdir()) if p.is_dir()]
        return [e for e in found if e is not None and e.archive.is_file()]

    def remove(self, entry: OutboxEntry) -> None:
        shutil.rmtree(entry.folder, ignore_errors=True)


class _ArchiveMap:
    """The outbox archive mapped read-only: chunks are hashed and sent straight from the page cache."""

    def __init__(self, path: Path) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by __exit__
        size = os.fstat(self._fh.fileno()).st_size
        self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None

    def view(self, offset: int, size: int) -> memoryview:
        if self._map is None:
            return memoryview(b"")
        return memoryview(self._map)[offset : offset + size]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a view is still referenced somewhere; the mapping goes with it
                pass
        self._fh.close()


# --------------------------------------------------------------------------- client


class _Retryable(Exception):
    """A failure worth retrying (network, 5xx, a busy upload)."""


class UploadClient:
    """Sends outbox entries to one hub with tus 1.0 (core, creation, checksum).

    Parameters
    ----------
    hub_url
        The hub's base URL, e.g. ``http://127.0.0.1:8080``.
    token
        An operator API token.
    transport
        Optional httpx transport (``httpx.ASGITransport(app=…)`` for an in-process hub).
    chunk_bytes
        PATCH size in bytes. ``None`` (the default) adapts it: it starts at 2 MiB, grows (at most
        doubling) while chunks go through in well under 3 s, up to ``max_chunk_bytes`` (32 MiB), and
        halves after every failed or timed-out chunk, down to 64 KiB, so weak field links still get
        their bytes through. A number fixes the size (e.g. to stay under a proxy's body limit),
        unless ``max_chunk_bytes`` is given too, which lets it grow from there.
    max_chunk_bytes
        Ceiling for adaptive chunks.
    max_retries
        Consecutive failed attempts tolerated before giving up (the package stays queued).
    backoff_s, max_backoff_s
        Exponential backoff between attempts, in seconds.
    max_rate_bps
        Optional bandwidth cap in bytes per second, to leave room on a shared satellite link.
    """

    def __init__(
        self,
        hub_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        chunk_bytes: int | None = None,
        max_chunk_bytes: int | None = None,
        max_retries: int = 8,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 120.0,
        max_rate_bps: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not hub_url or not hub_url.startswith(("http://", "https://")):
            raise InputError(f"The hub URL '{hub_url}' must start with http:// or https://; pass --hub URL.")
        if not token:
            raise InputError("An API token is needed; pass --token or set UAVOPS_HUB_TOKEN.")
        self.hub_url = hub_url.rstrip("/")
        if chunk_bytes is None:  # adaptive from the default start size
            self.chunk_bytes = DEFAULT_CHUNK_BYTES
            self.max_chunk_bytes = max(DEFAULT_CHUNK_BYTES, int(max_chunk_bytes or MAX_CHUNK_BYTES))
        else:  # a fixed size unless a ceiling is given too
            self.chunk_bytes = max(1, int(chunk_bytes))
            self.max_chunk_bytes = max(self.chunk_bytes, int(max_chunk_bytes or self.chunk_bytes))
        self.min_chunk_bytes = min(self.chunk_bytes, MIN_CHUNK_BYTES)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_rate_bps = max_rate_bps
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.hub_url,
            transport=sync_transport(transport),
            timeout=timeout_s,
            headers={
                "Authorization": f"Bearer {token}",
                "Tus-Resumable": TUS_VERSION,
                "User-Agent": "uavops-upload/1.0",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> UploadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _raise_for(self, resp: httpx.Response) -> None:
        if resp.status_code < 400:
            return
        if resp.status_code in RETRY_STATUSES or resp.status_code == 460:
            raise _Retryable(f"HTTP {resp.status_code}")
        try:
            detail = resp.json().get("detail") or resp.text
        except ValueError:
            detail = resp.text or resp.reason_phrase
        cls = ERROR_BY_STATUS.get(resp.status_code, UploadError)
        raise cls(f"The hub refused the upload: {detail}")

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request with retries and exponential backoff on network errors and retryable statuses."""
        failures = 0
        while True:
            try:
                resp = self._http.request(method, url, **kwargs)
                self._raise_for(resp)
                return resp
            except (httpx.TransportError, _Retryable) as exc:
                failures += 1
                if failures > self.max_retries:
                    raise HubUnreachableError(
                        f"The hub at {self.hub_url} could not be reached or kept failing "
                        f"({exc}) after {self.max_retries} retries"
                    ) from None
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (failures - 1))
                log.info("%s %s failed (%s); retrying in %.1f s", method, url, exc, delay)
                self._sleep(delay)

    def _adapt(self, size: int, took_s: float | None) -> None:
        """Next chunk size: aim at ``CHUNK_TARGET_S`` per chunk; halve after a failure (``took_s=None``)."""
        if self.max_chunk_bytes == self.min_chunk_bytes == self.chunk_bytes:
            return
        if took_s is None:
            new = size // 2
        else:
            rate = size / max(took_s, 1e-3)
            new = min(2 * size, max(size // 2, int(rate * CHUNK_TARGET_S)))
            if size < self.chunk_bytes:  # the last, shorter chunk of a file says little
                return
        self.chunk_bytes = max(self.min_chunk_bytes, min(self.max_chunk_bytes, new))

    def _body(self, data: bytes | memoryview) -> Iterator[bytes | memoryview]:
        """Chunk body in 1 MiB pieces (no copy of the file), paced to ``max_rate_bps`` when a cap is set."""
        if not self.max_rate_bps:
            for i in range(0, len(data), 1 << 20):
                yield data[i : i + (1 << 20)]
            return
        piece = max(1024, int(self.max_rate_bps / 10))
        start = time.monotonic()
        for i in range(0, len(data), piece):
            yield data[i : i + piece]
            ahead = (i + piece) / self.max_rate_bps - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    # ------------------------------------------------------------------ protocol
    def _create(self, entry: OutboxEntry) -> httpx.Response:
        meta = {
            "package_id": entry.package_id,
            "sha256": entry.sha256,
            "package_sha256": entry.package_sha256,
            "filename": entry.archive.name,
        }
        if entry.event_id:
            meta["event_id"] = entry.event_id
        header = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
        return self._call(
            "POST", "/uploads", headers={"Upload-Length": str(entry.size_bytes), "Upload-Metadata": header}
        )

    def _offset(self, url: str) -> int | None:
        """The hub's confirmed offset, or None when it no longer knows the upload."""
        failures = 0
        while True:
            try:
                resp = self._http.head(url, headers={"Cache-Control": "no-store"})
            except httpx.TransportError as exc:
                failures += 1
                if failures > self.max_retries:
                    raise HubUnreachableError(
                        f"The hub at {self.hub_url} could not be reached ({exc}) after "
                        f"{self.max_retries} retries"
                    ) from None
                self._sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (failures - 1)))
                continue
            if resp.status_code in (404, 410):
                return None
            if resp.status_code in RETRY_STATUSES:
                failures += 1
                if failures > self.max_retries:
                    raise HubUnreachableError(
                        f"The hub at {self.hub_url} kept answering HTTP {resp.status_code}"
                    )
                self._sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (failures - 1)))
                continue
            self._raise_for(resp)
            return int(resp.headers["Upload-Offset"])

    def send(self, entry: OutboxEntry, progress: ProgressFn | None = None) -> UploadResult:
        """Upload one outbox entry, resuming where the hub left off, and register it as a report.

        Raises
        ------
        HubUnreachableError
            The hub stayed unreachable through every retry (the entry stays queued).
        AuthenticationError, PermissionDeniedError, HubValidationError, PayloadTooLargeError, ConflictError
            The hub refused the package; its sentence says why.
        """
        state = entry.state
        # The stored URL is reused only for the same hub and event; otherwise ask again with POST, which
        # finds the unfinished upload by package id and SHA-256 (and records a newly given event).
        same = state.get("hub_url") == self.hub_url and state.get("event_id") == entry.event_id
        url: str | None = state.get("upload_url") if same else None
        offset: int | None = None
        if url:
            offset = self._offset(url)
            if offset is None:
                url = None
        if url is None:
            resp = self._create(entry)
            body = resp.json()
            if body.get("status") == "exists":
                result = UploadResult(body["report_id"], int(body["version"]), "exists", entry.package_id)
                self._remember(entry, {"report_id": result.report_id, "version": result.version})
                return result
            url = resp.headers["Location"]
            offset = int(resp.headers.get("Upload-Offset", body.get("offset", 0)))
            self._remember(entry, {"hub_url": self.hub_url, "upload_url": url, "event_id": entry.event_id})
        assert offset is not None
        resumed_from = offset
        sent = 0
        failures = 0
        if progress:
            progress(offset, entry.size_bytes)
        with _ArchiveMap(entry.archive) as archive:
            while offset < entry.size_bytes:
                size = min(self.chunk_bytes, entry.size_bytes - offset)
                data = archive.view(offset, size)
                digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
                headers = {
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Checksum": f"sha256 {digest}",
                    "Content-Length": str(size),
                }
                started = time.monotonic()
                try:
                    resp = self._http.patch(url, content=self._body(data), headers=headers)
                    if resp.status_code == 204:
                        offset = int(resp.headers["Upload-Offset"])
                        sent += size
                        failures = 0
                        self._adapt(size, time.monotonic() - started)
                        if progress:
                            progress(offset, entry.size_bytes)
                        continue
                    if resp.status_code in (404, 410):
                        raise UploadError(
                            "The hub forgot this upload (it expired); run the upload again to start over."
                        )
                    # 409: offset mismatch or another writer; 460: damaged chunk. Both: re-sync and resend.
                    if resp.status_code not in RETRY_STATUSES and resp.status_code not in (409, 460):
                        self._raise_for(resp)
                    reason = f"HTTP {resp.status_code}"
                except httpx.TransportError as exc:
                    reason = str(exc) or type(exc).__name__
                finally:
                    data.release()
                failures += 1
                self._adapt(size, None)
                if failures > self.max_retries:
                    raise HubUnreachableError(
                        f"The hub at {self.hub_url} could not take the upload ({reason}) "
                        f"after {self.max_retries} retries"
                    )
                self._sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (failures - 1)))
                new_offset = self._offset(url)
                if new_offset is None:
                    raise UploadError(
                        "The hub forgot this upload (it expired); run the upload again to start over."
                    )
                offset = new_offset
        resp = self._call("POST", f"{url}/finalize")
        body = resp.json()
        result = UploadResult(
            body["report_id"], int(body["version"]), body["status"], entry.package_id, sent, resumed_from, url
        )
        self._remember(entry, {"report_id": result.report_id, "version": result.version})
        return result

    @staticmethod
    def _remember(entry: OutboxEntry, values: dict[str, Any]) -> None:
        entry.state.update(values)
        entry.save()

    def upload(
        self,
        package: Path,
        outbox: Outbox,
        progress: ProgressFn | None = None,
        *,
        mosaic: Path | None = None,
        event_id: str | None = None,
    ) -> UploadResult:
        """Queue ``package`` in the outbox, send it, and drop it from the outbox once the hub has it."""
        entry = outbox.enqueue(package, mosaic=mosaic, event_id=event_id)
        result = self.send(entry, progress)
        outbox.remove(entry)
        return result

    def flush(
        self, outbox: Outbox, progress: Callable[[OutboxEntry], ProgressFn | None] | None = None
    ) -> list[tuple[OutboxEntry, UploadResult | HubError]]:
        """Send every queued package; stop early if the hub is unreachable (the rest stay queued)."""
        results: list[tuple[OutboxEntry, UploadResult | HubError]] = []
        for entry in outbox.entries():
            try:
                result = self.send(entry, progress(entry) if progress else None)
            except HubUnreachableError as exc:
                results.append((entry, exc))
                break
            except HubError as exc:
                results.append((entry, exc))
                continue
            outbox.remove(entry)
            results.append((entry, result))
        return results

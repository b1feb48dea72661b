"""The hub's HTTP surface: FastAPI routes only; all logic lives in :mod:`uavops.hub.service`.

Access policy (documented in the hub README section of ``uavops hub serve --help``):

* ``/map``, ``/static/*``, ``/healthz``, ``/api`` and ``/conformance`` are public: they hold no data.
* Every other read endpoint (OGC API Features, STAC, CAP, HXL, files, reports, events) needs a token
  of any role (operator, coordinator or admin), unless the hub runs with ``--public-read``. Damage maps
  of a member country are shared with the mechanism, not with the public. OGC clients send the token
  as a header, e.g. ``GDAL_HTTP_HEADERS="Authorization: Bearer uvh_…" ogrinfo OAPIF:http://hub/``.
* Writes: operators upload and change only their own organisation's reports; coordinators add events;
  admins do everything.
"""

import base64
import binascii
import re
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from ..config import Settings
from ..errors import HubError, HubValidationError, NotFoundError, PayloadTooLargeError
from . import cap, hxl, ogc, stac
from .auth import Principal
from .config import HubConfig
from .db import iso
from .service import BadRequestError, HubService, parse_bbox, parse_datetime_filter

__all__ = ["create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
TUS_VERSION = "1.0.0"
WRITE_BLOCK_BYTES = 1 << 20
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}
GEOJSON = "application/geo+json"
ITEMS_PARAMS = {"bbox", "datetime", "limit", "offset", "f", "country", "damage_gra"}

bearer = HTTPBearer(auto_error=False, description="API token: 'Authorization: Bearer uvh_…'")


class EventIn(BaseModel):
    id: str = Field(min_length=1, max_length=64, examples=["2026-KG-EQ-001"])
    type: str = Field(examples=["earthquake"])
    name: str = Field(default="", max_length=256)
    countries: list[str] = Field(min_length=1, max_length=20)
    start_date: str = Field(examples=["2026-05-01"])
    end_date: str | None = None
    glide: str | None = Field(default=None, max_length=64)
    gdacs_id: str | None = Field(default=None, max_length=64)


class ReportPatch(BaseModel):
    event_id: str = Field(min_length=1, max_length=64)


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _parse_metadata(header: str | None) -> dict[str, str]:
    """tus ``Upload-Metadata``: ``key base64value,key2 base64value2``."""
    out: dict[str, str] = {}
    if not header:
        return out
    for pair in header.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value.strip() else ""
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequestError(
                f"Upload-Metadata value for '{key}' is not base64; encode each value."
            ) from None
    return out


def create_app(settings: Settings | HubConfig, service: HubService | None = None) -> FastAPI:
    """Build the hub application from settings (or a full :class:`HubConfig`)."""
    config = settings if isinstance(settings, HubConfig) else HubConfig.from_settings(settings)
    svc = service or HubService(config)
    _warm_up()
    app = FastAPI(
        title="uavops regional coordination hub",
        version="1.0",
        description=__doc__,
        redirect_slashes=False,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = svc
    # Upload work runs in its own small thread pools, so catalogue reads (default pool) stay responsive
    # while many packages arrive at once.
    chunk_limiter = anyio.CapacityLimiter(8)
    finalize_limiter = anyio.CapacityLimiter(4)

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> Response:
        body = {"error": exc.code, "detail": str(exc), "status": exc.http_status}
        headers = dict(TUS_HEADERS) if request.url.path.startswith("/uploads") else {}
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if request.method == "HEAD":
            return Response(status_code=exc.http_status, headers=headers)
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        err = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header"))
        detail = f"{loc or 'request'}: {err.get('msg', 'invalid value')}; fix that value and send again."
        return JSONResponse({"error": "validation_failed", "detail": detail, "status": 422}, status_code=422)

    def principal_opt(
        cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Principal | None:
        if cred is None and authorization is None:
            return None
        return svc.authenticate(authorization if cred is None else f"Bearer {cred.credentials}")

    def writer(p: Annotated[Principal | None, Depends(principal_opt)]) -> Principal:
        if p is None:
            return svc.authenticate(None)  # raises 401 with the standard sentence
        return p

    def reader(p: Annotated[Principal | None, Depends(principal_opt)]) -> Principal | None:
        if p is None and not config.public_read:
            svc.authenticate(None)
        return p

    Reader = Annotated[Principal | None, Depends(reader)]
    Writer = Annotated[Principal, Depends(writer)]
    EventId = Annotated[str, PathParam(max_length=64)]
    ReportId = Annotated[str, PathParam(max_length=32)]

    # ------------------------------------------------------------------ public
    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/conformance", tags=["ogc"])
    def conformance() -> dict[str, Any]:
        return ogc.conformance()

    @app.get("/api", tags=["ogc"], response_class=JSONResponse)
    def api_definition() -> Response:
        return JSONResponse(app.openapi(), media_type=ogc.OPENAPI_MEDIA_TYPE)

    @app.get("/map", response_class=HTMLResponse, tags=["map"])
    def web_map() -> Response:
        return FileResponse(STATIC_DIR / "map.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # ------------------------------------------------------------------ OGC API Features
    @app.get("/", tags=["ogc"])
    def landing(request: Request, _: Reader) -> dict[str, Any]:
        return ogc.landing_page(_base(request))

    def _collection_doc(base: str, event: dict[str, Any]) -> dict[str, Any]:
        return ogc.collection(base, event, svc.event_extent(event["id"]))

    @app.get("/collections", tags=["ogc"])
    def collections(request: Request, _: Reader) -> dict[str, Any]:
        base = _base(request)
        return ogc.collections(base, [_collection_doc(base, e) for e in svc.list_events()])

    @app.get("/collections/{event_id}", tags=["ogc"])
    def collection(request: Request, event_id: EventId, _: Reader) -> dict[str, Any]:
        return _collection_doc(_base(request), svc.get_event(event_id))

    @app.get("/collections/{event_id}/items", tags=["ogc"], response_class=GeoJSONResponse)
    def items(
        request: Request,
        event_id: EventId,
        _: Reader,
        bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS84)")] = None,
        datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        f: Annotated[str | None, Query(pattern="^(json|geojson)$")] = None,
        country: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$")] = None,
        damage_gra: Annotated[str | None, Query(max_length=32)] = None,
    ) -> Response:
        unknown = set(request.query_params) - ITEMS_PARAMS
        if unknown:
            raise BadRequestError(
                f"Unknown query parameter(s) {', '.join(sorted(unknown))}; allowed are "
                f"{', '.join(sorted(ITEMS_PARAMS))}."
            )
        limit = min(limit, config.page_limit_max)
        feats, total = svc.query_features(
            event_id,
            bbox=parse_bbox(bbox),
            dt=parse_datetime_filter(datetime),
            limit=limit,
            offset=offset,
            country=country,
            grade=damage_gra,
        )
        params = {k: v for k, v in request.query_params.items() if k not in ("limit", "offset")}
        return GeoJSONResponse(
            ogc.items_page(
                _base(request),
                event_id,
                feats,
                total,
                limit=limit,
                offset=offset,
                params=params,
                timestamp=iso(),
            )
        )

    @app.get("/collections/{event_id}/items/{fid}", tags=["ogc"], response_class=GeoJSONResponse)
    def item(
        request: Request, event_id: EventId, fid: Annotated[int, PathParam(ge=0, le=2**62)], _: Reader
    ) -> Response:
        feat = svc.get_feature(event_id, fid)
        base = _base(request)
        feat["links"] = [
            {"href": f"{base}/collections/{event_id}/items/{fid}", "rel": "self", "type": GEOJSON},
            {"href": f"{base}/collections/{event_id}", "rel": "collection", "type": "application/json"},
        ]
        return GeoJSONResponse(feat)

    # ------------------------------------------------------------------ STAC
    @app.get("/stac", tags=["stac"])
    def stac_root(request: Request, _: Reader) -> dict[str, Any]:
        return stac.catalog(_base(request), svc.list_events())

    @app.get("/stac/collections/{event_id}", tags=["stac"])
    def stac_coll(request: Request, event_id: EventId, _: Reader) -> dict[str, Any]:
        event = svc.get_event(event_id)
        return stac.stac_collection(
            _base(request), event, svc.event_extent(event_id), svc.list_reports(event_id=event_id)
        )

    @app.get("/stac/collections/{event_id}/items", tags=["stac"], response_class=GeoJSONResponse)
    def stac_items(request: Request, event_id: EventId, _: Reader) -> Response:
        svc.get_event(event_id)
        base = _base(request)
        return GeoJSONResponse(
            {
                "type": "FeatureCollection",
                "features": [stac.stac_item(base, r) for r in svc.list_reports(event_id=event_id)],
                "links": [{"rel": "self", "href": f"{base}/stac/collections/{event_id}/items"}],
            }
        )

    @app.get("/stac/collections/{event_id}/items/{report_id}", tags=["stac"], response_class=GeoJSONResponse)
    def stac_item(request: Request, event_id: EventId, report_id: ReportId, _: Reader) -> Response:
        report = svc.get_report(report_id)
        if report["event_id"] != event_id:
            raise NotFoundError(f"Report {report_id} is not in collection {event_id}; check the event id.")
        return GeoJSONResponse(stac.stac_item(_base(request), report))

    # ------------------------------------------------------------------ events, reports
    @app.get("/events", tags=["events"])
    def list_events(_: Reader) -> list[dict[str, Any]]:
        return svc.list_events()

    @app.post("/events", tags=["events"], status_code=201)
    def add_event(event: EventIn, p: Writer) -> dict[str, Any]:
        return svc.add_event(
            event.id,
            event.type,
            event.name,
            event.countries,
            event.start_date,
            event.end_date,
            event.glide,
            event.gdacs_id,
            principal=p,
        )

    @app.get("/events/{event_id}", tags=["events"])
    def get_event(event_id: EventId, _: Reader) -> dict[str, Any]:
        return svc.get_event(event_id)

    @app.get("/events/{event_id}/summary.hxl.csv", tags=["events"], response_class=PlainTextResponse)
    def hxl_summary(event_id: EventId, _: Reader) -> Response:
        event = svc.get_event(event_id)
        return Response(
            hxl.hxl_csv(event, svc.list_reports(event_id=event_id)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{event_id}.hxl.csv"'},
        )

    @app.get("/reports", tags=["reports"])
    def list_reports(
        _: Reader,
        event_id: Annotated[str | None, Query(max_length=64)] = None,
        org: Annotated[str | None, Query(max_length=64)] = None,
        country: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$")] = None,
    ) -> list[dict[str, Any]]:
        return svc.list_reports(event_id=event_id, org_code=org, country=country)

    @app.get("/reports/{report_id}", tags=["reports"])
    def get_report(
        report_id: ReportId, _: Reader, version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None
    ) -> dict[str, Any]:
        return svc.get_report(report_id, version)

    @app.patch("/reports/{report_id}", tags=["reports"])
    def patch_report(report_id: ReportId, change: ReportPatch, p: Writer) -> dict[str, Any]:
        return svc.update_report(p, report_id, change.event_id)

    @app.delete("/reports/{report_id}", tags=["reports"], status_code=204)
    def delete_report(report_id: ReportId, p: Writer) -> Response:
        svc.delete_report(p, report_id)
        return Response(status_code=204)

    @app.get("/reports/{report_id}/cap.xml", tags=["reports"])
    def cap_xml(request: Request, report_id: ReportId, _: Reader) -> Response:
        report = svc.get_report(report_id)
        event = svc.get_event(report["event_id"])
        sender = f"uavops-hub@{request.url.hostname or 'localhost'}"
        return Response(
            cap.cap_alert(report, event, sender, _base(request)), media_type="application/cap+xml"
        )

    # one handler, two routes: a GET+HEAD api_route would give both operations the same OpenAPI id
    @app.head("/reports/{report_id}/files/{role}", tags=["reports"], operation_id="head_report_file")
    @app.get("/reports/{report_id}/files/{role}", tags=["reports"], operation_id="get_report_file")
    def report_file(
        request: Request,
        report_id: ReportId,
        role: Annotated[str, PathParam(pattern="^[a-z_]{1,32}$")],
        _: Reader,
    ) -> Response:
        """A stored file; HTTP range requests work, so GDAL reads the COGs in place (/vsicurl/)."""
        entry = svc.report_file(report_id, role)
        local = svc.blobs.local_path(entry["blob_key"])
        media = entry["media_type"]
        headers = {"ETag": f'"{entry["sha256"]}"', "Cache-Control": "private, max-age=86400"}
        if local is not None:
            return FileResponse(local, media_type=media, headers=headers)
        size = int(entry["size_bytes"])
        headers["Accept-Ranges"] = "bytes"
        if request.method == "HEAD":
            return Response(media_type=media, headers={**headers, "Content-Length": str(size)})
        start, end = 0, size - 1
        status = 200
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", (request.headers.get("range") or "").strip())
        if wanted and (wanted[1] or wanted[2]):
            if wanted[1]:
                start, end = int(wanted[1]), min(int(wanted[2]) if wanted[2] else size - 1, size - 1)
            else:
                start = max(0, size - int(wanted[2]))
            if start > end or start >= size:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        return StreamingResponse(
            svc.blobs.iter_bytes(entry["blob_key"], start, end),
            status_code=status,
            media_type=media,
            headers=headers,
        )

    @app.get("/audit", tags=["admin"])
    def audit(p: Writer, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> list[dict[str, Any]]:
        return svc.audit_entries(p, limit)

    # ------------------------------------------------------------------ uploads (tus 1.0)
    @app.options("/uploads", tags=["uploads"], status_code=204)
    def tus_options() -> Response:
        return Response(
            status_code=204,
            headers={
                **TUS_HEADERS,
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": "creation,checksum",
                "Tus-Checksum-Algorithm": "sha256",
                "Tus-Max-Size": str(config.max_upload_bytes),
            },
        )

    def _check_tus(version: str | None) -> None:
        if version != TUS_VERSION:
            raise _TusVersionError("Send the header 'Tus-Resumable: 1.0.0'; use uavops upload.")

    @app.post("/uploads", tags=["uploads"], status_code=201)
    def create_upload(
        request: Request,
        p: Writer,
        upload_length: Annotated[int, Header(ge=0, le=2**53)],
        upload_metadata: Annotated[str | None, Header(max_length=4096)] = None,
        tus_resumable: Annotated[str | None, Header()] = None,
    ) -> Response:
        _check_tus(tus_resumable)
        meta = _parse_metadata(upload_metadata)
        for key in ("package_id", "sha256"):
            if not meta.get(key):
                raise HubValidationError(f"Upload-Metadata needs '{key}'; use uavops upload.")
        state, how = svc.create_upload(
            p,
            upload_length,
            meta["package_id"],
            meta["sha256"],
            meta.get("package_sha256") or None,
            meta.get("filename") or "package.tar",
            meta.get("event_id") or None,
        )
        location = f"{_base(request)}/uploads/{state.id}"
        headers = {
            **TUS_HEADERS,
            "Location": location,
            "Upload-Offset": str(state.offset),
            "Uavops-Upload-Status": how,
        }
        body: dict[str, Any] = {
            "upload_id": state.id,
            "offset": state.offset,
            "length": state.length,
            "status": how,
            "location": location,
            "expires_at": state.expires_at,
        }
        if state.report_id:
            headers["Uavops-Report-Id"] = state.report_id
            body.update(report_id=state.report_id, version=state.version)
        return JSONResponse(body, status_code=201 if how == "created" else 200, headers=headers)

    @app.head("/uploads/{upload_id}", tags=["uploads"])
    def upload_head(
        upload_id: Annotated[str, PathParam(max_length=32)],
        p: Writer,
        tus_resumable: Annotated[str | None, Header()] = None,
    ) -> Response:
        state = svc.upload_state(p, upload_id)
        return Response(
            status_code=200,
            headers={
                **TUS_HEADERS,
                "Upload-Offset": str(state.offset),
                "Upload-Length": str(state.length),
                "Cache-Control": "no-store",
                "Uavops-Upload-Status": state.status,
            },
        )

    @app.patch("/uploads/{upload_id}", tags=["uploads"], status_code=204)
    async def upload_patch(
        request: Request,
        upload_id: Annotated[str, PathParam(max_length=32)],
        p: Writer,
        upload_offset: Annotated[int, Header(ge=0, le=2**53)],
        content_type: Annotated[str | None, Header()] = None,
        upload_checksum: Annotated[str | None, Header(max_length=200)] = None,
        tus_resumable: Annotated[str | None, Header()] = None,
    ) -> Response:
        _check_tus(tus_resumable)
        if (content_type or "").split(";")[0].strip() != "application/offset+octet-stream":
            raise _UnsupportedMedia("PATCH bodies must be Content-Type: application/offset+octet-stream.")
        checksum = None
        if upload_checksum:
            algo, _, b64 = upload_checksum.strip().partition(" ")
            try:
                checksum = (algo.lower(), base64.b64decode(b64, validate=True))
            except binascii.Error:
                raise BadRequestError("Upload-Checksum must be 'sha256 <base64 digest>'.") from None
        declared_text = request.headers.get("content-length")
        declared = int(declared_text) if declared_text and declared_text.isdigit() else None
        if declared is not None and declared > config.max_chunk_bytes:
            raise PayloadTooLargeError(
                f"A chunk may be at most {config.max_chunk_bytes} bytes; send smaller chunks."
            )
        # Offset, status and length are checked before the body is read; the body then goes to disk
        # in blocks of about 1 MiB (written and hashed in a worker thread), never whole into memory.
        writer = await anyio.to_thread.run_sync(
            svc.open_chunk, p, upload_id, upload_offset, checksum, declared, limiter=chunk_limiter
        )
        try:
            parts: list[bytes] = []
            pending = 0
            size = 0
            async for block in request.stream():
                size += len(block)
                if size > config.max_chunk_bytes:
                    raise PayloadTooLargeError(
                        f"A chunk may be at most {config.max_chunk_bytes} bytes; send smaller chunks."
                    )
                parts.append(block)
                pending += len(block)
                if pending >= WRITE_BLOCK_BYTES:
                    await anyio.to_thread.run_sync(writer.write, parts, limiter=chunk_limiter)
                    parts = []
                    pending = 0
            if parts:
                await anyio.to_thread.run_sync(writer.write, parts, limiter=chunk_limiter)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.abort, limiter=chunk_limiter)
            raise
        state = await anyio.to_thread.run_sync(writer.commit, limiter=chunk_limiter)
        return Response(status_code=204, headers={**TUS_HEADERS, "Upload-Offset": str(state.offset)})

    @app.post("/uploads/{upload_id}/finalize", tags=["uploads"])
    async def upload_finalize(upload_id: Annotated[str, PathParam(max_length=32)], p: Writer) -> Response:
        result = await anyio.to_thread.run_sync(svc.finalize_upload, p, upload_id, limiter=finalize_limiter)
        return JSONResponse(
            result,
            status_code=201 if result["status"] in ("created", "new_version") else 200,
            headers={"Uavops-Report-Id": result["report_id"]},
        )

    return app


def _warm_up() -> None:
    """Import the heavy validation libraries now, not inside the first upload's finalisation."""
    import PIL.Image  # noqa: F401
    import rasterio
    import rasterio.warp  # noqa: F401
    import shapely.geometry  # noqa: F401


class _TusVersionError(HubError):
    http_status = 412
    code = "tus_version"


class _UnsupportedMedia(HubError):
    http_status = 415
    code = "unsupported_media_type"

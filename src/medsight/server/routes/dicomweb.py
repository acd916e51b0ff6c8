"""DICOMweb routes (PS3.18): STOW-RS, QIDO-RS and WADO-RS under ``/dicomweb``.

Thin: parse the request, call :mod:`medsight.services.dicomweb` or
:mod:`medsight.services.qido`, render. Blocking work (the store, decoding) runs in the
threadpool: QIDO and WADO routes are plain ``def``; STOW-RS reads its body
asynchronously, counting bytes as they arrive so that an upload above
``max_upload_bytes`` is refused (413) before it is held whole, then stores it in the
threadpool. WADO-RS bodies stream, one instance or frame at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from medsight.access import Principal, Scope
from medsight.errors import ResourceLimitError, UnsupportedFormatError, UsageError
from medsight.io.dicom.rendered import RenderFormat
from medsight.ledger import EventType
from medsight.server.deps import Allow, AllowOwnStudy, ContextDep
from medsight.server.multipart import (
    check_boundary,
    closing_delimiter,
    multipart_content_type,
    new_boundary,
    parse_media_type,
    parse_multipart,
)
from medsight.services import dicomweb
from medsight.services.context import ServiceContext
from medsight.services.qido import Level, parse_qido, search
from medsight.store import InstanceResult

__all__ = ["router"]

router = APIRouter(prefix="/dicomweb", tags=["dicomweb"])

DICOM_JSON = "application/dicom+json"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
Writer = Annotated[Principal, Depends(Allow(Scope.STUDIES_WRITE))]
Reader = Annotated[Principal, Depends(Allow(Scope.STUDIES_READ))]
# Routes of one study (``{study}`` in the path) also admit a referrer for a study it sent.
StudyReader = Annotated[Principal, Depends(AllowOwnStudy(Scope.STUDIES_READ))]
FrameNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


# STOW-RS ------------------------------------------------------------------------------


@router.post("/studies", summary="STOW-RS: store instances")
async def store_instances(request: Request, context: ContextDep, principal: Writer) -> Response:
    """Store the parts of a ``multipart/related; type="application/dicom"`` body."""
    return await _stow(request, context, principal, None)


@router.post("/studies/{study}", summary="STOW-RS: store instances of one study")
async def store_study_instances(study: str, request: Request, context: ContextDep, principal: Writer) -> Response:
    """Store the parts; objects of another study than ``study`` fail."""
    return await _stow(request, context, principal, study)


async def _stow(request: Request, context: ServiceContext, principal: Principal, study: str | None) -> Response:
    media, params = parse_media_type(request.headers.get("content-type", ""))
    part_type = parse_media_type(params.get("type", dicomweb.DICOM_MEDIA_TYPE))[0]
    if media != "multipart/related" or part_type != dicomweb.DICOM_MEDIA_TYPE:
        raise UnsupportedFormatError('STOW-RS takes multipart/related; type="application/dicom"')
    boundary = check_boundary(params.get("boundary"))
    body = await _read_body(request, context.settings.max_upload_bytes)
    parts = await run_in_threadpool(parse_multipart, body, boundary)
    del body
    if not parts:
        raise UsageError("malformed multipart body: no parts")
    stow_parts = [dicomweb.StowPart(part.media_type, part.body) for part in parts]
    del parts
    outcome = await run_in_threadpool(
        dicomweb.store_parts, context, stow_parts, principal, base_url=_base_url(request), study=study
    )
    return JSONResponse(outcome.body, status_code=outcome.status, media_type=DICOM_JSON)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ResourceLimitError(f"request body of {int(declared)} bytes, more than the limit of {limit}")
    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) > limit:
                raise ResourceLimitError(f"request body larger than the limit of {limit} bytes")
    except ClientDisconnect as exc:  # nothing was stored: storing begins once the body is whole
        raise UsageError("the client went away before sending the whole body; nothing was stored") from exc
    return bytes(received)


# QIDO-RS ------------------------------------------------------------------------------


_JSON_TYPES = frozenset({DICOM_JSON, "application/json", "application/*", "*/*"})


def _check_json_accepted(request: Request) -> None:
    """406 unless the Accept header allows DICOM JSON (this service writes no DICOM XML)."""
    accept = request.headers.get("accept")
    if accept and not any(parse_media_type(entry)[0] in _JSON_TYPES for entry in accept.split(",")):
        raise HTTPException(406, "search results are application/dicom+json")


def _search(request: Request, context: ServiceContext, level: Level, **path: str) -> Response:
    _check_json_accepted(request)
    query = parse_qido(request.query_params.multi_items(), level)
    result = search(context.store, level, query, base_url=_base_url(request), **path)
    headers = {}
    if result.ignored:  # PS3.18 8.3.4.1: say which attributes were not matched on
        fields = ", ".join(result.ignored)
        headers["Warning"] = f'299 medsight "The fields: {fields} were not supported for matching and were ignored"'
    return JSONResponse(result.matches, media_type=DICOM_JSON, headers=headers)


@router.get("/studies", summary="QIDO-RS: search for studies")
def search_studies(request: Request, context: ContextDep, _principal: Reader) -> Response:
    """Studies matching the query parameters, as DICOM JSON."""
    return _search(request, context, Level.STUDY)


@router.get("/series", summary="QIDO-RS: search for series")
def search_series(request: Request, context: ContextDep, _principal: Reader) -> Response:
    """Series matching the query parameters."""
    return _search(request, context, Level.SERIES)


@router.get("/studies/{study}/series", summary="QIDO-RS: search for series of a study")
def search_study_series(study: str, request: Request, context: ContextDep, _principal: StudyReader) -> Response:
    """Series of one study matching the query parameters."""
    return _search(request, context, Level.SERIES, study=study)


@router.get("/instances", summary="QIDO-RS: search for instances")
def search_instances(request: Request, context: ContextDep, _principal: Reader) -> Response:
    """Instances matching the query parameters."""
    return _search(request, context, Level.INSTANCE)


@router.get("/studies/{study}/instances", summary="QIDO-RS: search for instances of a study")
def search_study_instances(study: str, request: Request, context: ContextDep, _principal: StudyReader) -> Response:
    """Instances of one study matching the query parameters."""
    return _search(request, context, Level.INSTANCE, study=study)


@router.get("/studies/{study}/series/{series}/instances", summary="QIDO-RS: search for instances of a series")
def search_series_instances(
    study: str, series: str, request: Request, context: ContextDep, _principal: StudyReader
) -> Response:
    """Instances of one series matching the query parameters."""
    return _search(request, context, Level.INSTANCE, study=study, series=series)


# WADO-RS ------------------------------------------------------------------------------


def _accepted_syntaxes(request: Request, part_type: str) -> frozenset[str] | None:
    """The transfer syntaxes the Accept header allows for ``part_type`` parts; None for any.

    No Accept, ``*/*``, or an entry without ``transfer-syntax`` (or with ``*``) allows any:
    objects are then sent as stored. 406 when no entry allows ``part_type`` at all.
    """
    accept = request.headers.get("accept")
    if not accept:
        return None
    syntaxes: set[str] = set()
    matched = False
    for entry in accept.split(","):
        media, params = parse_media_type(entry)
        if media in ("*/*", "multipart/*"):
            return None
        if media == "multipart/related" and parse_media_type(params.get("type", part_type))[0] in (part_type, "*/*"):
            matched = True
            syntax = params.get("transfer-syntax", "*")
            if syntax == "*":
                return None
            syntaxes.add(syntax)
    if not matched:
        raise HTTPException(406, f'this resource is multipart/related; type="{part_type}"')
    return frozenset(syntaxes)


def _check_accept(request: Request, part_type: str) -> None:
    """406 unless the Accept header allows a multipart/related body of ``part_type`` parts."""
    _accepted_syntaxes(request, part_type)


def _transcoding(found: list[InstanceResult], accepted: frozenset[str] | None) -> list[bool]:
    """For each instance, whether to re-encode it; 406 when it can be sent in no accepted syntax."""
    if accepted is None:
        return [False] * len(found)
    plan = [instance.transfer_syntax_uid not in accepted for instance in found]
    if any(plan) and _EXPLICIT_LE not in accepted:
        raise HTTPException(406, f"objects are available as stored or as {_EXPLICIT_LE} (Explicit VR Little Endian)")
    return plan


def _multipart(bodies: Iterable[tuple[bytes, str]], boundary: str) -> Iterator[bytes]:
    """Each body as a part, streamed in chunks of about ``_CHUNK`` bytes.

    Starlette runs a sync iterator one ``next()`` per thread-pool hop (about 0.1-0.3 ms
    each), so small parts are joined into one chunk; a body larger than a chunk is sent
    as it is, without a copy.
    """
    pending: list[bytes] = []
    size = 0
    for body, content_type in bodies:
        head = f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        if len(body) >= _CHUNK:
            yield b"".join([*pending, head.encode("ascii")])
            yield body
            pending, size = [b"\r\n"], 2
            continue
        pending += [head.encode("ascii"), body, b"\r\n"]
        size += len(head) + len(body) + 2
        if size >= _CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    yield b"".join([*pending, closing_delimiter(boundary)])


_CHUNK = 1 << 20
_INLINE_BYTES = 4 << 20  # answers up to this size are sent whole, not streamed


def _retrieve(
    request: Request, context: ServiceContext, study: str, series: str | None, instance: str | None
) -> Response:
    accepted = _accepted_syntaxes(request, dicomweb.DICOM_MEDIA_TYPE)
    found = dicomweb.find_instances(context.store, study, series, instance)
    transcode = _transcoding(found, accepted)
    # Whole objects leave the service: a download; frames, renderings and metadata are views.
    _record(request, context, EventType.DOWNLOAD, study)
    data = dicomweb.iter_instance_bytes(context.store, found, transcode)
    bodies = zip(data, _dicom_types(found, transcode), strict=True)
    boundary = new_boundary()
    media_type = multipart_content_type(dicomweb.DICOM_MEDIA_TYPE, boundary)
    if not any(transcode) and sum(item.size for item in found) <= _INLINE_BYTES:
        # Small answers whole, read in this (worker) thread: streaming would cost a
        # thread-pool hop per chunk for no memory saved.
        return Response(b"".join(_multipart(bodies, boundary)), media_type=media_type)
    return StreamingResponse(_multipart(bodies, boundary), media_type=media_type)


def _dicom_types(found: Iterable[InstanceResult], transcode: Iterable[bool]) -> Iterator[str]:
    for instance, flag in zip(found, transcode, strict=True):
        syntax = _EXPLICIT_LE if flag else instance.transfer_syntax_uid
        yield f"{dicomweb.DICOM_MEDIA_TYPE}; transfer-syntax={syntax}"


@router.get("/studies/{study}", summary="WADO-RS: retrieve a study")
def retrieve_study(study: str, request: Request, context: ContextDep, _principal: StudyReader) -> Response:
    """Every instance of the study, ``multipart/related; type="application/dicom"``."""
    return _retrieve(request, context, study, None, None)


@router.get("/studies/{study}/series/{series}", summary="WADO-RS: retrieve a series")
def retrieve_series(
    study: str, series: str, request: Request, context: ContextDep, _principal: StudyReader
) -> Response:
    """Every instance of the series."""
    return _retrieve(request, context, study, series, None)


@router.get("/studies/{study}/series/{series}/instances/{instance}", summary="WADO-RS: retrieve an instance")
def retrieve_instance(
    study: str, series: str, instance: str, request: Request, context: ContextDep, _principal: StudyReader
) -> Response:
    """The instance, as the single part of a multipart body."""
    return _retrieve(request, context, study, series, instance)


def _metadata(
    request: Request, context: ServiceContext, study: str, series: str | None, instance: str | None
) -> Response:
    _check_json_accepted(request)
    found = dicomweb.find_instances(context.store, study, series, instance)
    _record(request, context, EventType.VIEW, study)
    return JSONResponse(dicomweb.metadata(context.store, found), media_type=DICOM_JSON)


def _record(request: Request, context: ServiceContext, event: EventType, study: str) -> None:
    """The ledger entry of a read, committed before any byte is sent (no entry, no answer)."""
    if context.ledger is not None:
        context.ledger.record_access(event, getattr(request.state, "actor", "unknown"), study)


@router.get("/studies/{study}/metadata", summary="WADO-RS: metadata of a study")
def retrieve_study_metadata(study: str, request: Request, context: ContextDep, _principal: StudyReader) -> Response:
    """DICOM JSON of every instance of the study, bulk data left out."""
    return _metadata(request, context, study, None, None)


@router.get("/studies/{study}/series/{series}/metadata", summary="WADO-RS: metadata of a series")
def retrieve_series_metadata(
    study: str, series: str, request: Request, context: ContextDep, _principal: StudyReader
) -> Response:
    """DICOM JSON of every instance of the series."""
    return _metadata(request, context, study, series, None)


@router.get(
    "/studies/{study}/series/{series}/instances/{instance}/metadata", summary="WADO-RS: metadata of an instance"
)
def retrieve_instance_metadata(
    study: str, series: str, instance: str, request: Request, context: ContextDep, _principal: StudyReader
) -> Response:
    """DICOM JSON of the instance (a list of one)."""
    return _metadata(request, context, study, series, instance)


@router.get("/studies/{study}/series/{series}/instances/{instance}/frames/{frames}", summary="WADO-RS: frames")
def retrieve_frames(
    study: str, series: str, instance: str, frames: str, request: Request, context: ContextDep, _principal: StudyReader
) -> Response:
    """Frames (``1,3``) as native little-endian pixel bytes, one part each."""
    _check_accept(request, "application/octet-stream")
    (found,) = dicomweb.find_instances(context.store, study, series, instance)
    pixels = dicomweb.instance_frames(context.store, found, frames)
    _record(request, context, EventType.VIEW, study)
    part_type = f"application/octet-stream; transfer-syntax={_EXPLICIT_LE}"
    boundary = new_boundary()
    media_type = multipart_content_type("application/octet-stream", boundary, transfer_syntax=_EXPLICIT_LE)
    return StreamingResponse(_multipart(((frame, part_type) for frame in pixels), boundary), media_type=media_type)


def _render_format(request: Request) -> RenderFormat:
    """PNG or JPEG by the Accept header, in the order listed; JPEG when any image will do."""
    accept = request.headers.get("accept")
    if not accept:
        return RenderFormat.JPEG
    for entry in accept.split(","):
        media = parse_media_type(entry)[0]
        if media == RenderFormat.PNG.value:
            return RenderFormat.PNG
        if media in (RenderFormat.JPEG.value, "image/*", "*/*"):
            return RenderFormat.JPEG
    raise HTTPException(406, "rendered images are image/png or image/jpeg")


def _rendered(
    request: Request, context: ServiceContext, ids: tuple[str, str, str], frame: int | None, options: _RenderQuery
) -> Response:
    media_type = _render_format(request)
    (found,) = dicomweb.find_instances(context.store, *ids)
    content = dicomweb.rendered(
        context.store, found, media_type, frame=frame, window=options.window, quality=options.quality
    )
    _record(request, context, EventType.VIEW, ids[0])
    return Response(content, media_type=media_type.value)


class _RenderQuery(BaseModel):
    """Query parameters of a rendered resource (PS3.18 8.3.5.1)."""

    window: str | None = Field(default=None, description="center,width[,function] (PS3.18 8.3.5.1.4)")
    quality: int | None = Field(default=None, ge=1, le=100, description="JPEG quality, 1..100")


RenderQuery = Annotated[_RenderQuery, Query()]


@router.get("/studies/{study}/series/{series}/instances/{instance}/rendered", summary="WADO-RS: rendered instance")
def retrieve_rendered(
    study: str,
    series: str,
    instance: str,
    request: Request,
    context: ContextDep,
    _principal: StudyReader,
    options: RenderQuery,
) -> Response:
    """The instance's first frame as PNG or JPEG (Accept), windowed by ``window`` or its own VOI."""
    return _rendered(request, context, (study, series, instance), None, options)


@router.get(
    "/studies/{study}/series/{series}/instances/{instance}/frames/{frame}/rendered",
    summary="WADO-RS: rendered frame",
)
def retrieve_rendered_frame(
    study: str,
    series: str,
    instance: str,
    frame: FrameNumber,
    request: Request,
    context: ContextDep,
    _principal: StudyReader,
    options: RenderQuery,
) -> Response:
    """One frame as PNG or JPEG."""
    return _rendered(request, context, (study, series, instance), frame, options)

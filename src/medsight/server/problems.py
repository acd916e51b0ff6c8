"""Errors as HTTP problems: one table of statuses, one body shape (RFC 9457).

Every failure answers ``application/problem+json`` with ``type``, ``title``, ``status``
and medsight's own ``code``, ``message`` and ``request_id``. The message is the
error's own (patient-free by the rule in :mod:`medsight.errors`); anything that is not a
:class:`MedsightError` is a bug and answers a bare 500 whose log line names the
exception class and frames but not its message, which could quote a value.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medsight import errors
from medsight.errors import MedsightError
from medsight.server.requestlog import current_request_id

__all__ = ["HTTP_STATUS", "PROBLEM_MEDIA_TYPE", "install_problem_handlers", "problem_response", "status_for"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger(__name__)

#: HTTP status for each error class; the most specific class listed wins.
HTTP_STATUS: dict[type[MedsightError], int] = {
    errors.MedsightError: 500,
    errors.UsageError: 400,
    errors.InputError: 400,
    errors.FileNotFoundInputError: 404,
    errors.UnsupportedFormatError: 415,
    errors.InvalidDicomError: 400,
    errors.MissingPixelDataError: 422,
    errors.UnsupportedTransferSyntaxError: 422,
    errors.PixelDecodeError: 422,
    errors.InvalidImageError: 400,
    errors.ResourceLimitError: 413,
    errors.ArchiveError: 400,
    errors.NoImagesFoundError: 422,
    errors.SeriesGeometryError: 422,
    errors.InvalidDatasetError: 400,
    errors.StoredInstanceNotFoundError: 404,
    errors.UnknownResourceError: 404,
    errors.ModelError: 500,
    errors.ModelNotFoundError: 404,
    errors.InvalidBundleError: 500,
    errors.ReleaseRefusedError: 409,
    errors.UnreleasedModelError: 409,
    errors.PrivacyError: 403,
    errors.DeidentificationKeyError: 503,
    errors.BurnedInTextError: 422,
    errors.ResidualPhiError: 422,
    errors.EncryptionKeyError: 503,
    errors.IntegrityError: 500,
    errors.WeightsMismatchError: 500,
    errors.StoredObjectCorruptError: 500,
    errors.LedgerIntegrityError: 500,
    errors.OutputError: 503,
    errors.AccessError: 403,
    errors.AuthenticationError: 401,
    errors.PermissionDeniedError: 403,
    errors.StreamMessageError: 400,
    errors.UnknownDeviceError: 403,
    errors.StreamBusyError: 503,
    errors.ProfileError: 422,
    errors.KnowledgeBaseError: 500,
}

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}


def status_for(error: MedsightError) -> int:
    """The HTTP status of ``error``: its class's, else its nearest listed ancestor's."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 500


def problem_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem body with the current request id."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "message": message,
        "request_id": current_request_id(),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _medsight_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MedsightError)
    status = status_for(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status >= 500:
        _log.error("%s (%s) answered %d", exc.code, type(exc).__name__, status)
    return problem_response(status, exc.code, exc.message, headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Name the fields, never the values sent (a search term can be a patient's name).
    fields = sorted({".".join(str(part) for part in error.get("loc", ())[1:]) or "body" for error in exc.errors()})
    return problem_response(400, errors.UsageError.code, f"invalid request: check {', '.join(fields)}")


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "http.not_found", 405: "http.method_not_allowed"}.get(exc.status_code, f"http.{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return problem_response(exc.status_code, code, message, dict(exc.headers or {}))


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    frames = "".join(traceback.format_tb(exc.__traceback__))
    _log.error("internal error %s\n%s", type(exc).__name__, frames)
    return problem_response(500, "internal", "internal error; quote the request id when reporting it")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error raised in a route as a problem."""
    app.add_exception_handler(MedsightError, _medsight_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

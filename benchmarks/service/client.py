"""One DICOMweb client for every server the bench measures (httpx, synchronous).

The same code talks to medsight and to Orthanc; only the root URL and the headers
differ (medsight wants a bearer token). Responses are read whole, the way a viewer or a
router would, and checked: a STOW that stores fewer instances than it sent, or a WADO
that returns the wrong number of parts, raises instead of flattering the figures.
``Accept-Encoding: identity`` keeps HTTP compression out of the comparison.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from benchmarks.service import multipart
from benchmarks.service.workload import Query

__all__ = ["DicomWebClient", "ServiceError", "Target", "query_string"]

_KEPT = "*?^-.,_~"
_REFERENCED_SOPS = "00081199"
_FAILED_SOPS = "00081198"


class ServiceError(RuntimeError):
    """A server answered, but not with what the workload needs."""


@dataclass(frozen=True, slots=True)
class Target:
    """A server under test: its name, DICOMweb root, extra headers and process id."""

    name: str
    root: str  # e.g. http://127.0.0.1:8042/dicom-web
    pid: int
    headers: dict[str, str] = field(default_factory=dict)
    api: str | None = None  # medsight's base URL for /api/v1, None for Orthanc
    health: str | None = None  # a URL that does no work (medsight /health, Orthanc /system)


class DicomWebClient:
    """STOW-RS, QIDO-RS and WADO-RS calls on one :class:`Target`; safe to share across threads."""

    def __init__(self, target: Target, *, timeout_s: float = 120.0, connections: int = 16) -> None:
        self.target = target
        self._http = httpx.Client(
            base_url=target.root,
            headers={"Accept-Encoding": "identity", **target.headers},
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def __enter__(self) -> DicomWebClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def ping(self) -> float:
        """Seconds of one GET of the target's ``health`` URL: the server's floor per request."""
        if self.target.health is None:
            raise ServiceError(f"{self.target.name} has no health URL")
        start = time.perf_counter()
        response = self._http.get(self.target.health)
        seconds = time.perf_counter() - start
        _check(response, "health")
        return seconds

    def stow(self, parts: Sequence[bytes]) -> float:
        """Store ``parts`` in one multipart/related request; seconds it took.

        Raises:
            ServiceError: the request failed or not every instance was stored.
        """
        body, content_type = multipart.encode(parts, boundary=uuid.uuid4().hex)
        headers = {"Content-Type": content_type, "Accept": "application/dicom+json"}
        start = time.perf_counter()
        response = self._http.post("/studies", content=body, headers=headers)
        seconds = time.perf_counter() - start
        _check(response, "STOW-RS")
        stored, failed = _stow_counts(response)
        if stored != len(parts) or failed:
            raise ServiceError(f"{self.target.name} STOW-RS stored {stored} of {len(parts)}, {failed} failed")
        return seconds

    def qido(self, query: Query) -> tuple[float, int]:
        """Seconds and number of matches of one QIDO-RS query."""
        headers = {"Accept": "application/dicom+json"}
        start = time.perf_counter()
        response = self._http.get(query.path + query_string(query.params), headers=headers)
        seconds = time.perf_counter() - start
        _check(response, f"QIDO-RS {query.kind}")
        matches = 0 if response.status_code == 204 or not response.content else len(response.json())
        return seconds, matches

    def wado(self, path: str, *, parts: int | None = None) -> tuple[float, int]:
        """Seconds and body bytes of one WADO-RS retrieval (multipart/related application/dicom).

        Raises:
            ServiceError: the request failed or ``parts`` instances were expected and not returned.
        """
        headers = {"Accept": f"{multipart.DICOM_MULTIPART}; transfer-syntax=*"}
        start = time.perf_counter()
        response = self._http.get(path, headers=headers)
        seconds = time.perf_counter() - start
        _check(response, "WADO-RS")
        if parts is not None:
            got = len(multipart.split(response.content, response.headers.get("content-type", "")))
            if got != parts:
                raise ServiceError(f"{self.target.name} WADO-RS {path}: {got} parts, expected {parts}")
        return seconds, len(response.content)


def query_string(params: Sequence[tuple[str, str]]) -> str:
    """``?key=value&...`` with the DICOM matching characters (``* ? ^ -``) left as they are.

    RFC 3986 allows them in a query; Orthanc 1.10 does not percent-decode QIDO-RS
    parameters (``PatientName=DOE%5EP1%2A`` matches nothing), so a client that encodes
    them would measure empty answers from it.
    """
    if not params:
        return ""
    return "?" + "&".join(f"{quote(key, safe='')}={quote(value, safe=_KEPT)}" for key, value in params)


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 400:
        raise ServiceError(f"{what} -> HTTP {response.status_code}: {response.text[:500]}")


def _stow_counts(response: httpx.Response) -> tuple[int, int]:
    """Instances stored and failed, from the STOW-RS response's DICOM JSON (PS3.18 10.5.3)."""
    try:
        payload: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ServiceError(f"STOW-RS answered {response.status_code} without DICOM JSON") from exc
    if isinstance(payload, list):  # some servers wrap the one dataset in a list
        payload = payload[0] if payload else {}
    return _sequence_length(payload, _REFERENCED_SOPS), _sequence_length(payload, _FAILED_SOPS)


def _sequence_length(dataset: dict[str, Any], tag: str) -> int:
    element = dataset.get(tag) or {}
    return len(element.get("Value") or [])

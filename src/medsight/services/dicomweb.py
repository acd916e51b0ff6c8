"""DICOMweb use cases on the study store: STOW-RS (PS3.18 10.5) and WADO-RS (PS3.18 10.4).

STOW-RS checks each part on its own, then stores the valid ones as one batch
(:meth:`medsight.store.Store.ingest_prepared`: one transaction, and still atomic per
object), so a mixed upload keeps its valid objects and reports the rest, and nothing is
ever stored in part. The response follows PS3.18 10.5.3: a
ReferencedSOPSequence of what is stored (with a WarningReason where an object replaced
another under its SOP Instance UID), a FailedSOPSequence with a FailureReason for
each part that was not, and the HTTP status 200 (all stored), 202 (some failed, or
warnings) or 409 (none stored).

WADO-RS looks instances up in one query and reads their bytes only as the response
streams. Metadata, frames and renderings are made by :mod:`medsight.io`.

Logs carry counts and sizes, never a UID.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from medsight.access import Principal
from medsight.errors import (
    InvalidDicomError,
    MedsightError,
    OutputError,
    ResourceLimitError,
    StoredInstanceNotFoundError,
)
from medsight.io.dicom.dicomjson import DicomJson, element, instance_metadata
from medsight.io.dicom.frames import iter_frames, parse_frame_list
from medsight.io.dicom.index import IndexRecord
from medsight.io.dicom.rendered import RenderFormat, parse_window, render_instance
from medsight.io.dicom.transcode import check_transcodable, to_explicit_little_endian
from medsight.services.context import ServiceContext
from medsight.store import IngestResult, IngestStatus, InstanceQuery, InstanceResult, Store, StudyQuery
from medsight.store.accounts import Accounts
from medsight.store.store import PreparedObject

__all__ = [
    "FailureReason",
    "StowPart",
    "StowResponse",
    "find_instances",
    "instance_frames",
    "iter_instance_bytes",
    "metadata",
    "rendered",
    "store_parts",
]

_log = logging.getLogger(__name__)

DICOM_MEDIA_TYPE = "application/dicom"
_RETRIEVE_URL, _REFERENCED_SOP_SEQUENCE, _FAILED_SOP_SEQUENCE = 0x00081190, 0x00081199, 0x00081198
_SOP_CLASS, _SOP_INSTANCE = 0x00081150, 0x00081155
_FAILURE_REASON, _WARNING_REASON = 0x00081197, 0x00081196


class FailureReason:
    """STOW-RS FailureReason and WarningReason values (PS3.18 Table 10.5.3-2, PS3.4 Annex B.2.3)."""

    PROCESSING_FAILURE = 0x0110  # also: the object belongs to another study than the URL's
    OUT_OF_RESOURCES = 0xA700  # larger than the store accepts, or the store could not write it
    NOT_AUTHORIZED = 0x0124  # a referrer adding to a stored study it did not send
    CANNOT_UNDERSTAND = 0xC000  # not DICOM, not application/dicom, or a required UID missing
    # PS3.18 has no warning for "replaced an object under the same SOP Instance UID";
    # Coercion of Data Elements is the closest: what is stored differs from what was.
    COERCION = 0xB000


@dataclass(frozen=True)
class StowPart:
    """One part of a STOW-RS request: its media type (None when it stated none) and bytes."""

    media_type: str | None
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class _Failure:
    reason: int
    sop_class_uid: str | None = field(default=None, repr=False)
    sop_instance_uid: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class StowResponse:
    """The answer to a STOW-RS request: HTTP status and DICOM JSON body."""

    status: int
    body: DicomJson = field(repr=False)
    stored: tuple[IngestResult, ...]
    failed: int


def store_parts(
    context: ServiceContext,
    parts: Sequence[StowPart],
    principal: Principal,
    *,
    base_url: str,
    study: str | None = None,
) -> StowResponse:
    """Store each part; record the submitter of each study; tell the listeners once.

    Args:
        context: the service.
        parts: the request's body parts.
        principal: who sent them.
        base_url: the DICOMweb root, for RetrieveURL.
        study: the Study Instance UID of the URL (``POST /studies/{study}``): objects of
            another study fail.
    """
    stored: list[IngestResult] = []
    failures: list[_Failure] = []
    accounts = context.access.accounts if principal.own_studies_only else None
    gate = _Gate(context.store, study, accounts, principal.actor)
    for outcome in _store_all(parts, gate):
        if isinstance(outcome, IngestResult):
            stored.append(outcome)
        else:
            failures.append(outcome)
    for study_uid in dict.fromkeys(result.study_instance_uid for result in stored):
        context.access.accounts.record_submitter(study_uid, principal.actor)
    context.notify_ingested(stored, principal)
    replaced = sum(result.status is IngestStatus.REPLACED for result in stored)
    _log.info(
        "stow: %d part(s), %d stored (%d replaced), %d failed, %d bytes",
        len(parts),
        len(stored),
        replaced,
        len(failures),
        sum(len(part.body) for part in parts),
    )
    status = 409 if not stored else (202 if failures or replaced else 200)
    return StowResponse(status, _stow_body(stored, failures, base_url), tuple(stored), len(failures))


@dataclass(frozen=True)
class _Gate:
    """What a part must satisfy before it is stored, beyond being DICOM.

    Attributes:
        store: the study store.
        study: the URL's Study Instance UID, if any: objects of other studies fail.
        accounts: set for callers limited to their own studies (referrers): an object
            may not join a stored study that the caller did not send, or sending one
            instance would open the whole study's results to them.
        actor: the caller.
    """

    store: Store
    study: str | None = field(default=None, repr=False)
    accounts: Accounts | None = None
    actor: str = ""
    allowed: set[str] = field(default_factory=set, repr=False)  # studies this request may add to

    @property
    def reads_header(self) -> bool:
        return self.study is not None or self.accounts is not None

    def check(self, record: IndexRecord) -> _Failure | None:
        failed = _Failure(FailureReason.PROCESSING_FAILURE, record.sop_class_uid, record.sop_instance_uid)
        if self.study is not None and record.study_instance_uid != self.study:
            return failed
        uid = record.study_instance_uid
        if self.accounts is None or uid in self.allowed or self.accounts.submitted(uid, self.actor):
            return None
        if self.store.studies(StudyQuery(study_instance_uids=(uid,), limit=1)):
            return replace(failed, reason=FailureReason.NOT_AUTHORIZED)
        self.allowed.add(uid)  # new: the rest of this request may add to it (its submitter comes after)
        return None


def _store_all(parts: Sequence[StowPart], gate: _Gate) -> list[IngestResult | _Failure]:
    """Each part's outcome, in order: parts are checked one by one, then stored as one batch.

    :meth:`medsight.store.Store.ingest_prepared` writes the files in parallel and the
    rows in one transaction, and still stores each object whole or not at all.
    """
    checked = [_prepare_part(part, gate) for part in parts]
    prepared = [outcome for outcome in checked if isinstance(outcome, PreparedObject)]
    stored = iter(gate.store.ingest_prepared(prepared))
    return [_stored(next(stored)) if isinstance(outcome, PreparedObject) else outcome for outcome in checked]


def _prepare_part(part: StowPart, gate: _Gate) -> PreparedObject | _Failure:
    if part.media_type not in (None, DICOM_MEDIA_TYPE):
        return _Failure(FailureReason.CANNOT_UNDERSTAND)
    try:
        prepared = gate.store.prepare(part.body)
    except ResourceLimitError:
        return _Failure(FailureReason.OUT_OF_RESOURCES)
    except InvalidDicomError:
        return _Failure(FailureReason.CANNOT_UNDERSTAND)
    refused = gate.check(prepared.record) if gate.reads_header else None
    return refused if refused is not None else prepared


def _stored(outcome: IngestResult | OutputError) -> IngestResult | _Failure:
    if isinstance(outcome, OutputError):
        _log.warning("stow: a part was not stored: %s (%s)", outcome.code, type(outcome).__name__)
        return _Failure(FailureReason.OUT_OF_RESOURCES)
    return outcome


def _stow_body(stored: Sequence[IngestResult], failures: Sequence[_Failure], base_url: str) -> DicomJson:
    body: DicomJson = {}
    studies = {result.study_instance_uid for result in stored}
    if len(studies) == 1:
        body[f"{_RETRIEVE_URL:08X}"] = element(_RETRIEVE_URL, f"{base_url}/studies/{next(iter(studies))}")
    if stored:
        body[f"{_REFERENCED_SOP_SEQUENCE:08X}"] = {"vr": "SQ", "Value": [_referenced(r, base_url) for r in stored]}
    if failures:
        body[f"{_FAILED_SOP_SEQUENCE:08X}"] = {"vr": "SQ", "Value": [_failed(f) for f in failures]}
    return body


def _referenced(result: IngestResult, base_url: str) -> DicomJson:
    url = (
        f"{base_url}/studies/{result.study_instance_uid}/series/{result.series_instance_uid}"
        f"/instances/{result.sop_instance_uid}"
    )
    item: DicomJson = {
        f"{_SOP_CLASS:08X}": element(_SOP_CLASS, result.sop_class_uid),
        f"{_SOP_INSTANCE:08X}": element(_SOP_INSTANCE, result.sop_instance_uid),
        f"{_RETRIEVE_URL:08X}": element(_RETRIEVE_URL, url),
    }
    if result.status is IngestStatus.REPLACED:
        item[f"{_WARNING_REASON:08X}"] = element(_WARNING_REASON, FailureReason.COERCION)
    return item


def _failed(failure: _Failure) -> DicomJson:
    item: DicomJson = {}
    if failure.sop_class_uid is not None:
        item[f"{_SOP_CLASS:08X}"] = element(_SOP_CLASS, failure.sop_class_uid)
    if failure.sop_instance_uid is not None:
        item[f"{_SOP_INSTANCE:08X}"] = element(_SOP_INSTANCE, failure.sop_instance_uid)
    item[f"{_FAILURE_REASON:08X}"] = element(_FAILURE_REASON, failure.reason)
    return item


def find_instances(
    store: Store, study: str, series: str | None = None, instance: str | None = None
) -> list[InstanceResult]:
    """The stored instances of a study, series or one instance, in query order.

    Raises:
        StoredInstanceNotFoundError: nothing stored there (also for an instance whose
            study or series differs from the path's).
    """
    if instance is not None:
        found = store.instance(instance)
        if found.study_instance_uid != study or (series is not None and found.series_instance_uid != series):
            raise StoredInstanceNotFoundError("no stored instance at that study, series and instance")
        return [found]
    results = store.instances(InstanceQuery(study_instance_uid=study, series_instance_uid=series))
    if not results:
        raise StoredInstanceNotFoundError("no stored instance in that study or series")
    return results


def iter_instance_bytes(
    store: Store, instances: Sequence[InstanceResult], transcode: Sequence[bool] | None = None
) -> Iterator[bytes]:
    """Each instance's checked bytes, read only when the response reaches it.

    Args:
        store: the study store.
        instances: what to read.
        transcode: for each instance, whether to re-encode it as Explicit VR Little Endian.

    Raises:
        UnsupportedTransferSyntaxError: an instance to re-encode is in a syntax no
            installed decoder reads (checked before the first byte is read).
    """
    flags = list(transcode) if transcode is not None else [False] * len(instances)
    for instance, flag in zip(instances, flags, strict=True):
        if flag:
            check_transcodable(instance.transfer_syntax_uid)
    return _read(store, instances, flags)


def _read(store: Store, instances: Sequence[InstanceResult], transcode: Sequence[bool]) -> Iterator[bytes]:
    for instance, flag in zip(instances, transcode, strict=True):
        data = store.blobs.get(instance.sha256)
        yield to_explicit_little_endian(data) if flag else data


def metadata(store: Store, instances: Sequence[InstanceResult]) -> list[DicomJson]:
    """The DICOM JSON metadata of each instance, bulk data left out."""
    return [instance_metadata(data) for data in iter_instance_bytes(store, instances)]


def instance_frames(store: Store, instance: InstanceResult, frames: str) -> Iterator[bytes]:
    """The frames named by ``frames`` (``"1,3"``) as native little-endian bytes.

    Raises:
        UsageError: a malformed list, or a frame the instance does not have.
        MissingPixelDataError: the instance is not an image.
    """
    numbers = parse_frame_list(frames)
    return iter_frames(store.blobs.get(instance.sha256), numbers)


def rendered(
    store: Store,
    instance: InstanceResult,
    media_type: RenderFormat,
    *,
    frame: int | None = None,
    window: str | None = None,
    quality: int | None = None,
) -> bytes:
    """One frame of ``instance`` as a PNG or JPEG, windowed by ``window`` or its own VOI.

    Raises:
        UsageError: a malformed window or a frame the instance does not have.
        MissingPixelDataError: the instance is not an image.
    """
    parsed = parse_window(window) if window is not None else None
    try:
        return render_instance(
            store.blobs.get(instance.sha256), media_type, frame=frame, window=parsed, quality=quality
        )
    except MedsightError as exc:
        _log.info("rendered: %s (%s)", exc.code, type(exc).__name__)
        raise

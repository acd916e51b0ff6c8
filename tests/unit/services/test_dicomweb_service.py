"""STOW-RS and WADO-RS use cases on a real store: statuses, failure reasons, submitters, listeners."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from medsight.access import Principal, Role
from medsight.errors import StoredInstanceNotFoundError
from medsight.services import dicomweb
from medsight.services.accounts import AccessService
from medsight.services.context import ServiceContext
from medsight.services.jobs import JobService
from medsight.settings import ServiceSettings
from medsight.store import IngestResult, IngestStatus, Store, StudyQuery
from medsight.store.accounts import Accounts

BASE = "http://test/dicomweb"
SENDER = Principal(actor="modality-1", role=Role.DEVICE, token_id="t1")


@pytest.fixture
def context(store: Store, tmp_path: Path) -> ServiceContext:
    """A service on the store tests' store: SQLite and PostgreSQL."""
    settings = ServiceSettings(data_dir=tmp_path / "var", analysis_workers=0, auto_analyze=False)
    access = AccessService(Accounts(store.sessions))
    return ServiceContext(settings=settings, store=store, access=access, jobs=JobService(store, access, settings))


def _ct(study: str | None = None, description: str | None = None) -> bytes:
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.SOPInstanceUID = generate_uid()
    dataset.StudyInstanceUID = study or generate_uid()
    if description is not None:
        dataset.StudyDescription = description
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _parts(*bodies: bytes, media: str | None = "application/dicom") -> list[dicomweb.StowPart]:
    return [dicomweb.StowPart(media, body) for body in bodies]


def _reasons(response: dicomweb.StowResponse) -> list[int]:
    return [item["00081197"]["Value"][0] for item in response.body.get("00081198", {}).get("Value", [])]


def test_all_stored_is_200_with_references_and_submitters(context: ServiceContext) -> None:
    heard: list[tuple[Sequence[IngestResult], Principal]] = []
    context.ingest_listeners.append(lambda results, who, **_: heard.append((results, who)))
    study = generate_uid()
    response = dicomweb.store_parts(context, _parts(_ct(study), _ct(study)), SENDER, base_url=BASE)
    assert response.status == 200
    assert response.body["00081190"]["Value"] == [f"{BASE}/studies/{study}"]
    assert len(response.body["00081199"]["Value"]) == 2
    assert context.access.accounts.submitted(study, SENDER.actor)
    assert [(len(results), who) for results, who in heard] == [(2, SENDER)]


def test_failures_and_warnings(context: ServiceContext) -> None:
    first = _ct()
    dicomweb.store_parts(context, _parts(first), SENDER, base_url=BASE)
    dataset = pydicom.dcmread(io.BytesIO(first))
    dataset.StudyDescription = "corrected"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    parts = [*_parts(buffer.getvalue(), b"junk"), *_parts(b"{}", media="application/json")]
    response = dicomweb.store_parts(context, parts, SENDER, base_url=BASE)
    assert response.status == 202
    assert [r.status for r in response.stored] == [IngestStatus.REPLACED]
    assert response.body["00081199"]["Value"][0]["00081196"]["Value"] == [dicomweb.FailureReason.COERCION]
    assert _reasons(response) == [dicomweb.FailureReason.CANNOT_UNDERSTAND] * 2


def test_all_failed_is_409_and_tells_no_listener(context: ServiceContext) -> None:
    heard: list[object] = []
    context.ingest_listeners.append(lambda results, who, **_: heard.append(results))
    response = dicomweb.store_parts(context, _parts(b"junk"), SENDER, base_url=BASE)
    assert (response.status, _reasons(response), heard) == (409, [0xC000], [])


def test_objects_of_another_study_fail_on_a_study_url(context: ServiceContext) -> None:
    study = generate_uid()
    response = dicomweb.store_parts(context, _parts(_ct(study), _ct()), SENDER, base_url=BASE, study=study)
    assert response.status == 202
    assert _reasons(response) == [dicomweb.FailureReason.PROCESSING_FAILURE]
    assert "00081155" in response.body["00081198"]["Value"][0]


def test_oversize_objects_fail_out_of_resources(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path / "var", max_object_bytes=1000, analysis_workers=0)
    small = ServiceContext.open(settings)
    try:
        response = dicomweb.store_parts(small, _parts(_ct()), SENDER, base_url=BASE)
    finally:
        small.close()
    assert _reasons(response) == [dicomweb.FailureReason.OUT_OF_RESOURCES]


def test_find_instances_checks_the_path(context: ServiceContext) -> None:
    study = generate_uid()
    (stored,) = dicomweb.store_parts(context, _parts(_ct(study)), SENDER, base_url=BASE).stored
    (found,) = dicomweb.find_instances(context.store, study, stored.series_instance_uid, stored.sop_instance_uid)
    assert found.sha256 == stored.sha256
    with pytest.raises(StoredInstanceNotFoundError):
        dicomweb.find_instances(context.store, generate_uid(), None, stored.sop_instance_uid)
    with pytest.raises(StoredInstanceNotFoundError):
        dicomweb.find_instances(context.store, study, generate_uid(), stored.sop_instance_uid)
    with pytest.raises(StoredInstanceNotFoundError):
        dicomweb.find_instances(context.store, generate_uid())
    (metadata,) = dicomweb.metadata(context.store, [found])
    assert metadata["0020000D"]["Value"] == [study]


def test_parts_of_one_new_study_stored_at_once_make_one_study(context: ServiceContext) -> None:
    study = generate_uid()
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.StudyInstanceUID = study
    bodies = []
    for _ in range(24):
        dataset.SOPInstanceUID = generate_uid()
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        bodies.append(buffer.getvalue())
    response = dicomweb.store_parts(context, _parts(*bodies), SENDER, base_url=BASE)
    assert response.status == 200
    assert [r.sop_instance_uid for r in response.stored] == [
        pydicom.dcmread(io.BytesIO(b)).SOPInstanceUID for b in bodies
    ]
    (found,) = context.store.studies(StudyQuery(study_instance_uids=(study,)))
    assert (found.number_of_series, found.number_of_instances) == (1, 24)


def test_a_referrer_may_not_add_to_a_study_it_did_not_send(context: ServiceContext) -> None:
    referrer = Principal(actor="dr.ref", role=Role.REFERRER, token_id="t2")
    theirs, mine = generate_uid(), generate_uid()
    dicomweb.store_parts(context, _parts(_ct(theirs)), SENDER, base_url=BASE)
    response = dicomweb.store_parts(context, _parts(_ct(theirs), _ct(mine), _ct(mine)), referrer, base_url=BASE)
    assert response.status == 202
    assert _reasons(response) == [dicomweb.FailureReason.NOT_AUTHORIZED]
    assert not context.access.accounts.submitted(theirs, referrer.actor)
    assert context.access.accounts.submitted(mine, referrer.actor)
    again = dicomweb.store_parts(context, _parts(_ct(mine)), referrer, base_url=BASE)
    assert again.status == 200  # its own study, sent before
    device = dicomweb.store_parts(context, _parts(_ct(theirs)), SENDER, base_url=BASE)
    assert device.status == 200  # devices and radiologists are not limited to their own studies

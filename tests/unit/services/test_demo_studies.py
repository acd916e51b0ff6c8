"""The demo studies: real DICOM, stable UIDs, loaded once however often the demo starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.conftest import SHARED
from tests.data.dciodvfy import dciodvfy

from medsight.access import Role
from medsight.io.dicom.index import index_record
from medsight.services.context import ServiceContext
from medsight.services.demo_studies import BRAIN_MRI_DATASET, demo_objects, seed_demo_studies
from medsight.services.volume_jobs import VolumeJobRunner
from medsight.settings import ServiceSettings
from medsight.store.jobs import JobStatus


@pytest.fixture
def context(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = ServiceContext.open(ServiceSettings(data_dir=tmp_path / "var"))
    yield opened
    opened.close()


def test_without_shared_data_the_demo_holds_the_bundled_samples(context: ServiceContext) -> None:
    objects = demo_objects(None)
    assert [item.source for item in objects] == ["pydicom/CT_small.dcm", "pydicom/MR_small.dcm"]
    admin = context.access.authenticate(f"Bearer {context.access.issue_token(role=Role.ADMIN).value}")
    first = seed_demo_studies(context, objects, admin)
    again = seed_demo_studies(context, objects, admin)
    assert (first.stored, first.failed, first.studies) == (2, 0, 2)
    assert (again.stored, again.already_stored) == (0, 2)


def test_routing_listeners_hear_of_the_demo(context: ServiceContext) -> None:
    heard: list[tuple[int, bool]] = []
    context.ingest_listeners.append(lambda results, _principal, complete: heard.append((len(results), complete)))
    admin = context.access.authenticate(f"Bearer {context.access.issue_token(role=Role.ADMIN).value}")
    seed_demo_studies(context, demo_objects(None), admin)
    assert heard == [(2, True)]  # whole series: no rule need wait for more of them
    assert context.access.accounts.studies_submitted_by(admin.actor)


@pytest.mark.shared
def test_chest_xrays_become_dx_chest_objects_with_stable_uids() -> None:
    if not (SHARED / "datasets" / "chest_xray_pneumonia_224").is_dir():
        pytest.skip("../shared/datasets/chest_xray_pneumonia_224 is absent")
    first = [item for item in demo_objects(SHARED, per_class=1) if item.source.startswith("chest")]
    second = [item for item in demo_objects(SHARED, per_class=1) if item.source.startswith("chest")]
    assert len(first) == 2
    assert [item.data for item in first] == [item.data for item in second]
    record = index_record(first[0].data)
    assert (record.modality, record.body_part_examined, record.rows) == ("DX", "CHEST", 224)


@pytest.mark.shared
def test_a_brain_mri_validation_patient_becomes_a_flair_series_routed_to_the_tumour_task(tmp_path: Path) -> None:
    if not (SHARED / "datasets" / BRAIN_MRI_DATASET).is_dir():
        pytest.skip(f"../shared/datasets/{BRAIN_MRI_DATASET} is absent")
    brain = [item for item in demo_objects(SHARED, per_class=1) if item.source.startswith(BRAIN_MRI_DATASET)]
    again = [item for item in demo_objects(SHARED, per_class=1) if item.source.startswith(BRAIN_MRI_DATASET)]
    assert len(brain) >= 8
    assert [item.data for item in brain] == [item.data for item in again]
    record = index_record(brain[0].data)
    assert (record.modality, record.body_part_examined, record.series_description) == ("MR", "BRAIN", "AX FLAIR")
    assert len({index_record(item.data).series_instance_uid for item in brain}) == 1
    opened = ServiceContext.open(ServiceSettings(data_dir=tmp_path / "var", analysis_workers=0))
    try:
        admin = opened.access.authenticate(f"Bearer {opened.access.issue_token(role=Role.ADMIN).value}")
        seed_demo_studies(opened, brain, admin)
        (job,) = opened.jobs.jobs.search()
        assert (job.task, len(job.inputs)) == ("mri-brain-tumour", len(brain))
        claimed = opened.jobs.jobs.claim("w", opened.jobs.clock(), 60)
        assert claimed is not None
        outcome = VolumeJobRunner(opened.jobs).run(claimed, lambda: True)
        # A validation patient with a tumour: segmented, not refused, and its SEG filed in the study.
        assert outcome.status is JobStatus.DONE, outcome.result
        assert outcome.result is not None
        assert outcome.result["volumes_ml"]["tumour"] > 1.0
        seg = opened.store.instance(outcome.result["segmentation"]["sop_instance_uid"])
        assert seg.study_instance_uid == record.study_instance_uid
    finally:
        opened.close()
    if shutil.which("dciodvfy"):
        assert dciodvfy(brain[0].data).errors == ()

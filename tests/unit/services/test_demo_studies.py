"""The demo studies: real DICOM, stable UIDs, loaded once however often the demo starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import SHARED

from medsight.access import Role
from medsight.io.dicom.index import index_record
from medsight.services.context import ServiceContext
from medsight.services.demo_studies import demo_objects, seed_demo_studies
from medsight.settings import ServiceSettings


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
    heard: list[int] = []
    context.ingest_listeners.append(lambda results, _principal: heard.append(len(results)))
    admin = context.access.authenticate(f"Bearer {context.access.issue_token(role=Role.ADMIN).value}")
    seed_demo_studies(context, demo_objects(None), admin)
    assert heard == [2]
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

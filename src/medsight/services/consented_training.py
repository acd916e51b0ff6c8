"""Use case: train on the consented part of a dataset built from the store, and record the run.

The torch-free half (building datasets, checking consent) is :mod:`medsight.services.training_data`;
this half trains, so only ``medsight train`` imports it, inside the command.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from medsight.models.bundle import Bundle
from medsight.services.train import TrainRequest, train
from medsight.services.training_data import PURPOSE, consented_data
from medsight.settings import ReadLimits
from medsight.store import Store
from medsight.store.consent import ConsentLog
from medsight.store.training_runs import RunRecord, TrainingRuns
from medsight.training import FitProgress

__all__ = ["train_consented"]


def train_consented(
    request: TrainRequest,
    store: Store,
    *,
    actor: str,
    progress: FitProgress | None = None,
    limits: ReadLimits | None = None,
) -> tuple[Bundle, RunRecord]:
    """Train on the consented part of a built dataset and record the run.

    Raises:
        InvalidDatasetError: as :func:`consented_data`, or as ``train``.
        MedsightError: the run could not be recorded (the bundle is then removed: a model
            whose data use is not on record is not released).
    """
    data = consented_data(request.data, ConsentLog(store.sessions))
    consent = {
        "purpose": PURPOSE.value,
        "checked_at": data.checked_at.isoformat(),
        "patients": data.patients,
        "images": len(data.images),
        "left_out_withdrawn": data.dropped,
        "dataset_provenance_sha256": data.dataset_sha256,
        "register": "training_runs in the store's database (pseudonyms and instance hashes)",
    }
    bundle = train(replace(request, keep=data.keys, extra_provenance={"consent": consent}), progress, limits)
    run = RunRecord(
        run_id=uuid.uuid4().hex,
        task=bundle.metadata.medsight.task,
        model_name=bundle.name,
        model_version=bundle.version,
        weights_sha256=bundle.sha256,
        dataset_sha256=data.dataset_sha256,
        purpose=PURPOSE.value,
        consent_checked_at=data.checked_at,
        created_at=datetime.now(UTC),
        actor=actor,
        patients=data.patients,
        instances=len(data.images),
        withdrawn_dropped=data.dropped,
    )
    try:
        TrainingRuns(store.sessions).record(run, data.images)
    except BaseException:
        shutil.rmtree(request.out, ignore_errors=True)
        raise
    return bundle, run

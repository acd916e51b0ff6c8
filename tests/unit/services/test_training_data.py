"""Training on stored studies under consent: who is in a dataset, who is in each run, and the register.

The scenario the issue names: a patient withdraws consent between two training runs on the
same dataset folder; the second run leaves them out, the register shows which runs used them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import generate_uid
from tests.data.chest_dicom import with_uids
from tests.data.synthetic_cxr import chest_like, write_dx_dicom

from medsight.errors import InvalidDatasetError, UsageError
from medsight.models.networks import NetworkConfig
from medsight.privacy.profile import parse_options
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.services.consent import record_consent
from medsight.services.consented_training import train_consented
from medsight.services.deid import make_profile
from medsight.services.train import TrainRequest
from medsight.services.training_data import PROVENANCE_FILE, build_dataset, consented_data
from medsight.settings import StoreSettings
from medsight.store import Store
from medsight.store.consent import ConsentLog
from medsight.store.training_runs import TrainingRuns
from medsight.training import FitOptions, TrainOptions

KEY = b"k" * 32
PATIENTS = 10
IMAGES = 3  # per study


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(StoreSettings(data_dir=tmp_path / "var"))
    rng = np.random.default_rng(0)
    rows = []
    for p in range(PATIENTS):
        positive = p % 2 == 0
        study, series = generate_uid(), generate_uid()
        for i in range(IMAGES):
            path = write_dx_dicom(tmp_path / f"p{p}-{i}.dcm", chest_like(28, positive, rng))
            data = with_uids(path.read_bytes(), study=study, series=series, PatientID=f"PLANTED-PATIENT-{p:02d}")
            store.ingest(data)
        rows.append([study, "PNEUMONIA" if positive else "NORMAL", "train" if p < 6 else "val"])
    with (tmp_path / "labels.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["study_instance_uid", "label", "split"])
        writer.writerows(rows)
    return store


def _pseudonym(p: int) -> str:
    return str(Pseudonymizer(KEY).patient(f"PLANTED-PATIENT-{p:02d}"))


def _consent(store: Store, p: int, granted: bool) -> None:
    record_consent(ConsentLog(store.sessions), _pseudonym(p), "model-training", granted=granted, recorded_by="test")


def _build(store: Store, tmp_path: Path, out: str):  # type: ignore[no-untyped-def]
    profile = make_profile("basic", parse_options(["clean-pixel-data"]))
    return build_dataset(
        store,
        ConsentLog(store.sessions),
        KEY,
        task="cxr-pneumonia",
        labels=tmp_path / "labels.csv",
        out=tmp_path / out,
        profile=profile,
    )


def _train(store: Store, data: Path, out: Path):  # type: ignore[no-untyped-def]
    options = FitOptions(
        resolution=28,
        train=TrainOptions(epochs=2, batch_size=8, lr=3e-3, seed=0, patience=2),
        network=NetworkConfig(widths=(4, 8, 8, 8), blocks=(1, 1, 1, 1)),
        bootstrap=50,
        name="consented",
        threads=1,
    )
    return train_consented(TrainRequest("cxr-pneumonia", data, out, options, "pytest"), store, actor="test")


def test_a_dataset_holds_only_consented_patients_de_identified(store: Store, tmp_path: Path) -> None:
    for p in range(PATIENTS - 1):  # the last patient never consented
        _consent(store, p, True)
    report = _build(store, tmp_path, "set")
    assert (report.studies, report.patients, report.images) == (PATIENTS - 1, PATIENTS - 1, (PATIENTS - 1) * IMAGES)
    assert report.studies_without_consent == 1
    assert report.split_sizes == {"train": 6 * IMAGES, "val": 3 * IMAGES}
    everything = b"".join(path.read_bytes() for path in (tmp_path / "set").rglob("*") if path.is_file())
    assert b"PLANTED-PATIENT" not in everything  # identifiers replaced by keyed pseudonyms
    assert _pseudonym(PATIENTS - 1).encode() not in everything
    assert _pseudonym(0).encode() in (tmp_path / "set" / PROVENANCE_FILE).read_bytes()
    with pytest.raises(UsageError, match="not empty"):
        _build(store, tmp_path, "set")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".set.")]  # no half-written folder


def test_withdrawal_between_two_runs(store: Store, tmp_path: Path) -> None:
    for p in range(PATIENTS):
        _consent(store, p, True)
    _build(store, tmp_path, "set")
    first_bundle, first = _train(store, tmp_path / "set", tmp_path / "model-1")
    assert (first.patients, first.instances, first.withdrawn_dropped) == (PATIENTS, PATIENTS * IMAGES, 0)

    _consent(store, 3, False)  # patient 3 withdraws between the runs
    second_bundle, second = _train(store, tmp_path / "set", tmp_path / "model-2")
    assert (second.patients, second.instances, second.withdrawn_dropped) == (PATIENTS - 1, (PATIENTS - 1) * IMAGES, 3)

    runs = TrainingRuns(store.sessions)
    assert [r.run_id for r in runs.runs_using(_pseudonym(3))] == [first.run_id]
    assert [r.run_id for r in runs.runs_using(_pseudonym(4))] == [first.run_id, second.run_id]
    assert _pseudonym(3) not in {image.pseudonym for image in runs.data_of(second.run_id)}
    assert len(runs.data_of(first.run_id)) == PATIENTS * IMAGES
    assert first.weights_sha256 == first_bundle.sha256
    # The bundle says how its data was governed, without the pseudonym list.
    consent = second_bundle.metadata.medsight.training["data"]["consent"]
    assert (consent["patients"], consent["left_out_withdrawn"]) == (PATIENTS - 1, 3)
    assert _pseudonym(0) not in (tmp_path / "model-2").joinpath("configs", "metadata.json").read_text()
    # A dataset built after the withdrawal leaves the patient out from the start.
    assert _build(store, tmp_path, "set-2").patients == PATIENTS - 1


def test_nobody_consenting_is_a_clear_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InvalidDatasetError, match="no labelled patient has consent"):
        _build(store, tmp_path, "set")
    _consent(store, 0, True)
    _build(store, tmp_path, "set")
    _consent(store, 0, False)
    with pytest.raises(InvalidDatasetError, match="no patient of this dataset has consent"):
        consented_data(tmp_path / "set", ConsentLog(store.sessions))

"""Use cases: training datasets from the store, under consent, and the record of what each run used.

1. :func:`build_dataset` turns labelled stored studies into a training folder in the
   ``labels.csv`` layout every classification task reads: only patients whose consent to
   model training is in force, every object de-identified (PS3.15 Basic Profile with Clean
   Pixel Data; pseudonyms from the de-identification key, so one patient stays one
   pseudonym), split by patient, and a ``provenance.json`` listing each image's patient
   pseudonym, the stored object it came from and the file it became (sha256s).
2. :func:`consented_data` runs again when the folder is trained on, however long after it
   was built: a patient who withdrew meanwhile is left out of that run.
3. :func:`medsight.services.consented_training.train_consented` trains on what remains
   and records the run in the store's training-run register
   (:mod:`medsight.store.training_runs`): the model name, version and weights hash, and
   the pseudonym and hashes of every image, so an auditor can say whose data trained
   which model version. The bundle itself carries counts and the dataset hash, not the
   pseudonym list (bundles travel; the register stays in the hospital).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medsight.errors import BurnedInTextError, InvalidDatasetError, UsageError
from medsight.io.dicom.deid import deidentify_bytes
from medsight.io.files import write_bytes, write_text
from medsight.privacy.consent import Purpose
from medsight.privacy.methods import method_names
from medsight.privacy.profile import Profile
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.services.consent import consented
from medsight.store import Store, StudyQuery
from medsight.store.blobs import sha256_hex
from medsight.store.consent import ConsentLog
from medsight.store.training_runs import UsedImage
from medsight.tasks import get_task
from medsight.tasks.registry import TaskKind

__all__ = [
    "PROVENANCE_FILE",
    "PURPOSE",
    "ConsentedData",
    "DatasetReport",
    "build_dataset",
    "consented_data",
    "is_consent_governed",
]

PROVENANCE_FILE = "provenance.json"
_FORMAT = "medsight-training-dataset-v1"
PURPOSE = Purpose.MODEL_TRAINING
# SOP classes that hold no image to train on (reports, segmentations, key objects, states).
_NOT_IMAGES = (
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports
    "1.2.840.10008.5.1.4.1.1.66.",  # segmentation, registration, surface
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated documents
)
_VAL_SHARE = 5  # one patient in five goes to val when the labels give no split


@dataclass(frozen=True)
class DatasetReport:
    """What a built dataset holds, and what was left out (counts only: no identifiers)."""

    out: Path
    studies: int
    patients: int
    images: int
    studies_without_consent: int
    refused_burned_in_text: int
    skipped_not_images: int
    split_sizes: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "out": str(self.out)}


@dataclass(frozen=True)
class ConsentedData:
    """The part of a consent-governed dataset that may be trained on now."""

    keys: frozenset[str]  # labels.csv paths (the dataset's case keys) still consented
    images: tuple[UsedImage, ...]
    dropped: int  # images left out: their patient's consent is no longer in force
    checked_at: datetime
    dataset_sha256: str

    @property
    def patients(self) -> int:
        return len({image.pseudonym for image in self.images})


def is_consent_governed(folder: Path) -> bool:
    """Whether ``folder`` was built by :func:`build_dataset` (it has a provenance file)."""
    return (Path(folder) / PROVENANCE_FILE).is_file()


def build_dataset(
    store: Store,
    consents: ConsentLog,
    key: bytes,
    *,
    task: str,
    labels: Path,
    out: Path,
    profile: Profile,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DatasetReport:
    """Write the consented, de-identified training folder for the studies ``labels`` names.

    ``labels`` is a CSV with ``study_instance_uid,label`` and optionally ``split`` (train,
    val): labels from reports or reviewed AI results. The folder appears whole or not at all.

    Raises:
        InvalidDatasetError: the labels file is malformed, names an unknown class or a
            study the store does not hold, or no labelled patient has consent in force.
        UsageError: ``out`` exists and is not empty. DeidentificationKeyError: bad key.
        OutputError: the folder cannot be written (nothing is left behind).
    """
    spec = get_task(task)
    if spec.kind is not TaskKind.CLASSIFICATION:
        raise UsageError(f"{spec.name} is not a classification task; datasets from the store carry class labels")
    rows = _read_labels(labels, spec.label_of)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty; name a new folder")
    pseudonyms = Pseudonymizer(key)
    found = {s.study_instance_uid: s for s in store.studies(StudyQuery(study_instance_uids=tuple(rows)))}
    missing = [n for n, study in enumerate(rows, start=2) if study not in found]
    if missing:
        raise InvalidDatasetError(f"{labels.name} line {missing[0]}: the store holds no such study")
    patient = {uid: str(pseudonyms.patient(s.patient_id or s.patient_name or "")) for uid, s in found.items()}
    checked_at = clock()
    allowed = consented(consents, set(patient.values()), PURPOSE)
    chosen = [uid for uid in rows if patient[uid] in allowed]
    if not chosen:
        raise InvalidDatasetError("no labelled patient has consent to model training in force")

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        named = {uid: (spec.classes[label], split) for uid, (label, split) in rows.items()}
        listed, refused, skipped = _write_images(store, chosen, named, patient, profile, pseudonyms, staging)
        if not listed:
            raise InvalidDatasetError("no consented study holds an image that could be de-identified")
        write_text(staging / "labels.csv", _labels_csv(listed))
        provenance = _provenance(spec.name, profile, checked_at, listed, len(rows) - len(chosen), refused)
        write_text(staging / PROVENANCE_FILE, json.dumps(provenance, indent=1) + "\n")
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    splits: dict[str, int] = {}
    for row in listed:
        splits[row["split"]] = splits.get(row["split"], 0) + 1
    return DatasetReport(
        out=out,
        studies=len(chosen),
        patients=len({row["pseudonym"] for row in listed}),
        images=len(listed),
        studies_without_consent=len(rows) - len(chosen),
        refused_burned_in_text=refused,
        skipped_not_images=skipped,
        split_sizes=dict(sorted(splits.items())),
    )


def consented_data(
    folder: Path, consents: ConsentLog, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> ConsentedData:
    """The images of a built dataset whose patients' consent to model training is in force now.

    Raises:
        InvalidDatasetError: the provenance file is unreadable, or no image is left.
    """
    path = Path(folder) / PROVENANCE_FILE
    try:
        raw = path.read_bytes()
        document = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise InvalidDatasetError(f"{PROVENANCE_FILE} in {Path(folder).name} is unreadable") from exc
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise InvalidDatasetError(f"{PROVENANCE_FILE} in {Path(folder).name} is not a medsight training dataset")
    try:
        listed = [(r["path"], UsedImage(r["pseudonym"], r["source_sha256"], r["sha256"])) for r in document["images"]]
    except (KeyError, TypeError) as exc:
        raise InvalidDatasetError(f"{PROVENANCE_FILE} in {Path(folder).name} lacks its image list") from exc
    checked_at = clock()
    allowed = consented(consents, {image.pseudonym for _, image in listed}, PURPOSE)
    kept = [(key, image) for key, image in listed if image.pseudonym in allowed]
    if not kept:
        raise InvalidDatasetError("no patient of this dataset has consent to model training in force now")
    return ConsentedData(
        keys=frozenset(key for key, _ in kept),
        images=tuple(image for _, image in kept),
        dropped=len(listed) - len(kept),
        checked_at=checked_at,
        dataset_sha256=hashlib.sha256(raw).hexdigest(),
    )


def _read_labels(labels: Path, label_of: Callable[[str], int]) -> dict[str, tuple[int, str]]:
    """study_instance_uid -> (label, split or "") from the labels CSV, in file order."""
    try:
        text = labels.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidDatasetError(f"cannot read {labels.name}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"study_instance_uid", "label"} <= set(reader.fieldnames):
        raise InvalidDatasetError(f"{labels.name} needs the columns study_instance_uid,label (and optionally split)")
    rows: dict[str, tuple[int, str]] = {}
    for line, row in enumerate(reader, start=2):
        study = (row.get("study_instance_uid") or "").strip()
        split = (row.get("split") or "").strip().lower()
        if not study or split not in ("", "train", "val"):
            raise InvalidDatasetError(f"{labels.name} line {line}: needs a study UID and a split of train, val or none")
        try:
            label = label_of((row.get("label") or "").strip())
        except UsageError as exc:
            raise InvalidDatasetError(f"{labels.name} line {line}: {exc}") from None
        if study in rows:
            raise InvalidDatasetError(f"{labels.name} line {line}: the study is listed twice")
        rows[study] = (label, split)
    if not rows:
        raise InvalidDatasetError(f"{labels.name} lists no study")
    return rows


def _write_images(
    store: Store,
    chosen: Sequence[str],
    rows: dict[str, tuple[str, str]],
    patient: dict[str, str],
    profile: Profile,
    pseudonyms: Pseudonymizer,
    folder: Path,
) -> tuple[list[dict[str, str]], int, int]:
    listed: list[dict[str, str]] = []
    refused = skipped = 0
    (folder / "images").mkdir()
    for s, study in enumerate(chosen, start=1):
        label, split = rows[study]
        split = split or _split_of(patient[study])
        for n, (instance, data) in enumerate(store.iter_instances(study), start=1):
            if (instance.sop_class_uid or "").startswith(_NOT_IMAGES) or not instance.rows:
                skipped += 1
                continue
            try:
                out = deidentify_bytes(data, f"study {s} object {n}", profile, pseudonyms)
            except BurnedInTextError:
                refused += 1  # never trained on: its text could not be cleaned
                continue
            relative = f"images/{s:05d}-{n:05d}.dcm"
            write_bytes(folder / relative, out)
            listed.append(
                {
                    "path": relative,
                    "label": label,
                    "split": split,
                    "sha256": sha256_hex(out),
                    "source_sha256": instance.sha256,
                    "pseudonym": patient[study],
                }
            )
    return listed, refused, skipped


def _split_of(pseudonym: str) -> str:
    """Train or val by patient, the same for a patient in every build (a keyed pseudonym is uniform)."""
    return "val" if int(hashlib.sha256(pseudonym.encode()).hexdigest()[:8], 16) % _VAL_SHARE == 0 else "train"


def _labels_csv(listed: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "label", "split", "sha256", "patient_id"])
    for row in listed:
        writer.writerow([row["path"], row["label"], row["split"], row["sha256"], row["pseudonym"]])
    return out.getvalue()


def _provenance(
    task: str, profile: Profile, checked_at: datetime, listed: list[dict[str, str]], without_consent: int, refused: int
) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "task": task,
        "purpose": PURPOSE.value,
        "consent_checked_at": checked_at.isoformat(),
        "deidentification": method_names(profile.options),
        "studies_without_consent": without_consent,
        "refused_burned_in_text": refused,
        "images": [{k: row[k] for k in ("path", "pseudonym", "source_sha256", "sha256", "split")} for row in listed],
    }

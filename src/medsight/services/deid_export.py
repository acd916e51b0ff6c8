"""A de-identified export of stored studies: one zip, the Basic Profile applied to every object.

The service's ``POST /api/v1/exports/deid`` calls :func:`export_studies`. Member names are
positions (``study-001/00001.dcm``), never UIDs; ``manifest.json`` says how many objects
went in, how many were refused (burned-in text that could not be cleaned) and how many
studies were left out for want of consent, so nothing is left out silently. The key is
the same as the CLI's, so pseudonyms agree across both and with the consent registry.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from medsight.errors import BurnedInTextError
from medsight.io.dicom.deid import deidentify_bytes
from medsight.privacy.consent import Purpose
from medsight.privacy.methods import method_names
from medsight.privacy.profile import Profile, table_meta
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.services.consent import consented
from medsight.store.consent import ConsentLog
from medsight.store.query import StudyQuery
from medsight.store.store import Store

__all__ = ["ConsentCheck", "ExportSummary", "ZipTarget", "export_studies"]


class ZipTarget(Protocol):
    """Where the zip goes: a file, or a stream that keeps it encrypted (``store.spool.SealedSpool``)."""

    def write(self, data: bytes, /) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsentCheck:
    """Include only patients with a grant for ``purpose`` (and ``party``) in force."""

    log: ConsentLog
    purpose: Purpose
    party: str = ""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export holds."""

    studies: int
    instances: int
    refused: int
    without_consent: int = 0


def export_studies(
    store: Store,
    study_uids: Sequence[str],
    profile: Profile,
    key: bytes,
    target: ZipTarget,
    consent: ConsentCheck | None = None,
) -> ExportSummary:
    """Write the de-identified objects of ``study_uids`` as a zip to ``target``.

    Raises:
        StoredInstanceNotFoundError: a study holds no stored instance.
        StoredObjectCorruptError: a stored object no longer matches its hash.
        DeidentificationKeyError: the key is too short.
    """
    pseudonyms = Pseudonymizer(key)
    allowed = _allowed(store, study_uids, pseudonyms, consent)
    written = refused = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for s, study in enumerate(study_uids, start=1):
            if study not in allowed:
                continue
            for n, (_, data) in enumerate(store.iter_instances(study), start=1):
                try:
                    out = deidentify_bytes(data, f"study {s} object {n}", profile, pseudonyms)
                except BurnedInTextError:
                    refused += 1
                    continue
                archive.writestr(f"study-{s:03d}/{n:05d}.dcm", out)
                written += 1
        summary = ExportSummary(len(allowed), written, refused, len(set(study_uids)) - len(allowed))
        archive.writestr("manifest.json", _manifest(profile, summary, consent))
    return summary


def _allowed(
    store: Store, study_uids: Sequence[str], pseudonyms: Pseudonymizer, consent: ConsentCheck | None
) -> set[str]:
    if consent is None:
        return set(study_uids)
    found = store.studies(StudyQuery(study_instance_uids=tuple(study_uids)))
    patient = {s.study_instance_uid: pseudonyms.patient(s.patient_id or s.patient_name or "") for s in found}
    granted = consented(consent.log, patient.values(), consent.purpose, consent.party)
    return {study for study, pseudonym in patient.items() if pseudonym in granted}


def _manifest(profile: Profile, summary: ExportSummary, consent: ConsentCheck | None) -> str:
    manifest = {
        "profile": method_names(profile.options),
        "table": table_meta(),
        "purpose": None if consent is None else consent.purpose.value,
        "studies": summary.studies,
        "instances": summary.instances,
        "refused_burned_in_text": summary.refused,
        "studies_without_consent": summary.without_consent,
    }
    return json.dumps(manifest, indent=2)

"""A de-identified export of stored studies: one zip, the Basic Profile applied to every object.

The service's ``POST /api/v1/exports/deid`` calls :func:`export_studies`. Member names are
positions (``study-001/00001.dcm``), never UIDs; ``manifest.json`` says how many objects
went in and how many were refused (burned-in text that could not be cleaned), so nothing
is left out silently. The key is the same as the CLI's, so pseudonyms agree across both.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from medsight.errors import BurnedInTextError
from medsight.io.dicom.deid import deidentify_bytes
from medsight.privacy.methods import method_names
from medsight.privacy.profile import Profile, table_meta
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.store.store import Store

__all__ = ["ExportSummary", "export_studies"]


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export holds."""

    studies: int
    instances: int
    refused: int


def export_studies(
    store: Store, study_uids: Sequence[str], profile: Profile, key: bytes, target: BinaryIO
) -> ExportSummary:
    """Write the de-identified objects of ``study_uids`` as a zip to ``target``.

    Raises:
        StoredInstanceNotFoundError: a study holds no stored instance.
        StoredObjectCorruptError: a stored object no longer matches its hash.
        DeidentificationKeyError: the key is too short.
    """
    pseudonyms = Pseudonymizer(key)
    written = refused = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for s, study in enumerate(study_uids, start=1):
            for n, (_, data) in enumerate(store.iter_instances(study), start=1):
                label = f"study {s} object {n}"
                try:
                    out = deidentify_bytes(data, label, profile, pseudonyms)
                except BurnedInTextError:
                    refused += 1
                    continue
                archive.writestr(f"study-{s:03d}/{n:05d}.dcm", out)
                written += 1
        manifest = {
            "profile": method_names(profile.options),
            "table": table_meta(),
            "studies": len(study_uids),
            "instances": written,
            "refused_burned_in_text": refused,
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return ExportSummary(len(study_uids), written, refused)

"""Recording and checking consent (issue 8): the CLI's ``medsight consent`` and the API's.

Patients are named by pseudonym: either given as one (``ANON-...``), or computed from a
Patient ID with the de-identification key, exactly as de-identified objects carry it, so
the registry never holds an identifier. Paths that use data for a purpose ask
:func:`consented` which patients may be included.
"""

from __future__ import annotations

from collections.abc import Iterable

from medsight.errors import UsageError
from medsight.privacy.consent import ConsentDecision, Purpose, in_force, parse_purpose
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.store.consent import ConsentLog

__all__ = ["consented", "history", "patient_pseudonym", "record_consent"]

_PREFIX = "ANON-"


def patient_pseudonym(patient_id: str | None, pseudonym: str | None, key: bytes | None) -> str:
    """The pseudonym to record under: ``pseudonym`` itself, or the keyed one of ``patient_id``.

    Raises:
        UsageError: neither or both given, or a pseudonym that is not one.
        DeidentificationKeyError: a Patient ID without a key.
    """
    if (patient_id is None) == (pseudonym is None):
        raise UsageError("name the patient by Patient ID or by pseudonym (one of them)")
    if pseudonym is not None:
        if not pseudonym.startswith(_PREFIX) or len(pseudonym) > 64:
            raise UsageError(f"a pseudonym starts with {_PREFIX}")
        return pseudonym
    return Pseudonymizer(key or b"").patient(patient_id or "")


def record_consent(
    log: ConsentLog,
    pseudonym: str,
    purpose: str,
    *,
    granted: bool,
    recorded_by: str,
    party: str | None = None,
    document_ref: str | None = None,
) -> ConsentDecision:
    """Append a grant or a withdrawal.

    Raises:
        UsageError: an unknown purpose, or a party where none belongs (or none for sharing).
    """
    chosen, named = parse_purpose(purpose, party)
    if document_ref is not None and len(document_ref) > 256:
        raise UsageError("the document reference is longer than 256 characters")
    decision = ConsentDecision(pseudonym, chosen, named, granted, recorded_by, log.now(), document_ref)
    return log.append(decision)


def history(log: ConsentLog, pseudonym: str) -> list[ConsentDecision]:
    """Every decision about one patient, oldest first."""
    return log.history(pseudonym)


def consented(log: ConsentLog, pseudonyms: Iterable[str], purpose: Purpose, party: str = "") -> set[str]:
    """Which of ``pseudonyms`` have a grant for ``purpose`` (and ``party``) in force."""
    wanted = set(pseudonyms)
    state = in_force(log.for_patients(wanted, purpose), purpose, party)
    return {p for p in wanted if state.get(p, False)}

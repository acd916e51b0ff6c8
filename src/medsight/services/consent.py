"""Recording and checking consent (issue 8): the CLI's ``medsight consent`` and the API's.

Patients are named by pseudonym: either given as one (``ANON-...``), or computed from a
Patient ID with the de-identification key, exactly as de-identified objects carry it, so
the registry never holds an identifier. Paths that use data for a purpose ask
:func:`consented` which patients may be included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from medsight.errors import UsageError
from medsight.privacy.consent import ConsentDecision, Purpose, in_force, parse_purpose
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.store.consent import ConsentLog

__all__ = ["Standing", "check_pseudonym", "consented", "history", "patient_pseudonym", "record_consent", "standing"]

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
        return check_pseudonym(pseudonym)
    return Pseudonymizer(key or b"").patient(patient_id or "")


def check_pseudonym(pseudonym: str) -> str:
    """``pseudonym`` if it is one (``ANON-...``, at most 64 characters).

    Refusing anything else keeps a Patient ID typed in the wrong field from being looked
    up, or recorded, as if it were a pseudonym.

    Raises:
        UsageError: it is not a pseudonym (the message does not repeat it).
    """
    if not pseudonym.startswith(_PREFIX) or len(pseudonym) > 64:
        raise UsageError(f"a pseudonym starts with {_PREFIX}")
    return pseudonym


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


@dataclass(frozen=True, slots=True)
class Standing:
    """Whether a grant is in force for one purpose (and, for sharing, one party)."""

    purpose: Purpose
    party: str
    granted: bool


def standing(decisions: list[ConsentDecision]) -> list[Standing]:
    """Per purpose and party one patient's ``decisions`` name, what is in force (sorted).

    Purposes without a decision are absent: no decision means no consent.
    """
    keys = sorted({(d.purpose, d.party) for d in decisions})
    return [Standing(purpose, party, any(in_force(decisions, purpose, party).values())) for purpose, party in keys]


def consented(log: ConsentLog, pseudonyms: Iterable[str], purpose: Purpose, party: str = "") -> set[str]:
    """Which of ``pseudonyms`` have a grant for ``purpose`` (and ``party``) in force."""
    wanted = set(pseudonyms)
    state = in_force(log.for_patients(wanted, purpose), purpose, party)
    return {p for p in wanted if state.get(p, False)}

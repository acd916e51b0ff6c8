"""Consent: per patient (by pseudonym) and per purpose, granted or withdrawn (issue 8).

Consent is an append-only history of decisions; the latest decision for a patient, a
purpose and (for sharing) a named party is the one in force. No decision means no
consent: data is used for a purpose only when a grant is in force. The registry holds
pseudonyms only (:meth:`medsight.privacy.pseudonym.Pseudonymizer.patient` of the Patient
ID, the same pseudonym de-identified exports carry), never a patient's identifiers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from medsight.errors import UsageError

__all__ = ["ConsentDecision", "Purpose", "in_force", "parse_purpose"]


class Purpose(StrEnum):
    """What a patient's data may be used for."""

    CLINICAL_CARE = "clinical-care"
    RESEARCH_EXPORT = "research-export"
    MODEL_TRAINING = "model-training"
    SHARING = "sharing"  # with a named remote party


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    """One recorded decision.

    Attributes:
        pseudonym: the patient's pseudonym.
        purpose: what it is about.
        party: the remote party for :attr:`Purpose.SHARING`, else "".
        granted: True for a grant, False for a withdrawal.
        recorded_by: who recorded it (a user name, never a secret).
        recorded_at: when (UTC).
        document_ref: where the signed form is (free text, kept out of the repr).
    """

    pseudonym: str
    purpose: Purpose
    party: str
    granted: bool
    recorded_by: str
    recorded_at: datetime
    document_ref: str | None = field(default=None, repr=False)


def parse_purpose(name: str, party: str | None = None) -> tuple[Purpose, str]:
    """A purpose from its name, with its party (required for sharing, refused otherwise).

    Raises:
        UsageError: an unknown purpose, sharing without a party, or a party elsewhere.
    """
    try:
        purpose = Purpose(name.strip().lower().replace("_", "-"))
    except ValueError:
        known = ", ".join(p.value for p in Purpose)
        raise UsageError(f"unknown consent purpose {name!r}; known: {known}") from None
    party = (party or "").strip()
    if purpose is Purpose.SHARING and not party:
        raise UsageError("consent to sharing names the remote party")
    if purpose is not Purpose.SHARING and party:
        raise UsageError("only sharing names a remote party")
    return purpose, party


def in_force(decisions: Iterable[ConsentDecision], purpose: Purpose, party: str = "") -> dict[str, bool]:
    """Per pseudonym, whether a grant for ``purpose`` (and ``party``) is in force.

    ``decisions`` may be in any order; the latest ``recorded_at`` wins, and among equal
    times the later one in the iterable. Pseudonyms without a decision are absent
    (no consent).
    """
    latest: dict[str, tuple[datetime, bool]] = {}
    for decision in decisions:
        if decision.purpose is not purpose or decision.party != party:
            continue
        seen = latest.get(decision.pseudonym)
        if seen is None or decision.recorded_at >= seen[0]:
            latest[decision.pseudonym] = (decision.recorded_at, decision.granted)
    return {pseudonym: granted for pseudonym, (_, granted) in latest.items()}

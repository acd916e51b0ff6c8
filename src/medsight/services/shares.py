"""Use case: share one study with a remote reader by link (issue 9).

A radiologist makes a link for one study: read-only, expiring, optionally limited to a
number of openings, optionally of a de-identified copy (PS3.15 Basic Profile with Clean
Pixel Data, by :func:`medsight.io.dicom.deid.deidentify_bytes`, stored as a study of its
own), and only when the patient's consent to sharing with that party is in force (the
consent registry, purpose ``sharing``). Opening it needs no account:

1. the **link token** (``msl.``) is exchanged at ``POST /api/v1/shares/open`` for a
   **session token** (``mss.``), counting one access and writing one ``share-access``
   ledger entry in the same transaction;
2. the viewer uses the session token as its bearer token: it reads the one study, through
   the DICOMweb routes of one study, and nothing else (:attr:`Principal.share_study`);
   every read is a ledger entry by ``share:<id>``.

Both tokens are Ed25519-signed by the ledger's key (domain ``medsight-share/v1``) and name
only the share's id and expiry; the share's row is checked on every request, so a
revocation holds at once, for links and open sessions alike.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from medsight.access import Principal, Role
from medsight.errors import (
    AuthenticationError,
    BurnedInTextError,
    PrivacyError,
    StoredInstanceNotFoundError,
    UnknownResourceError,
    UsageError,
)
from medsight.io.dicom.deid import deidentify_bytes
from medsight.ledger import Entry, EventType, Receipt
from medsight.privacy.consent import Purpose
from medsight.privacy.profile import Option
from medsight.privacy.pseudonym import Pseudonymizer
from medsight.services.consent import consented
from medsight.services.deid import make_profile
from medsight.services.ledger import LedgerService, actor_id, study_object
from medsight.store import Store, StudyQuery
from medsight.store.consent import ConsentLog
from medsight.store.database import write_session
from medsight.store.shares import ShareRecord, ShareTables

__all__ = ["LINK_PREFIX", "SESSION_PREFIX", "OpenedShare", "ShareOptions", "ShareService"]

_DOMAIN = b"medsight-share/v1\x00"
LINK_PREFIX = "msl."
SESSION_PREFIX = "mss."
MAX_EXPIRY = timedelta(days=30)
MIN_EXPIRY = timedelta(minutes=1)
SESSION_HOURS = 8


@dataclass(frozen=True)
class ShareOptions:
    """What a new link allows: how long, how many openings, to whom, and whether de-identified."""

    expires_in: timedelta
    party: str
    max_accesses: int | None = None
    deidentified: bool = False


@dataclass(frozen=True)
class OpenedShare:
    """An opened link: the viewer's session token, until when, and the study it shows."""

    share: ShareRecord
    session_token: str
    session_expires_at: datetime
    receipt: Receipt


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ShareService:
    """Share links over one store, signed by the ledger's key and logged in its ledger.

    Args:
        store: the study store (the shares table is in its database).
        ledger: the service's ledger (its key signs the tokens).
        clock: the time now (tests move it).
    """

    def __init__(self, store: Store, ledger: LedgerService, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.ledger = ledger
        self.tables = ShareTables(store.sessions)
        self.clock = clock or (lambda: datetime.now(UTC))

    # tokens ----------------------------------------------------------------------------

    def _token(self, prefix: str, share_id: str, expires_at: datetime) -> str:
        body = {"sid": share_id, "exp": int(expires_at.timestamp()), "n": secrets.token_hex(4)}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        signature = self.ledger.signer.sign_message(_DOMAIN + prefix.encode() + payload)
        return f"{prefix}{_b64(payload)}.{_b64(signature)}"

    def _read_token(self, prefix: str, token: str) -> str:
        """The share id in a token whose signature holds and whose time has not run out."""
        invalid = AuthenticationError("the share link is not valid")
        if not token.startswith(prefix) or token.count(".") != 2:
            raise invalid
        try:
            encoded, signed = token[len(prefix) :].split(".")
            payload, signature = _unb64(encoded), _unb64(signed)
            if not self.ledger.public_key.verify_message(_DOMAIN + prefix.encode() + payload, signature):
                raise invalid
            body = json.loads(payload)
            share_id, expires = str(body["sid"]), int(body["exp"])
        except (ValueError, KeyError, TypeError):
            raise invalid from None
        if self.clock().timestamp() >= expires:
            raise AuthenticationError("the share link has expired")
        return share_id

    # use cases -------------------------------------------------------------------------

    def create(
        self, principal: Principal, study_instance_uid: str, options: ShareOptions, key: bytes
    ) -> tuple[ShareRecord, str, Receipt]:
        """Make a link for one study, after the consent check; returns the share, its link token and receipt.

        Raises:
            UsageError: an expiry outside 1 minute..30 days, a count below 1, no party.
            StoredInstanceNotFoundError: no such study.
            PrivacyError: the patient's consent to sharing with ``party`` is not in force.
            DeidentificationKeyError: the de-identification key is too short.
        """
        if not MIN_EXPIRY <= options.expires_in <= MAX_EXPIRY:
            raise UsageError("a share link expires between 1 minute and 30 days from now")
        if options.max_accesses is not None and options.max_accesses < 1:
            raise UsageError("a share link opens at least once")
        party = options.party.strip()
        if not party:
            raise UsageError("a share link names the remote party (consent to sharing is per party)")
        found = self.store.studies(StudyQuery(study_instance_uids=(study_instance_uid,)))
        if not found:
            raise StoredInstanceNotFoundError("no such study in the store")
        pseudonyms = Pseudonymizer(key)
        patient = pseudonyms.patient(found[0].patient_id or found[0].patient_name or "")
        if patient not in consented(ConsentLog(self.store.sessions), [patient], Purpose.SHARING, party):
            raise PrivacyError("the patient's consent to sharing with this party is not in force")
        shared = self._deidentified_copy(study_instance_uid, pseudonyms) if options.deidentified else study_instance_uid
        now = self.clock()
        record = ShareRecord(
            share_id=secrets.token_hex(8),
            study_instance_uid=shared,
            source_study_uid=study_instance_uid,
            deidentified=options.deidentified,
            party=party,
            created_by=principal.actor,
            created_at=now,
            expires_at=now + options.expires_in,
            max_accesses=options.max_accesses,
            accesses=0,
            revoked_at=None,
            revoked_by=None,
            pseudonym=str(patient),
        )
        with write_session(self.store.sessions) as session:
            self.tables.add(session, record)
            receipt = self.ledger.record(
                session, Entry.now(EventType.SHARE, actor_id(principal.actor), study_object(shared))
            )
        return record, self._token(LINK_PREFIX, record.share_id, record.expires_at), receipt

    def _deidentified_copy(self, study_instance_uid: str, pseudonyms: Pseudonymizer) -> str:
        profile = make_profile("basic", frozenset({Option.CLEAN_PIXEL_DATA}))
        copy_uid: str | None = None
        for n, (_, data) in enumerate(self.store.iter_instances(study_instance_uid), start=1):
            try:
                out = deidentify_bytes(data, f"shared object {n}", profile, pseudonyms)
            except BurnedInTextError:
                continue  # left out, as the de-identified export leaves it out
            copy_uid = self.store.ingest(out).study_instance_uid
        if copy_uid is None:
            raise PrivacyError("no object of the study could be de-identified for sharing")
        return copy_uid

    def open(self, link_token: str) -> OpenedShare:
        """Exchange a link for a viewer session: one access counted and logged, in one transaction.

        Raises:
            AuthenticationError: a tampered, expired, revoked or used-up link, or one whose
                patient has withdrawn consent to sharing with its party.
        """
        share_id = self._read_token(LINK_PREFIX, link_token)
        with write_session(self.store.sessions) as session:
            record = self.tables.locked(session, share_id)
            if record is None:
                raise AuthenticationError("the share link is not valid")
            state = record.state(self.clock())
            if state != "active":
                raise AuthenticationError(f"the share link is {state}")
            self._require_consent(record)
            self.tables.count_access(session, share_id)
            receipt = self.ledger.record(
                session, Entry.now(EventType.SHARE_ACCESS, f"share:{share_id}", study_object(record.study_instance_uid))
            )
        until = min(record.expires_at, self.clock() + timedelta(hours=SESSION_HOURS))
        return OpenedShare(record, self._token(SESSION_PREFIX, share_id, until), until, receipt)

    def authenticate(self, session_token: str) -> Principal:
        """The principal of a viewer session: the one study, read-only, while the share stands.

        Raises:
            AuthenticationError: a tampered or expired session, or a revoked or expired share.
        """
        share_id = self._read_token(SESSION_PREFIX, session_token)
        record = self.tables.get(share_id)
        if record is None:
            raise AuthenticationError("the share link is not valid")
        state = record.state(self.clock())
        if state in ("revoked", "expired"):  # used up: the sessions already opened go on
            raise AuthenticationError(f"the share link is {state}")
        self._require_consent(record)
        return Principal(
            actor=f"share:{share_id}", role=Role.REFERRER, token_id=share_id, share_study=record.study_instance_uid
        )

    def _require_consent(self, record: ShareRecord) -> None:
        """A withdrawal of consent to sharing with the link's party closes it and its sessions at once (issue 8)."""
        if record.pseudonym is None or record.pseudonym not in consented(
            ConsentLog(self.store.sessions), [record.pseudonym], Purpose.SHARING, record.party
        ):
            raise AuthenticationError("the share link has been withdrawn")

    def revoke(self, principal: Principal, share_id: str) -> tuple[ShareRecord, Receipt]:
        """Revoke at once: the link and every session opened with it stop working.

        Raises:
            UnknownResourceError: no such share.
        """
        with write_session(self.store.sessions) as session:
            record = self.tables.locked(session, share_id)
            if record is None:
                raise UnknownResourceError("no such share")
            now = self.clock()
            if record.revoked_at is None:
                self.tables.revoke(session, share_id, principal.actor, now)
            receipt = self.ledger.record(
                session,
                Entry.now(EventType.SHARE_REVOKE, actor_id(principal.actor), study_object(record.study_instance_uid)),
            )
        revoked = self.tables.get(share_id)
        assert revoked is not None
        return revoked, receipt

    def for_study(self, study_instance_uid: str) -> list[ShareRecord]:
        return self.tables.for_study(study_instance_uid)

"""Roles and the scopes each one holds.

A route asks for one :class:`Scope`; a token carries one :class:`Role`; :data:`ROLE_SCOPES`
is the whole policy, in one table a reviewer can read:

=============  ==================================================================
role           may
=============  ==================================================================
admin          everything, including users and tokens
radiologist    send, query and retrieve studies; run and read analyses; reports;
               stream frames for live analysis (a handheld probe, the viewer's live mode);
               de-identified exports of studies (PS3.15 Basic Profile); record and
               read patients' consent; share a study by link; read the ledger
referrer       send studies; view, analyse and read results of studies it sent;
               imaging-protocol recommendations before ordering (as radiologists)
device         send studies and stream frames for live analysis (a modality, a
               probe, a wearable, a gateway); a peer medsight node submitting its
               ledger heads to be witnessed; nothing else
auditor        read who holds access (users, tokens), consent decisions (by
               pseudonym) and the ledger (heads, receipts, proofs): no images, no results
=============  ==================================================================

"Of studies it sent" is checked per request (:attr:`Principal.own_studies_only`), not by
a scope, so one route serves radiologists and referrers alike: referrers reach the
DICOMweb routes of one study (``server.deps.AllowOwnStudy``) for studies they sent, and
never the searches across studies.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ROLE_SCOPES", "Principal", "Role", "Scope"]


class Role(StrEnum):
    """What a token's holder is."""

    ADMIN = "admin"
    RADIOLOGIST = "radiologist"
    REFERRER = "referrer"
    DEVICE = "device"
    AUDITOR = "auditor"


class Scope(StrEnum):
    """One kind of action a route performs."""

    STUDIES_WRITE = "studies:write"  # STOW-RS
    STUDIES_READ = "studies:read"  # QIDO-RS, WADO-RS
    ANALYSES_WRITE = "analyses:write"  # start an analysis
    ANALYSES_READ = "analyses:read"  # job status, results, heatmaps, FHIR reports
    ACCESS_READ = "access:read"  # list users and tokens (no secrets)
    ACCESS_ADMIN = "access:admin"  # create and revoke users and tokens
    STREAMS_WRITE = "streams:write"  # live frame streams (WebSocket /api/v1/streams/{task})
    STUDIES_EXPORT = "studies:export"  # de-identified exports of studies (POST /api/v1/exports/deid)
    CONSENTS_WRITE = "consents:write"  # record a consent grant or withdrawal
    CONSENTS_READ = "consents:read"  # read consent decisions (by pseudonym)
    LEDGER_READ = "ledger:read"  # signed tree heads, receipts and proofs of the ledger
    LEDGER_WITNESS = "ledger:witness"  # another node submits its signed heads to be witnessed here
    SHARES_WRITE = "shares:write"  # create, list and revoke share links of studies
    PROTOCOLS_READ = "protocols:read"  # imaging-protocol recommendations (decision support, stores nothing)


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.RADIOLOGIST: frozenset(
        {
            Scope.STUDIES_WRITE,
            Scope.STUDIES_READ,
            Scope.ANALYSES_WRITE,
            Scope.ANALYSES_READ,
            Scope.STREAMS_WRITE,
            Scope.STUDIES_EXPORT,
            Scope.CONSENTS_WRITE,
            Scope.CONSENTS_READ,
            Scope.LEDGER_READ,
            Scope.SHARES_WRITE,
            Scope.PROTOCOLS_READ,
        }
    ),
    Role.REFERRER: frozenset({Scope.STUDIES_WRITE, Scope.ANALYSES_WRITE, Scope.ANALYSES_READ, Scope.PROTOCOLS_READ}),
    Role.DEVICE: frozenset({Scope.STUDIES_WRITE, Scope.STREAMS_WRITE, Scope.LEDGER_WITNESS}),
    Role.AUDITOR: frozenset({Scope.ACCESS_READ, Scope.CONSENTS_READ, Scope.LEDGER_READ}),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request.

    Attributes:
        actor: the stable name logs and ownership records use: the user's name, or
            ``token:<id>`` for a token issued to no user. Never a secret.
        role: the token's role.
        token_id: the public id of the token used.
        share_study: set for the holder of a share link (``actor`` ``share:<id>``): the one
            study it may read, through the routes of one study, and nothing else.
    """

    actor: str
    role: Role
    token_id: str
    share_study: str | None = None

    @property
    def scopes(self) -> frozenset[Scope]:
        """What this caller may do (a share link's holder: nothing by scope, see ``own_studies_only``)."""
        return frozenset() if self.share_study is not None else ROLE_SCOPES[self.role]

    def allows(self, scope: Scope) -> bool:
        """Whether this caller's role holds ``scope``."""
        return scope in self.scopes

    @property
    def own_studies_only(self) -> bool:
        """Whether reads are limited to studies this caller sent (referrers) or was shared (a link)."""
        return self.role is Role.REFERRER or self.share_study is not None

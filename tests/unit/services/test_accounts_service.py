"""Issuing, listing, revoking and checking tokens, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medsight.access import Role, Scope
from medsight.errors import AuthenticationError, PermissionDeniedError, UnknownResourceError, UsageError
from medsight.services.accounts import AccessService
from medsight.store import Store
from medsight.store.accounts import Accounts


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(store: Store, clock: Clock) -> AccessService:
    return AccessService(Accounts(store.sessions), clock=clock)


def bearer(value: str) -> str:
    return f"Bearer {value}"


def test_an_issued_token_authenticates_with_its_role(access: AccessService) -> None:
    issued = access.issue_token(role=Role.DEVICE, name="probe-3")
    principal = access.authenticate(bearer(issued.value))
    assert principal.role is Role.DEVICE
    assert principal.actor == f"token:{issued.token.token_id}"
    assert principal.allows(Scope.STUDIES_WRITE)
    assert not principal.allows(Scope.STUDIES_READ)


def test_a_users_token_carries_the_users_name_and_role(access: AccessService) -> None:
    access.add_user("dr.ada", Role.RADIOLOGIST)
    issued = access.issue_token(user="dr.ada")
    principal = access.authenticate(bearer(issued.value))
    assert (principal.actor, principal.role) == ("dr.ada", Role.RADIOLOGIST)
    with pytest.raises(UsageError):
        access.issue_token(user="dr.ada", role=Role.ADMIN)


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer msk_0123456789abcdef_" + "A" * 43]
)
def test_missing_malformed_and_unknown_tokens_are_refused(access: AccessService, header: str | None) -> None:
    with pytest.raises(AuthenticationError):
        access.authenticate(header)


def test_a_token_with_one_character_changed_is_refused(access: AccessService) -> None:
    value = access.issue_token(role=Role.ADMIN).value
    tampered = value[:-1] + ("A" if value[-1] != "A" else "B")
    with pytest.raises(AuthenticationError):
        access.authenticate(bearer(tampered))


def test_tokens_expire(access: AccessService, clock: Clock) -> None:
    issued = access.issue_token(role=Role.REFERRER, expires_in=timedelta(hours=1))
    access.authenticate(bearer(issued.value))
    clock.now += timedelta(hours=1)
    with pytest.raises(AuthenticationError):
        access.authenticate(bearer(issued.value))
    assert access.tokens()[0].state == "expired"


def test_revoked_tokens_and_disabled_users_stop_at_once(access: AccessService) -> None:
    device = access.issue_token(role=Role.DEVICE)
    access.revoke_token(device.token.token_id)
    with pytest.raises(AuthenticationError):
        access.authenticate(bearer(device.value))
    access.add_user("sam", Role.AUDITOR)
    sams = access.issue_token(user="sam")
    access.disable_user("sam")
    with pytest.raises(AuthenticationError):
        access.authenticate(bearer(sams.value))
    with pytest.raises(UnknownResourceError):
        access.revoke_token("0000000000000000")


def test_listing_never_shows_a_value_or_digest(access: AccessService) -> None:
    issued = access.issue_token(role=Role.ADMIN, name="ops")
    listed = [token.to_json() for token in access.tokens()]
    assert listed[0]["id"] == issued.token.token_id
    assert issued.value not in repr(listed)
    assert "digest" not in listed[0]


@pytest.mark.parametrize("name", ["", " ", "a b", "x" * 200, "-lead", "semi;colon"])
def test_bad_names_are_usage_errors(access: AccessService, name: str) -> None:
    with pytest.raises(UsageError):
        access.add_user(name, Role.RADIOLOGIST)


def test_a_user_name_is_unique(access: AccessService) -> None:
    access.add_user("dr.ada", Role.RADIOLOGIST)
    with pytest.raises(UsageError):
        access.add_user("dr.ada", Role.ADMIN)


def test_referrers_see_only_studies_they_sent(access: AccessService) -> None:
    referrer = access.authenticate(bearer(access.issue_token(role=Role.REFERRER).value))
    radiologist = access.authenticate(bearer(access.issue_token(role=Role.RADIOLOGIST).value))
    access.accounts.record_submitter("1.2.3", referrer.actor)
    access.accounts.record_submitter("1.2.3", referrer.actor)  # idempotent
    access.require_study(referrer, "1.2.3")
    access.require_study(radiologist, "9.9.9")
    with pytest.raises(PermissionDeniedError):
        access.require_study(referrer, "9.9.9")
    assert access.accounts.studies_submitted_by(referrer.actor) == ["1.2.3"]

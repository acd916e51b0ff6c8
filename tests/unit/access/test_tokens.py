"""Token format, hashing and durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from medsight.access import ROLE_SCOPES, Role, Scope, hash_secret, new_secret, parse_duration, split_token
from medsight.errors import UsageError


def test_a_new_token_is_random_well_formed_and_stored_only_as_its_hash() -> None:
    first, second = new_secret(), new_secret()
    assert first.value != second.value
    assert first.token_id != second.token_id
    assert split_token(first.value) == first.token_id
    assert first.digest == hash_secret(first.value)
    assert first.value not in first.digest
    assert len(first.value.split("_", 2)[2]) == 43  # 32 random bytes (the secret may itself hold "_")


@pytest.mark.parametrize(
    "value",
    ["", "Bearer x", "msk_", "msk_0123456789abcdef_short", "msk_0123456789ABCDEF_" + "a" * 43, "x" * 80],
)
def test_malformed_tokens_have_no_id(value: str) -> None:
    assert split_token(value) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0d", "-1d", "3 days", "1y", "d"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_every_role_has_scopes_and_only_admin_manages_access() -> None:
    assert set(ROLE_SCOPES) == set(Role)
    assert all(ROLE_SCOPES[role] for role in Role)
    assert [role for role in Role if Scope.ACCESS_ADMIN in ROLE_SCOPES[role]] == [Role.ADMIN]
    # A device (or a peer node) may also submit its ledger heads to be witnessed here: no reads.
    assert ROLE_SCOPES[Role.DEVICE] == {Scope.STUDIES_WRITE, Scope.STREAMS_WRITE, Scope.LEDGER_WITNESS}
    # Who holds access, who consented, and the ledger of who did what: no images, no results.
    assert ROLE_SCOPES[Role.AUDITOR] == {Scope.ACCESS_READ, Scope.CONSENTS_READ, Scope.LEDGER_READ}

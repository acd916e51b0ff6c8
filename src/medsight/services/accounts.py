"""Users and tokens: issue, list, revoke, and authenticate a bearer token.

The same use cases serve ``medsight users/tokens`` and the admin routes of the server.
A token's value is returned once, by :meth:`AccessService.issue_token`; afterwards only
its id, name, role and times are ever shown.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from medsight.access import Principal, Role, Scope, hash_secret, new_secret, split_token
from medsight.errors import AuthenticationError, PermissionDeniedError, UsageError
from medsight.store.accounts import Accounts, TokenRecord, UserRecord

__all__ = ["AccessService", "IssuedToken", "TokenView", "UserView", "parse_role"]

_log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def parse_role(text: str) -> Role:
    """A role from its name.

    Raises:
        UsageError: not one of the roles.
    """
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise UsageError(f"unknown role; choose one of {', '.join(role.value for role in Role)}") from None


def _check_name(name: str, what: str) -> str:
    if not _NAME.match(name):
        raise UsageError(f"a {what} name is 1-128 letters, digits and . _ @ + - (starting with a letter or digit)")
    return name


@dataclass(frozen=True)
class TokenView:
    """What may be shown about a token: never its value or digest."""

    token_id: str
    name: str
    role: Role
    user: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: str

    def to_json(self) -> dict[str, object]:
        """The JSON form used by ``--json`` and the API."""
        return {
            "id": self.token_id,
            "name": self.name,
            "role": self.role.value,
            "user": self.user,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "state": self.state,
        }


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: ``value`` is shown to its holder this once."""

    value: str
    token: TokenView


@dataclass(frozen=True)
class UserView:
    """A user as shown by the CLI and the API."""

    name: str
    role: Role
    created_at: datetime
    disabled: bool

    def to_json(self) -> dict[str, object]:
        """The JSON form used by ``--json`` and the API."""
        return {
            "name": self.name,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "disabled": self.disabled,
        }


def _token_view(record: TokenRecord, now: datetime) -> TokenView:
    return TokenView(
        token_id=record.token_id,
        name=record.name,
        role=record.role,
        user=record.user,
        created_at=record.created_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        state=record.state(now),
    )


def _user_view(record: UserRecord) -> UserView:
    return UserView(record.name, record.role, record.created_at, record.disabled_at is not None)


class AccessService:
    """Issue and check credentials against one store's access tables.

    Args:
        accounts: the access tables.
        clock: the current UTC time (tests pass their own to expire tokens).
    """

    def __init__(self, accounts: Accounts, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.accounts = accounts
        self.clock = clock

    def add_user(self, name: str, role: Role) -> UserView:
        """Create a user with a role; tokens issued for them carry it."""
        return _user_view(self.accounts.add_user(_check_name(name, "user"), role, self.clock()))

    def users(self) -> list[UserView]:
        """Every user."""
        return [_user_view(record) for record in self.accounts.users()]

    def disable_user(self, name: str) -> UserView:
        """Disable a user and with them every token they hold."""
        return _user_view(self.accounts.disable_user(name, self.clock()))

    def issue_token(
        self,
        *,
        role: Role | None = None,
        name: str | None = None,
        user: str | None = None,
        expires_in: timedelta | None = None,
    ) -> IssuedToken:
        """Issue a token for a user (their role) or for a role alone (a device, a script).

        Raises:
            UsageError: neither role nor user given, or a role that differs from the user's.
            UnknownResourceError: no such user.
        """
        if user is not None:
            user_role = self.accounts.user(user).role
            if role is not None and role is not user_role:
                raise UsageError("a user's tokens carry the user's role; omit --role or give theirs")
            role = user_role
        if role is None:
            raise UsageError("give a role (--role) or a user (--user)")
        now = self.clock()
        secret = new_secret()
        record = self.accounts.add_token(
            secret,
            name=_check_name(name or user or role.value, "token"),
            role=role,
            user=user,
            now=now,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        _log.info("token %s issued (role %s)", record.token_id, role.value)
        return IssuedToken(value=secret.value, token=_token_view(record, now))

    def tokens(self) -> list[TokenView]:
        """Every token, without values."""
        now = self.clock()
        return [_token_view(record, now) for record in self.accounts.tokens()]

    def revoke_token(self, token_id: str) -> TokenView:
        """Revoke a token at once."""
        record = self.accounts.revoke_token(token_id.strip(), self.clock())
        _log.info("token %s revoked", record.token_id)
        return _token_view(record, self.clock())

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an ``Authorization`` header.

        Raises:
            AuthenticationError: no header, not ``Bearer``, or a token that is unknown,
                expired or revoked. The message does not say which, so it tells a
                guesser nothing.
        """
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("a bearer token is required (Authorization: Bearer <token>)")
        value = value.strip()
        token_id = split_token(value)
        record = self.accounts.token(token_id) if token_id is not None else None
        # Compare digests even when nothing was found, so the time taken does not tell.
        expected = record.digest if record is not None else "0" * 64
        matches = hmac.compare_digest(hash_secret(value), expected)
        if record is None or not matches or record.state(self.clock()) != "active":
            raise AuthenticationError("the bearer token is not valid (unknown, expired or revoked)")
        actor = record.user if record.user is not None else f"token:{record.token_id}"
        return Principal(actor=actor, role=record.role, token_id=record.token_id)

    @staticmethod
    def require(principal: Principal, scope: Scope) -> None:
        """Raise unless ``principal`` holds ``scope``.

        Raises:
            PermissionDeniedError: the role does not hold it.
        """
        if not principal.allows(scope):
            raise PermissionDeniedError(f"the {principal.role.value} role may not do this ({scope.value})")

    def require_study(self, principal: Principal, study_instance_uid: str) -> None:
        """Raise unless ``principal`` may read this study's results (referrers: only studies they sent).

        Raises:
            PermissionDeniedError: a referrer asking about a study it did not send.
        """
        if principal.share_study is not None:
            if study_instance_uid != principal.share_study:
                raise PermissionDeniedError("a share link opens only the study it was made for")
            return
        if principal.own_studies_only and not self.accounts.submitted(study_instance_uid, principal.actor):
            raise PermissionDeniedError("a referrer may read only results of studies it sent")

"""Users, hashed tokens and study submitters in the store's database.

Plain records in, frozen dataclasses out; deciding who may do what is the services'
job (:mod:`medsight.services.accounts`). Times are UTC; SQLite hands back naive
datetimes, so every time read is made aware here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as DatabaseIntegrityError

from medsight.access import IssuedSecret, Role
from medsight.errors import MedsightError, UnknownResourceError, UsageError
from medsight.store.database import Tables
from medsight.store.models import StudySubmitter, Token, User

__all__ = ["Accounts", "TokenRecord", "UserRecord"]


@dataclass(frozen=True)
class UserRecord:
    """A user as the store holds it."""

    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class TokenRecord:
    """A token as the store holds it: its digest, never its value."""

    token_id: str
    name: str
    role: Role
    user: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    digest: str
    user_disabled: bool = False

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` at ``now``."""
        if self.revoked_at is not None or self.user_disabled:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _user_record(row: User) -> UserRecord:
    return UserRecord(row.name, Role(row.role), _aware(row.created_at) or row.created_at, _aware(row.disabled_at))


def _token_record(row: Token) -> TokenRecord:
    return TokenRecord(
        token_id=row.token_id,
        name=row.name,
        role=Role(row.role),
        user=row.user.name if row.user is not None else None,
        created_at=_aware(row.created_at) or row.created_at,
        expires_at=_aware(row.expires_at),
        revoked_at=_aware(row.revoked_at),
        digest=row.digest,
        user_disabled=row.user is not None and row.user.disabled_at is not None,
    )


class Accounts(Tables):
    """The access tables of one store's database."""

    def add_user(self, name: str, role: Role, now: datetime) -> UserRecord:
        """Create a user.

        Raises:
            UsageError: a user of that name exists.
        """
        try:
            with self._writing() as session:
                row = User(name=name, role=role.value, created_at=now)
                session.add(row)
                session.flush()
                return _user_record(row)
        except MedsightError as exc:
            if isinstance(exc.__cause__, DatabaseIntegrityError):
                raise UsageError("a user of that name exists") from exc
            raise

    def user(self, name: str) -> UserRecord:
        """One user by name.

        Raises:
            UnknownResourceError: no such user.
        """
        with self._reading() as session:
            row = session.scalar(select(User).where(User.name == name))
            if row is None:
                raise UnknownResourceError("no user of that name")
            return _user_record(row)

    def users(self) -> list[UserRecord]:
        """Every user, oldest first."""
        with self._reading() as session:
            return [_user_record(row) for row in session.scalars(select(User).order_by(User.pk))]

    def disable_user(self, name: str, now: datetime) -> UserRecord:
        """Disable a user: every token of theirs stops working at once."""
        with self._writing() as session:
            row = session.scalar(select(User).where(User.name == name))
            if row is None:
                raise UnknownResourceError("no user of that name")
            if row.disabled_at is None:
                row.disabled_at = now
            return _user_record(row)

    def add_token(
        self,
        secret: IssuedSecret,
        *,
        name: str,
        role: Role,
        user: str | None,
        now: datetime,
        expires_at: datetime | None,
    ) -> TokenRecord:
        """Record a new token's digest (its value is never stored)."""
        with self._writing() as session:
            user_row = None
            if user is not None:
                user_row = session.scalar(select(User).where(User.name == user))
                if user_row is None:
                    raise UnknownResourceError("no user of that name")
            row = Token(
                token_id=secret.token_id,
                digest=secret.digest,
                name=name,
                role=role.value,
                user=user_row,
                created_at=now,
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            return _token_record(row)

    def token(self, token_id: str) -> TokenRecord | None:
        """The token with this public id, or None (one query: this runs on every request)."""
        statement = (
            select(Token, User.name, User.disabled_at)
            .outerjoin(User, Token.user_pk == User.pk)
            .where(Token.token_id == token_id)
        )
        with self._reading() as session:
            found = session.execute(statement).one_or_none()
        if found is None:
            return None
        row, user_name, user_disabled_at = found
        return TokenRecord(
            token_id=row.token_id,
            name=row.name,
            role=Role(row.role),
            user=user_name,
            created_at=_aware(row.created_at) or row.created_at,
            expires_at=_aware(row.expires_at),
            revoked_at=_aware(row.revoked_at),
            digest=row.digest,
            user_disabled=user_disabled_at is not None,
        )

    def tokens(self) -> list[TokenRecord]:
        """Every token (digests included: callers must not show them), oldest first."""
        with self._reading() as session:
            return [_token_record(row) for row in session.scalars(select(Token).order_by(Token.pk))]

    def revoke_token(self, token_id: str, now: datetime) -> TokenRecord:
        """Revoke a token; revoking twice keeps the first time.

        Raises:
            UnknownResourceError: no token with this id.
        """
        with self._writing() as session:
            row = session.scalar(select(Token).where(Token.token_id == token_id))
            if row is None:
                raise UnknownResourceError("no token with that id")
            if row.revoked_at is None:
                row.revoked_at = now
            return _token_record(row)

    def record_submitter(self, study_instance_uid: str, actor: str) -> None:
        """Note that ``actor`` sent (part of) a study; idempotent."""
        with self._reading() as session:
            known = session.scalar(
                select(StudySubmitter.pk).where(
                    StudySubmitter.study_instance_uid == study_instance_uid, StudySubmitter.actor == actor
                )
            )
        if known is not None:
            return
        try:
            with self._writing() as session:
                session.add(StudySubmitter(study_instance_uid=study_instance_uid, actor=actor))
        except MedsightError as exc:
            if not isinstance(exc.__cause__, DatabaseIntegrityError):  # a concurrent request recorded it
                raise

    def submitted(self, study_instance_uid: str, actor: str) -> bool:
        """Whether ``actor`` sent any part of this study."""
        with self._reading() as session:
            return (
                session.scalar(
                    select(StudySubmitter.pk).where(
                        StudySubmitter.study_instance_uid == study_instance_uid, StudySubmitter.actor == actor
                    )
                )
                is not None
            )

    def studies_submitted_by(self, actor: str) -> list[str]:
        """The Study Instance UIDs ``actor`` sent, in order of first submission."""
        with self._reading() as session:
            statement = select(StudySubmitter.study_instance_uid).where(StudySubmitter.actor == actor)
            return list(session.scalars(statement.order_by(StudySubmitter.pk)))

"""``medsight users`` and ``medsight tokens``: who may use the service.

``tokens create`` prints the new token alone on the last line of stdout, so a script can
take it with ``tail -n 1``; it is shown this once and stored only as a hash.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from medsight.access import parse_duration
from medsight.cli._service import DataDirOption, open_context
from medsight.services.accounts import TokenView, UserView, parse_role

__all__ = ["tokens_app", "users_app"]

tokens_app = typer.Typer(help="Issue, list and revoke bearer tokens.", no_args_is_help=True)
users_app = typer.Typer(help="Add, list and disable users.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
_ROLES = "admin, radiologist, referrer, device or auditor"


@tokens_app.command("create")
def create_token(
    role: Annotated[str | None, typer.Option("--role", help=f"The token's role: {_ROLES}.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A label: who or what holds it.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Issue it to this user (their role).")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime such as 90d, 12h, 2w (default: never).")
    ] = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a token; its value is printed once, alone on the last line."""
    with open_context(data_dir) as context:
        issued = context.access.issue_token(
            role=parse_role(role) if role else None,
            name=name,
            user=user,
            expires_in=parse_duration(expires) if expires else None,
        )
    if as_json:
        typer.echo(json.dumps({**issued.token.to_json(), "value": issued.value}))
        return
    token = issued.token
    until = token.expires_at.isoformat(timespec="seconds") if token.expires_at else "never"
    typer.echo(f"token {token.token_id} ({token.role.value}, {token.name}), expires {until}; shown once:", err=True)
    typer.echo(issued.value)


@tokens_app.command("list")
def list_tokens(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List tokens: id, name, role, user, state and expiry (never their values)."""
    with open_context(data_dir) as context:
        tokens = context.access.tokens()
    if as_json:
        typer.echo(json.dumps([token.to_json() for token in tokens], indent=2))
        return
    for token in tokens:
        typer.echo(_token_line(token))


@tokens_app.command("revoke")
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="The token's id (from tokens list).")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a token; it stops working at once."""
    with open_context(data_dir) as context:
        token = context.access.revoke_token(token_id)
    typer.echo(json.dumps(token.to_json()) if as_json else _token_line(token))


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="The user's name (letters, digits, . _ @ + -).")],
    role: Annotated[str, typer.Option("--role", help=f"The user's role: {_ROLES}.")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a user; then issue them tokens with ``tokens create --user NAME``."""
    with open_context(data_dir) as context:
        user = context.access.add_user(name, parse_role(role))
    typer.echo(json.dumps(user.to_json()) if as_json else _user_line(user))


@users_app.command("list")
def list_users(data_dir: DataDirOption = None, as_json: JsonOption = False) -> None:
    """List users and their roles."""
    with open_context(data_dir) as context:
        users = context.access.users()
    if as_json:
        typer.echo(json.dumps([user.to_json() for user in users], indent=2))
        return
    for user in users:
        typer.echo(_user_line(user))


@users_app.command("disable")
def disable_user(
    name: Annotated[str, typer.Argument(help="The user to disable.")],
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Disable a user: every token they hold stops working at once."""
    with open_context(data_dir) as context:
        user = context.access.disable_user(name)
    typer.echo(json.dumps(user.to_json()) if as_json else _user_line(user))


def _token_line(token: TokenView) -> str:
    until = token.expires_at.isoformat(timespec="seconds") if token.expires_at else "never"
    owner = f" user {token.user}" if token.user else ""
    return f"{token.token_id}  {token.state:<8} {token.role.value:<12} {token.name}{owner}  expires {until}"


def _user_line(user: UserView) -> str:
    state = "disabled" if user.disabled else "active"
    return f"{user.name}  {user.role.value}  {state}"

"""Users and tokens over HTTP: ``/api/v1/users``, ``/api/v1/tokens``, ``/api/v1/me``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from medsight.access import Principal, Scope, parse_duration
from medsight.server.deps import Allow, ContextDep, PrincipalDep
from medsight.services.accounts import parse_role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["access"])


class TokenCreate(BaseModel):
    """A new token: for a user (their role) or for a role alone."""

    role: str | None = Field(default=None, examples=["device"])
    name: str | None = Field(default=None, max_length=128, examples=["ultrasound-3"])
    user: str | None = Field(default=None, max_length=128)
    expires: str | None = Field(default=None, description="a duration such as 90d, 12h", examples=["90d"])


class UserCreate(BaseModel):
    """A new user."""

    name: str = Field(max_length=128, examples=["dr.ada"])
    role: str = Field(examples=["radiologist"])


@router.get("/me", summary="Who the token belongs to")
def me(principal: PrincipalDep) -> dict[str, Any]:
    """The caller's actor name, role and scopes."""
    return {
        "actor": principal.actor,
        "role": principal.role.value,
        "token_id": principal.token_id,
        "scopes": sorted(scope.value for scope in principal.scopes),
    }


@router.get("/tokens", summary="List tokens (never their values)")
def list_tokens(
    context: ContextDep, _principal: Annotated[Principal, Depends(Allow(Scope.ACCESS_READ))]
) -> list[dict[str, object]]:
    """Every token's id, name, role, user, times and state."""
    return [token.to_json() for token in context.access.tokens()]


@router.post("/tokens", status_code=201, summary="Issue a token (its value is shown once)")
def create_token(
    body: TokenCreate, context: ContextDep, _principal: Annotated[Principal, Depends(Allow(Scope.ACCESS_ADMIN))]
) -> dict[str, object]:
    """The new token's description and, once, its ``value``."""
    issued = context.access.issue_token(
        role=parse_role(body.role) if body.role else None,
        name=body.name,
        user=body.user,
        expires_in=parse_duration(body.expires) if body.expires else None,
    )
    return {**issued.token.to_json(), "value": issued.value}


@router.delete("/tokens/{token_id}", summary="Revoke a token")
def revoke_token(
    token_id: str, context: ContextDep, _principal: Annotated[Principal, Depends(Allow(Scope.ACCESS_ADMIN))]
) -> dict[str, object]:
    """The revoked token's description."""
    return context.access.revoke_token(token_id).to_json()


@router.get("/users", summary="List users")
def list_users(
    context: ContextDep, _principal: Annotated[Principal, Depends(Allow(Scope.ACCESS_READ))]
) -> list[dict[str, object]]:
    """Every user's name, role and state."""
    return [user.to_json() for user in context.access.users()]


@router.post("/users", status_code=201, summary="Add a user")
def add_user(
    body: UserCreate, context: ContextDep, _principal: Annotated[Principal, Depends(Allow(Scope.ACCESS_ADMIN))]
) -> dict[str, object]:
    """The new user."""
    return context.access.add_user(body.name, parse_role(body.role)).to_json()

"""``/health``: the one route without a token, for load balancers and ``make run``."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from medsight import __version__
from medsight.server.deps import ContextDep
from medsight.server.problems import problem_response

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness and database check (no token needed)", response_model=None)
def health(context: ContextDep) -> object:
    """``{"status": "ok", "version": ...}`` while the database answers; 503 otherwise."""
    try:
        with context.store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return problem_response(503, "service.unavailable", f"database unavailable ({type(exc).__name__})")
    return {"status": "ok", "version": __version__}

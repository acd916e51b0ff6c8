"""The HTTP service (L5, beside the CLI): FastAPI routes over the services.

Thin by rule: a route parses the request, checks the caller's scope (``deps.Allow``),
calls one service and renders its result. Errors become problems in one place
(:mod:`medsight.server.problems`).
"""

from medsight.server.app import create_app

__all__ = ["create_app"]

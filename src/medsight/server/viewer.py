"""The web viewer: static ES modules and CSS shipped in ``server/web``, served at ``/``.

No build step: the browser loads the modules as they are (docs/architecture.md,
"Viewer"). The files hold no data; everything they show comes from the API with the
reader's token. Every response carries a Content Security Policy that allows only this
origin's scripts, styles and images (``blob:`` and ``data:`` images for the canvas),
so an injected string can never run as script.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

__all__ = ["CSP", "ViewerFiles"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class ViewerFiles(StaticFiles):
    """The viewer's files (``index.html`` at ``/``), with security headers; GET and HEAD only."""

    def __init__(self) -> None:
        super().__init__(packages=[("medsight.server", "web")], html=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(404, "no such resource")  # an unknown API call, not a file

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-cache"),
                ]
                message["headers"] = headers
            await send(message)

        await super().__call__(scope, receive, send_with_headers)

"""The health-center console: static pages (HTML, CSS, JavaScript modules) served by
the fleet itself at ``/console/``. No build step: the files in ``static/`` are what the
browser runs. Everything the console shows comes from the fleet's API with the signed-in
user's bearer token, so it shows exactly what the API lets that user see.

Every response under ``/console`` carries a strict Content Security Policy (scripts and
styles only from the fleet itself, no inline code, Trusted Types so that no string can
become HTML) and the usual hardening headers.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        # The console builds its pages with DOM calls and text nodes only; with this,
        # the browser refuses any assignment of a string to innerHTML and the like.
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # The phone page (phone.html) may ask for the position, to put tasks nearest first.
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(self), payment=(), usb=()",
    # Revalidate every time (ETag): staff get a new console as soon as the fleet has one.
    "Cache-Control": "no-cache",
}


class SecuredStatic:
    """An ASGI app that adds the security headers to every response of the one it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self._headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = kept + self._headers
            await send(message)

        try:
            await self._app(scope, receive, send_secured)
        except HTTPException as exc:
            # StaticFiles raises for a missing file; answered here, not by the app's
            # handler outside this wrapper, so a 404 carries the headers too.
            response = PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
            await response(scope, receive, send_secured)


def mount(app: FastAPI) -> None:
    """Serve the console at /console/ and send visitors of / there."""
    app.mount("/console", SecuredStatic(StaticFiles(directory=STATIC, html=True)), name="console")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

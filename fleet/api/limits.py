"""Limits at the API's door: request body size and depth, and errors that echo no secrets.

Bodies are read up to the limit before the app sees them (1 MB by default; the
wristband CSV import has its own, larger limit): a larger one is answered 413 without
being buffered further. A JSON body nested deeper than ``max_depth`` is answered 422:
no request needs more than a handful of levels, and a document nested 900 deep was
stored and then made every answer that contained it fail (500). The error handlers here
send every message through fleet.redaction, so a key pasted into the wrong field is
not echoed back.
"""

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fleet.redaction import redact, redact_all

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """How deep a JSON text nests (strings skipped); cheap, and never recursive."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class BodyLimit:
    """ASGI middleware: refuse request bodies over the limit for their path with 413,
    and JSON bodies nested deeper than ``max_depth`` with 422."""

    def __init__(
        self, app: ASGIApp, *, default: int, per_path: Mapping[str, int], max_depth: int = 32
    ) -> None:
        self.app = app
        self.default = default
        self.per_path = dict(per_path)
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"], self.default)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit, scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                chunks = []
                break  # the client went away: let the app see it
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await _too_large(limit, scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
        if b"json" in content_type and json_depth(b"".join(chunks)) > self.max_depth:
            response = JSONResponse(
                {"detail": f"the JSON body nests deeper than {self.max_depth} levels"},
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        {"detail": f"the request body is larger than {limit} bytes, which this path accepts"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
    )
    await response(scope, receive, send)


def add_redacting_handlers(app: FastAPI) -> None:
    """FastAPI's own handlers for HTTP and validation errors, with secrets withheld."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail: Any = redact(exc.detail) if isinstance(exc.detail, str) else exc.detail
        return JSONResponse(
            {"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": redact_all(jsonable_encoder(exc.errors()))},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

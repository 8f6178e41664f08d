"""Two ASGI middlewares of every response: the security headers, and the request's language."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ippmd.core.errors import UsageError
from ippmd.core.i18n import LANGUAGES, SOURCE, Language, language_named, using

# No external source of any kind; no framing (clickjacking); forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """Content-Security-Policy, nosniff and no referrer on every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def accepted_language(header: str) -> Language:
    """The first language of an Accept-Language header the portal speaks (by weight), else English."""
    weighted = []
    for order, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        weighted.append((-weight, order, tag.strip().split("-")[0].lower()))
    return next((code for _, _, code in sorted(weighted) if code in LANGUAGES), SOURCE)


class UserLanguage:
    """Each request in its language, `?lang=` first, else Accept-Language, else English: set for
    the request only (a context variable, never the process's), so concurrent requests differ."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang")
        try:
            code = language_named(asked[-1], "lang") if asked else None
        except UsageError as exc:
            await _answer(send, 400, str(exc))
            return
        if code is None:
            headers = dict(scope.get("headers", []))
            code = accepted_language(headers.get(b"accept-language", b"").decode("latin-1"))
        with using(code):
            await self.app(scope, receive, send)


async def _answer(send: Send, status: int, detail: str) -> None:
    """A JSON refusal (SecurityHeaders, outside this middleware, adds its headers)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

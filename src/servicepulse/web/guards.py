"""Two ASGI middlewares every request passes through, so no route can forget them.

`ControlCharacters`: a parameter holding a control character answers 422 naming it, before
any route runs. Control characters are never data a person typed into a filter, a search or
an id: NUL in particular reached the store and came back as a 500 (PostgreSQL refuses NUL in
text; SQLite stops the string at it). Checked: the path (each path parameter by name), every
query parameter (name and value), and the bodies of forms and JSON requests. Query and path
parameters may hold no C0 control (U+0000-U+001F) nor DEL (U+007F); form fields and JSON
strings, which can be text a person wrote, may hold tab, line feed and carriage return. A
lone surrogate in a JSON string (not valid Unicode, refused by both stores) answers 422 too.
The record ingest routes (`POST /api/v1/records`, `/api/v1/webhooks/...`) are left alone:
their records are validated one by one by the record models, which quarantine a bad record
instead of refusing the whole batch.

`SecurityHeaders`: every response (pages, API, static files, errors, redirects) carries a
Content-Security-Policy allowing only the app's own scripts, styles and images (no inline
script or style attribute, no framing: `frame-ancestors 'none'`), `X-Frame-Options: DENY`,
`X-Content-Type-Options: nosniff` and `Referrer-Policy: strict-origin-when-cross-origin`. A
response that sets its own Content-Security-Policy (the scorecard documents with their
inline style, `/docs`) keeps it; `csp_allowing_inline` builds such a policy from the exact
hashes of the inline blocks a document holds. Responses of unexpected errors are sent by
Starlette outside every middleware, so the app's 500 handler adds `SECURITY_HEADERS` itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi.routing import iter_route_contexts
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.routing import Router, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                           "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
                           "form-action 'self'")
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
_ENCODED_HEADERS = [(name.lower().encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()]

# Query strings and paths: every C0 control and DEL. Text (forms, JSON): all but tab, LF, CR.
PARAMETER_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
# Bodies of these are records, validated record by record (see the module docstring).
INGEST_PATHS = ("/api/v1/records",)
INGEST_PREFIXES = ("/api/v1/webhooks/",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def shown(text: str) -> str:
    """`text` with control characters written as escapes (\\x00), for error messages."""
    return PARAMETER_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:100]


def _problem(where: str, value: str, controls: re.Pattern[str]) -> dict[str, str] | None:
    found = controls.search(value)
    if found is not None:
        code = ord(found.group())
        return {"where": where,
                "problem": f"contains the control character U+{code:04X} at position "
                           f"{found.start()}; control characters are not allowed in "
                           "parameters: remove it"}
    if SURROGATE.search(value):
        return {"where": where, "problem": "is not valid Unicode (a lone surrogate); send "
                                           "UTF-8 text"}
    return None


def _pairs_problem(raw: bytes, where: str, values: re.Pattern[str]) -> dict[str, str] | None:
    """The first name=value pair of a query string or urlencoded body with a character it
    may not hold (names: no control character; values: none `values` matches)."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8",
                      errors="replace")
    for name, value in pairs:
        problem = (_problem(f"{where}.{shown(name)}", name, PARAMETER_CONTROL)
                   or _problem(f"{where}.{shown(name)}", value, values))
        if problem is not None:
            return problem
    return None


def _json_strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """(where, text) of every key and string in a JSON document, `where` as `body.a.0.b`."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield where, str(key)
            yield from _json_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{where}.{index}")


class ControlCharacters:
    """422 for a control character in any parameter (see the module docstring)."""

    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app, self.router = app, router
        self._patterns: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._path_problem(scope) or self._query_problem(scope)
        if problem is None and scope["method"] in BODY_METHODS and not self._ingest(scope):
            kind = _body_kind(scope)
            if kind is not None:
                body, more = await _read_body(receive)
                receive = _replay(body, receive, more)
                problem = await self._body_problem(scope, kind, body)
        if problem is not None:
            await _reject(send, problem)
            return
        await self.app(scope, receive, send)

    def _path_problem(self, scope: Scope) -> dict[str, str] | None:
        path: str = scope.get("path", "")
        if not PARAMETER_CONTROL.search(path) and not SURROGATE.search(path):
            return None
        for pattern in self._path_patterns():
            match = pattern.match(path)
            if match is not None:
                for name, value in match.groupdict().items():
                    problem = _problem(f"path.{name}", value, PARAMETER_CONTROL)
                    if problem is not None:
                        return problem
        return _problem("path", path, PARAMETER_CONTROL)

    def _path_patterns(self) -> list[re.Pattern[str]]:
        """The patterns of the app's routes with path parameters (built on first use: the
        routes are all there by then)."""
        if self._patterns is None:
            contexts = iter_route_contexts(self.router.routes)
            self._patterns = [compile_path(context.path)[0] for context in contexts
                              if context.path and "{" in context.path]
        return self._patterns

    @staticmethod
    def _query_problem(scope: Scope) -> dict[str, str] | None:
        raw: bytes = scope.get("query_string", b"")
        return _pairs_problem(raw, "query", PARAMETER_CONTROL) if raw else None

    @staticmethod
    def _ingest(scope: Scope) -> bool:
        path: str = scope.get("path", "")
        return path in INGEST_PATHS or path.startswith(INGEST_PREFIXES)

    @staticmethod
    async def _body_problem(scope: Scope, kind: str, body: bytes) -> dict[str, str] | None:
        if kind == "json":
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError:
                if b"\\ud" in body.lower():  # orjson refuses lone surrogates: say why
                    return {"where": "body", "problem": "is not valid Unicode (a lone "
                                                        "surrogate); send UTF-8 text"}
                return None  # the route answers malformed JSON itself
            for where, text in _json_strings(document, "body"):
                problem = _problem(where, text, TEXT_CONTROL)
                if problem is not None:
                    return problem
            return None
        if kind == "urlencoded":  # a form's text fields may hold tabs and line breaks
            return _pairs_problem(body, "body", TEXT_CONTROL)
        request = Request(scope, _replay(body, None, False))
        try:
            form = await request.form()
        except Exception:  # malformed multipart: the route answers it
            return None
        try:
            for name, item in form.multi_items():
                field_text = (item.filename or "") if isinstance(item, UploadFile) else item
                problem = (_problem(f"body.{shown(name)}", name, PARAMETER_CONTROL)
                           or _problem(f"body.{shown(name)}", field_text, TEXT_CONTROL))
                if problem is not None:
                    return problem
        finally:
            await form.close()
        return None


def _body_kind(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            content_type = value.decode("latin-1").lower()
            if "application/x-www-form-urlencoded" in content_type:
                return "urlencoded"
            if "multipart/form-data" in content_type:
                return "multipart"
            if "json" in content_type:
                return "json"
            return None
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body (the body limit middleware outside bounds it), and whether
    the client disconnected meanwhile."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive | None, disconnected: bool) -> Receive:
    """A `receive` giving `body` once, then what `receive` gives (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None or disconnected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


async def _reject(send: Send, problem: dict[str, str]) -> None:
    body = orjson.dumps({"detail": [problem]})
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """`SECURITY_HEADERS` on every response that does not set its own (see the docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in _ENCODED_HEADERS
                            if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


_INLINE = re.compile(r"<(script|style)\b([^>]*)>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)


def csp_allowing_inline(html: str, script_sources: str = "", style_sources: str = "",
                        img_sources: str = "") -> str:
    """The app's policy, plus the SHA-256 hashes of the inline scripts and styles `html`
    holds (JSON data blocks are not run, so they need none) and the extra sources given."""
    scripts: list[str] = []
    styles: list[str] = []
    for tag, attributes, content in _INLINE.findall(html):
        if tag.lower() == "script" and ("src=" in attributes or "json" in attributes):
            continue
        digest = base64.b64encode(hashlib.sha256(content.encode()).digest()).decode()
        (scripts if tag.lower() == "script" else styles).append(f"'sha256-{digest}'")
    script = " ".join(part for part in ("'self'", script_sources, *scripts) if part)
    style = " ".join(part for part in ("'self'", style_sources, *styles) if part)
    img = " ".join(part for part in ("'self' data:", img_sources) if part)
    policy = CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src {script}")
    policy = policy.replace("style-src 'self'", f"style-src {style}")
    return policy.replace("img-src 'self' data:", f"img-src {img}")

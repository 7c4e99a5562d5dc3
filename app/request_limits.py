"""Request-level limits and guards, the same for every endpoint (issue 15): the body size
(MAX_CONTENT_LENGTH, MES_MAX_REQUEST_MB), the URL length (MES_MAX_URL_LENGTH), one JSON parse per
request with a nesting-depth limit (MES_MAX_JSON_DEPTH), text that is valid Unicode without NUL, whole
numbers a 64-bit column can hold, path integers a 64-bit key can hold, and every `/api` answer of
4xx/5xx in the error envelope whoever produced it (Flask-AppBuilder's own APIs included).

Per-field rules (allowed characters, lengths, ranges) belong to the schemas and the services; these
checks only keep malformed requests away from them, so that nothing below answers a server error.
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from .services.platform.errors import CATALOGUE, DomainError

INT64_MAX = 2**63 - 1
ID_MAX = 2**31 - 1  # record ids are INTEGER columns (32 bits on PostgreSQL)
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates (never valid in stored text)
_BODY_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
_HTTP_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "REQUEST_TOO_LARGE", 414: "URI_TOO_LONG",
               422: "VALIDATION_ERROR", 429: "RATE_LIMITED"}


def code_for_status(status: int) -> str:
    return _HTTP_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR")


class BoundedIntegerConverter(IntegerConverter):
    """`<int:…>` path segments an INTEGER id column can hold; a larger number matches no route (404)
    instead of reaching the database (OverflowError on SQLite, out of range on PostgreSQL)."""

    def __init__(self, map, fixed_digits=0, min=None, max=ID_MAX, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def check_json_value(value: Any, max_depth: int) -> None:
    """Depth, text and integer checks over a parsed JSON value, iteratively (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise DomainError("JSON_TOO_DEEP", f"The JSON body is nested more than {max_depth} levels deep.",
                                  {"maxDepth": max_depth})
            if isinstance(item, dict):
                for key, child in item.items():
                    if _BAD_TEXT.search(key):
                        raise _invalid_text()
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if _BAD_TEXT.search(item):
                raise _invalid_text()
        elif isinstance(item, int) and not isinstance(item, bool) and not -INT64_MAX <= item <= INT64_MAX:
            raise DomainError("VALIDATION_ERROR", "A number in the body is too large.",
                              {"reason": f"whole numbers must lie within ±{INT64_MAX}"})


def _invalid_text() -> DomainError:
    return DomainError("INVALID_TEXT", None, {"reason": "a NUL character or a lone UTF-16 surrogate"})


class MesJSONProvider(DefaultJSONProvider):
    """`request.get_json()` for the whole app: a document nested deeper than MES_MAX_JSON_DEPTH
    (including one too deep for the parser itself: RecursionError) → JSON_TOO_DEEP; NUL or lone
    surrogates in any string → INVALID_TEXT; integers beyond 64 bits → VALIDATION_ERROR."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        max_depth = self._app.config.get("MES_MAX_JSON_DEPTH", 32)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise DomainError("JSON_TOO_DEEP", f"The JSON body is nested more than {max_depth} levels deep.",
                              {"maxDepth": max_depth}) from None
        check_json_value(value, max_depth)
        return value


def install(app: Flask) -> None:
    """Before the routes are registered: the bounded `int` converter and the JSON provider."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.json = MesJSONProvider(app)
    app.json.sort_keys = False


def register(app: Flask) -> None:
    @app.before_request
    def _request_limits():
        if "\x00" in request.path:  # no route has a NUL in it (e.g. `/help/%00`): nothing is there
            raise NotFound()
        max_url = current_app.config.get("MES_MAX_URL_LENGTH", 4096)
        if len(request.full_path) > max_url:
            if request.path.startswith("/api/"):
                raise DomainError("URI_TOO_LONG", f"The address is longer than {max_url} characters.",
                                  {"maxLength": max_url})
            return _console_error(414)
        bad_query = any(_BAD_TEXT.search(key) or any(_BAD_TEXT.search(v) for v in values)
                        for key, values in request.args.lists())
        if not request.path.startswith("/api/"):
            # a console filter with a NUL (PostgreSQL refuses it in text): the request is refused as such
            return _console_error(400) if bad_query else None
        if bad_query:
            raise _invalid_text()
        limit = request.max_content_length
        if limit is not None and request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge()
        if request.method in _BODY_METHODS and request.is_json:
            # the one parse of the body (cached for the view): too large → 413, too deep / bad text →
            # their codes; a malformed document is left to the view, which answers it in the envelope
            request.get_json(silent=True)
        return None

    @app.after_request
    def _api_errors_in_envelope(response):
        """A 4xx/5xx on /api that is not the envelope (Flask-AppBuilder's own APIs answer
        `{"message": …}`, e.g. the menu API's 403 or an unknown OpenAPI version's 404) is rewritten."""
        if response.status_code < 400 or not request.path.startswith("/api/"):
            return response
        body = None
        if response.is_json and not response.is_streamed:
            try:  # the plain parser: our provider's checks (NUL, depth) must not raise in after_request
                body = json.loads(response.get_data())
            except ValueError:
                body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return response
        from .api.base import error_response
        code = code_for_status(response.status_code)
        message = body.get("message") if isinstance(body, dict) else None
        if message is not None and not isinstance(message, str):
            details = {"fields": message} if isinstance(message, dict) else {"reason": str(message)}
            message = None
        else:
            details = None
        enveloped = error_response(code, message or CATALOGUE[code].message, details, status=response.status_code)
        for header in ("X-Request-ID", "Retry-After", "Allow", "WWW-Authenticate"):
            if header in response.headers:
                enveloped.headers[header] = response.headers[header]
        return enveloped


def _console_error(status: int):
    g.mes_error_code = code_for_status(status)
    from .errors import console_page
    return console_page(status)

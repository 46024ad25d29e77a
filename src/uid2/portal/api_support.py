"""The JSON API's plumbing: operations (one table drives routing and the OpenAPI document),
session and CSRF checks, typed reads of the request body, and error answers.

Writes need the session cookie, ``Content-Type: application/json`` and the session's CSRF
token in ``X-CSRF-Token``; a cross-site form can send none of the last two.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route, compile_path
from starlette.types import Receive, Scope, Send

from uid2.portal import forms
from uid2.portal.account_service import Session, csrf_matches
from uid2.portal.errors import PortalError, bad_field, not_found
from uid2.portal.web import session_of

MAX_BODY_BYTES = 1 << 20
# Ids are 32-bit columns (site ids) or smaller in practice; a larger number names nothing and
# would overflow the database driver's integer binding.
MIN_ID, MAX_ID = -(1 << 31), (1 << 31) - 1
Json = dict[str, Any]


class Body:
    """Typed reads of a JSON object; every refusal names the member."""

    def __init__(self, data: Json) -> None:
        self._data = data

    def has(self, name: str) -> bool:
        return self._data.get(name) is not None

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self._data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            raise bad_field(name, f"{name} must be a non-empty string")
        return value

    def req_text(self, name: str) -> str:
        value = self.text(name)
        assert value is not None
        return value

    def texts(self, name: str, *, required: bool = True) -> list[str] | None:
        value = self._data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_field(name, f"{name} must be a list of strings")
        return value

    def ints(self, name: str) -> list[int]:
        value = self._data.get(name, [])
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and MIN_ID <= v <= MAX_ID for v in value
        ):
            raise bad_field(name, f"{name} must be a list of integers (site ids)")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._data.get(name, default)
        if not isinstance(value, bool):
            raise bad_field(name, f"{name} must be true or false")
        return value

    def number(self, name: str, default: float) -> float:
        value = self._data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad_field(name, f"{name} must be a number")
        try:
            return float(value)
        except OverflowError:  # an integer beyond the float range
            raise bad_field(name, f"{name} must be a number") from None


@dataclass(frozen=True, slots=True)
class Call:
    request: Request
    session: Session
    body: Body

    def path_int(self, name: str) -> int:
        value: int = self.request.path_params[name]
        if value > MAX_ID:  # the route's convertor takes any run of digits
            raise not_found()
        return value

    def path_text(self, name: str) -> str:
        value: str = self.request.path_params[name]
        return value

    def query_number(self, name: str) -> int | None:
        """A whole number from the query string, if given (given blank is refused)."""
        value = self.request.query_params.get(name)
        if value is None:
            return None
        number = forms.whole_number(value, name)
        if number is None:
            raise bad_field(name, f"{name} must be a whole number")
        return number


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    handler: Handler
    body: Json | None = None  # JSON schema of the request body
    status: int = 200
    tag: str = "participant"
    response: Json | None = None  # JSON schema of the success answer; None: no content
    query: tuple[Json, ...] = ()  # OpenAPI query parameters


def error_response(error: PortalError, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"status": error.status, "message": error.message, "field": error.field}}
    return JSONResponse(body, status_code=error.status, headers=headers)


async def read_json(request: Request) -> Json:
    if request.method in ("GET", "DELETE"):
        return {}
    raw = await request.body()
    if not raw:  # actions without a body (disable, rotate); writes still need X-CSRF-Token
        return {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise PortalError(415, "send the body as application/json")
    if len(raw) > MAX_BODY_BYTES:
        raise PortalError(413, "the body is too large")
    try:
        data = json.loads(raw)
        # JSON "\ud800" escapes decode to lone surrogates, which no database can store.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):  # RecursionError: deep nesting
        raise PortalError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise PortalError(400, "the body must be a JSON object")
    return data


async def _authorised(request: Request) -> Session:
    session = await session_of(request)
    if session is None:
        raise PortalError(401, "sign in first (POST /api/v1/session)")
    if request.method != "GET" and not csrf_matches(
        session.csrf_token, request.headers.get("x-csrf-token")
    ):
        raise PortalError(403, "missing or wrong X-CSRF-Token header")
    return session


def endpoint(operation: Operation) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            session = await _authorised(request)
            body = Body(await read_json(request))
            result = await operation.handler(Call(request, session, body))
        except PortalError as error:
            return error_response(error)
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result, status_code=operation.status)

    return run


class OperationRoute(Route):
    """An operation's route, which yields to the longer routes under its path.

    A ``{key_id:path}`` id takes the rest of the path: without this, ``PATCH .../{key_id}/disable``
    would be read as an edit of a key whose id ends in "/disable", and ``OPTIONS`` there would
    offer PATCH. (Key ids hold "/" but never "/disable": their random part is five characters.)
    """

    def __init__(self, operation: Operation, longer: Sequence[str]) -> None:
        super().__init__(operation.path, endpoint(operation), methods=[operation.method])
        self.longer = [compile_path(path)[0] for path in longer]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        found = super().matches(scope)
        if found[0] is not Match.NONE and any(r.match(_route_path(scope)) for r in self.longer):
            return Match.NONE, {}
        return found


def routes_for(operations: list[Operation]) -> list[Route]:
    return [
        OperationRoute(op, [o.path for o in operations if o.path.startswith(op.path + "/")])
        for op in operations
    ]


def _route_path(scope: Scope) -> str:
    """The path the routes see: without the root path a proxy mounts the app under."""
    root: str = scope.get("root_path", "")
    path: str = scope["path"]
    return path[len(root) :] if root and path.startswith(root) else path


class ApiFallback(BaseRoute):
    """The last API route: what no other one takes gets a JSON error, not Starlette's text.

    It takes every path under ``/api/`` (a regex route would miss paths holding a newline). A
    path some route serves with other methods is 405 with the ``Allow`` header of all of them
    (Starlette's own 405 names only the first route's methods); any other path is 404.
    """

    path = "/api/{unmatched}"  # the metrics' route label

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and _route_path(scope).startswith("/api/"):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.refusal(scope)(scope, receive, send)

    def refusal(self, scope: Scope) -> Response:
        allowed = sorted(
            {
                method
                for route in self.routes
                if route.matches(scope)[0] is Match.PARTIAL
                for method in route.methods or ()
            }
        )
        if not allowed:
            return error_response(not_found("no such API path"))
        refusal = PortalError(405, f"{scope['method']} is not allowed here")
        return error_response(refusal, headers={"Allow": ", ".join(allowed)})

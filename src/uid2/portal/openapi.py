"""The OpenAPI 3.1 document of the JSON API, built from its operation table.

Every status an operation can answer is listed: its success status, and each refusal the
plumbing (:mod:`.api_support`) or the services can give it. No ``4XX`` range: a status that is
not listed is a bug, which the schemathesis test reports.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from uid2._version import __version__
from uid2.portal.api_schemas import COMPONENTS, TEXT, Schema, ref, request_object

if TYPE_CHECKING:
    from uid2.portal.api_support import Operation

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
# The int convertor takes any run of digits; ids above the 32-bit columns name nothing (404).
_ID = {"type": "integer", "minimum": 0, "maximum": (1 << 31) - 1}
_CSRF_HEADER = {"name": "X-CSRF-Token", "in": "header", "schema": TEXT}
# Every write needs the session's CSRF token (from POST /api/v1/session or GET /api/v1/me).
CSRF_HEADER = {**_CSRF_HEADER, "required": True}
SESSION: list[dict[str, list[str]]] = [{"session": []}]
_REFUSALS = {
    400: "a malformed body or query, or a value refused (``error.field`` names it)",
    401: "no session, or it has ended: sign in with POST /api/v1/session",
    403: "a write without the session's X-CSRF-Token, or a caller without the role it needs",
    404: "no such participant, key, keypair or member (ids beyond 32 bits included)",
    409: "conflicts with the current state: a name in use, the last Admin, no keyset yet, "
    "or a concurrent change",
    413: "the body is over 1 MiB",
    415: "the body is not application/json",
    429: "too many sign-in attempts from this address, or the account is locked for a while",
    503: "the store is unreachable or not initialised",
}
_BODY_METHODS = ("POST", "PUT", "PATCH")


def _path_and_parameters(path: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _ID if convertor == "int" else {"type": "string", "minLength": 1},
        }
        for name, convertor in _PARAM.findall(path)
    ]
    return _PARAM.sub(r"{\1}", path), parameters


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _refusals(statuses: set[int]) -> dict[str, Any]:
    return {
        str(s): {"description": _REFUSALS[s], "content": _json(ref("Error"))}
        for s in sorted(statuses)
    }


def refusal_statuses(op: Operation) -> set[int]:
    """What ``op`` can refuse with, from what it reads and who may call it."""
    statuses = {401, 503}
    if op.method != "GET":
        statuses |= {403, 409}  # the CSRF header; a concurrent change
    if op.method in _BODY_METHODS:
        statuses |= {400, 413, 415}
    if _PARAM.search(op.path):
        statuses |= {403, 404}  # members only; an unknown id
    if op.tag == "platform":
        statuses.add(403)
    if op.query:
        statuses.add(400)
    return statuses


def _success(op: Operation) -> dict[str, Any]:
    if op.response is None:
        return {"description": "done, nothing to answer"}
    return {"description": "done", "content": _json(op.response)}


def _operation(op: Operation) -> dict[str, Any]:
    path, parameters = _path_and_parameters(op.path)
    parameters += op.query
    if op.method != "GET":
        parameters.append(CSRF_HEADER)
    document: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "tags": [op.tag],
        "security": SESSION,
        "responses": {str(op.status): _success(op), **_refusals(refusal_statuses(op))},
    }
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        document["requestBody"] = {
            # An empty body reads as {}: it is needed only when a member is.
            "required": bool(op.body.get("required")),
            "content": _json(op.body),
        }
    return document


def _session_paths() -> dict[str, Any]:
    credentials = request_object({"email": TEXT, "password": TEXT}, ["email", "password"])
    return {
        "post": {
            "summary": "Sign in; answers the CSRF token to send as X-CSRF-Token",
            "operationId": "post_api_v1_session",
            "tags": ["session"],
            "requestBody": {"required": True, "content": _json(credentials)},
            "responses": {
                "200": {"description": "signed in", "content": _json(ref("Session"))},
                **_refusals({400, 401, 413, 415, 429, 503}),
            },
        },
        "delete": {
            "summary": "Sign out (without a session: nothing to do)",
            "operationId": "delete_api_v1_session",
            "tags": ["session"],
            "security": [{}, *SESSION],  # signing out twice is not an error
            "parameters": [
                {**_CSRF_HEADER, "required": False, "description": "needed with a session"}
            ],
            "responses": {"204": {"description": "signed out"}, **_refusals({403, 503})},
        },
    }


def openapi_document(operations: Sequence[Operation]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path, _ = _path_and_parameters(op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    paths["/api/v1/session"] = _session_paths()
    return {
        "openapi": "3.1.0",
        "info": {"title": "uid2 portal API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "uid2_portal_session"}
            },
        },
    }

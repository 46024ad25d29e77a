"""The OpenAPI 3.1 document of the JSON API, built from its operation table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from uid2._version import __version__

if TYPE_CHECKING:
    from uid2.portal.api_support import Operation

_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
# Every write needs the session's CSRF token (from POST /api/v1/session or GET /api/v1/me).
CSRF_HEADER = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
}
_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}


def schema_object(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def schema_array(item_type: str, enum: Sequence[str] | None = None) -> dict[str, Any]:
    items: dict[str, Any] = {"type": item_type}
    if enum is not None:
        items["enum"] = list(enum)
    return {"type": "array", "items": items}


def _path_and_parameters(path: str) -> tuple[str, list[dict[str, Any]]]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer" if convertor == "int" else "string"},
        }
        for name, convertor in _PARAM.findall(path)
    ]
    return _PARAM.sub(r"{\1}", path), parameters


def _operation(op: Operation) -> dict[str, Any]:
    path, parameters = _path_and_parameters(op.path)
    if op.method != "GET":
        parameters.append(CSRF_HEADER)
    errors = {"description": "refused", "content": {"application/json": {"schema": _ERROR}}}
    success = "no content" if op.status == 204 else "done"
    document: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "tags": [op.tag],
        "security": [{"session": []}],
        "responses": {str(op.status): {"description": success}, "4XX": errors},
    }
    if parameters:
        document["parameters"] = parameters
    if op.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.body}},
        }
    return document


def openapi_document(operations: Sequence[Operation]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        path, _ = _path_and_parameters(op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
    paths["/api/v1/session"] = {
        "post": {
            "summary": "Sign in; answers the CSRF token to send as X-CSRF-Token",
            "operationId": "post_api_v1_session",
            "tags": ["session"],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": schema_object(
                            {"email": {"type": "string"}, "password": {"type": "string"}},
                            ["email", "password"],
                        )
                    }
                },
            },
            "responses": {"200": {"description": "signed in"}, "4XX": {"description": "refused"}},
        },
        "delete": {
            "summary": "Sign out",
            "operationId": "delete_api_v1_session",
            "tags": ["session"],
            "security": [{"session": []}],
            "parameters": [CSRF_HEADER],
            "responses": {"204": {"description": "signed out"}},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "uid2 portal API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "uid2_portal_session"}
            }
        },
    }

"""A caller of the portal's JSON API for the tests: one signed-in session and its CSRF token.

Writes send ``Content-Type: application/json`` and ``X-CSRF-Token`` unless told otherwise, so a
test can leave either out, or send a body that is not JSON at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from portal_world import PASSWORD, PortalClient, World

SESSION_COOKIE = "uid2_portal_session"
ANON_CSRF_COOKIE = "uid2_portal_csrf"
_PATH_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


class _Own:
    """The session's own CSRF token (the default of :meth:`Api.request`)."""


OWN = _Own()


@dataclass
class Api:
    client: PortalClient
    csrf: str | None = None  # None: not signed in

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        csrf: str | None | _Own = OWN,
        content: str | bytes | None = None,
        content_type: str | None = "application/json",
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers: dict[str, str] = {}
        token = self.csrf if isinstance(csrf, _Own) else csrf
        if token is not None:
            headers["X-CSRF-Token"] = token
        if method in ("GET", "DELETE"):
            return self.client.request(method, path, headers=headers, params=params)
        if content_type is not None:
            headers["Content-Type"] = content_type
        if content is None:
            content = json.dumps({} if body is None else body)
        return self.client.request(method, path, content=content, headers=headers, params=params)

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


def sign_in(world: World, email: str, password: str = PASSWORD) -> Api:
    client = world.client()
    response = client.post("/api/v1/session", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return Api(client, response.json()["csrf_token"])


def anonymous(world: World) -> Api:
    return Api(world.client())


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of an answer that must have ``status``."""
    assert response.status_code == status, (
        response.request.method,
        response.request.url.path,
        response.status_code,
        response.text,
    )
    return None if status == 204 else response.json()


_ANY = object()


def refused(response: httpx.Response, status: int, field: object = _ANY) -> str:
    """Checks an error answer (status, JSON shape, and the field when given); its message."""
    assert response.status_code == status, (
        response.request.method,
        response.request.url.path,
        response.status_code,
        response.text,
    )
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()["error"]
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    if field is not _ANY:
        assert error["field"] == field, error
    return str(error["message"])


def fill_path(template: str, ids: dict[str, object]) -> str:
    """A route (``{site_id:int}``) or OpenAPI (``{site_id}``) path with real ids, escaped."""
    return _PATH_PARAM.sub(lambda m: quote(str(ids[m.group(1)]), safe=""), template)

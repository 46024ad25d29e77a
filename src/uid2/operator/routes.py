"""Route handlers: thin adapters from HTTP to the services (style-anchors §7 rule 11).

Every envelope endpoint runs the same steps: bounded body read, API key and role check (401
``{"status":"unauthorized"}``), envelope open (400 with the upstream message), the service,
then the sealed answer in the request's encoding (operator.md §2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from starlette.concurrency import run_in_threadpool

from uid2.core.envelope import OpenedRequest, seal_response
from uid2.core.refresh import seal_refresh_response, seal_refresh_response_bytes
from uid2.operator.errors import OperatorError
from uid2.operator.holder import SnapshotHolder
from uid2.operator.http import (
    JSON,
    OCTET_STREAM,
    PLAIN_500,
    TEXT,
    UNAUTHORIZED,
    Answer,
    ApiEndpoint,
    HttpRequest,
    error_answer,
    open_envelope,
)
from uid2.operator.metrics import OperatorMetrics
from uid2.operator.services import cstg, identity, keys, tokens
from uid2.operator.services.common import RandomBytes
from uid2.operator.settings import Settings
from uid2.operator.snapshot import Snapshot
from uid2.store.records import ApiKey, Role

# A service gets the snapshot, the caller, the request JSON (or None) and now_ms.
Service = Callable[[Snapshot, ApiKey, "dict[str, object] | None", int], bytes]
_GCM_IV_SIZE = 12
GENERATOR: Final = frozenset({Role.GENERATOR})
MAPPER: Final = frozenset({Role.MAPPER})
ID_READER: Final = frozenset({Role.ID_READER})
KEY_SHARING: Final = frozenset({Role.SHARER, Role.ID_READER})
OPTOUT_STATUS: Final = frozenset({Role.MAPPER, Role.SHARER, Role.ID_READER})
OPTOUT: Final = frozenset({Role.OPTOUT})
_OK: Final[Answer] = (200, TEXT, b"OK")


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    holder: SnapshotHolder
    metrics: OperatorMetrics
    clock_ms: Callable[[], int]
    random: RandomBytes
    optout_sink: tokens.OptOutSink | None


class OperatorRoutes:
    """The API endpoints as ASGI apps (attributes named after the routes)."""

    def __init__(self, deps: Deps) -> None:
        self.d = deps
        s = deps.settings
        self.generate = self._envelope(GENERATOR, self._generate, "GenerateV2")
        self.validate = self._envelope(GENERATOR, self._validate)
        self.map_v2 = self._envelope(MAPPER, self._map_v2)
        self.map_v3 = self._envelope(MAPPER, self._map_v3)
        self.buckets = self._envelope(MAPPER, lambda snap, c, req, now: identity.buckets(snap, req))
        self.key_latest = self._envelope(
            ID_READER, lambda snap, c, req, now: keys.key_latest(snap, c)
        )
        self.key_sharing = self._envelope(
            KEY_SHARING, lambda snap, c, req, now: keys.key_sharing(snap, s, c)
        )
        self.key_bidstream = self._envelope(
            ID_READER, lambda snap, c, req, now: keys.key_bidstream(snap, s, c)
        )
        self.optout_status = self._envelope(
            OPTOUT_STATUS, lambda snap, c, req, now: identity.optout_status(snap, s, req)
        )
        self.refresh = ApiEndpoint(self._refresh, s.max_body_bytes)
        self.client_generate = ApiEndpoint(self._client_generate, s.max_body_bytes)
        self.logout = ApiEndpoint(self._logout, s.max_body_bytes)
        self.noop = ApiEndpoint(self._noop, s.max_body_bytes)

    # --- the envelope pipeline

    def _envelope(
        self, roles: frozenset[Role], service: Service, endpoint: str | None = None
    ) -> ApiEndpoint:
        deps = self.d
        scope = deps.settings.identity_scope
        token_count = deps.metrics.token_responses

        async def handle(request: HttpRequest) -> Answer:
            snapshot = deps.holder.current
            caller = snapshot.authenticate(request.authorization)
            if caller is None or roles.isdisjoint(caller.roles):
                return UNAUTHORIZED
            now_ms = deps.clock_ms()
            binary = request.is_octet_stream
            try:
                opened, document = open_envelope(
                    caller.secret, request.body, binary=binary, now_ms=now_ms, scope=scope
                )
                answer = service(snapshot, caller, document, now_ms)
            except OperatorError as error:
                if endpoint is not None:
                    token_count.inc(endpoint, error.status)
                return error_answer(error)
            return self._seal(caller, opened, answer, now_ms)

        return ApiEndpoint(handle, deps.settings.max_body_bytes)

    def _seal(self, caller: ApiKey, opened: OpenedRequest, answer: bytes, now_ms: int) -> Answer:
        sealed = seal_response(
            caller.secret,
            answer,
            now_ms=now_ms,
            nonce=opened.nonce,
            iv=self.d.random(_GCM_IV_SIZE),
            binary=opened.was_binary,
        )
        return 200, OCTET_STREAM if opened.was_binary else TEXT, sealed

    # --- services bound to settings and randomness

    def _generate(
        self, snap: Snapshot, caller: ApiKey, req: dict[str, object] | None, now: int
    ) -> bytes:
        answer = tokens.generate(snap, self.d.settings, caller.site_id, req, now, self.d.random)
        self.d.metrics.token_responses.inc("GenerateV2", _status_of(answer))
        return answer

    def _validate(
        self, snap: Snapshot, caller: ApiKey, req: dict[str, object] | None, now: int
    ) -> bytes:
        try:
            answer = tokens.validate(snap, self.d.settings, caller.site_id, req, now)
        except OperatorError as error:
            self.d.metrics.validations.inc(_validate_label(error))
            raise
        self.d.metrics.validations.inc("match" if answer.endswith(b"true}") else "mismatch")
        return answer

    def _map_v2(
        self, snap: Snapshot, caller: ApiKey, req: dict[str, object] | None, now: int
    ) -> bytes:
        _observe_inputs(self.d.metrics, "/v2/identity/map", req)
        return identity.map_v2(snap, self.d.settings, req)

    def _map_v3(
        self, snap: Snapshot, caller: ApiKey, req: dict[str, object] | None, now: int
    ) -> bytes:
        _observe_inputs(self.d.metrics, "/v3/identity/map", req)
        return identity.map_v3(snap, self.d.settings, req, now)

    # --- endpoints outside the envelope

    async def _refresh(self, request: HttpRequest) -> Answer:
        deps = self.d
        snapshot = deps.holder.current
        authenticated = snapshot.authenticate(request.authorization) is not None
        try:
            answer = tokens.refresh(
                snapshot,
                deps.settings,
                request.body,
                authenticated=authenticated,
                now_ms=deps.clock_ms(),
                random=deps.random,
            )
        except OperatorError as error:
            deps.metrics.token_responses.inc("RefreshV2", error.status)
            return error_answer(error)
        deps.metrics.token_responses.inc("RefreshV2", _status_of(answer.json))
        if answer.response_key is None:  # a legacy (unwrapped) token: plain JSON (§1.6)
            return 200, JSON, answer.json
        iv = deps.random(_GCM_IV_SIZE)
        if request.is_octet_stream:
            sealed = seal_refresh_response_bytes(answer.response_key, answer.json, iv=iv)
            return 200, OCTET_STREAM, sealed
        text = seal_refresh_response(answer.response_key, answer.json, iv=iv)
        return 200, TEXT, text.encode("ascii")

    async def _client_generate(self, request: HttpRequest) -> Answer:
        deps = self.d
        try:
            text = cstg.client_generate(
                deps.holder.current,
                deps.settings,
                request.body,
                request.origin,
                deps.clock_ms(),
                deps.random,
            )
        except OperatorError as error:
            deps.metrics.token_responses.inc("ClientSideTokenGenerateV2", error.status)
            return error_answer(error)
        deps.metrics.token_responses.inc("ClientSideTokenGenerateV2", "success")
        return 200, TEXT, text.encode("ascii")

    async def _logout(self, request: HttpRequest) -> Answer:
        deps = self.d
        snapshot = deps.holder.current
        caller = snapshot.authenticate(request.authorization)
        if caller is None or OPTOUT.isdisjoint(caller.roles):
            return UNAUTHORIZED
        now_ms = deps.clock_ms()
        scope = deps.settings.identity_scope
        try:
            opened, document = open_envelope(
                caller.secret,
                request.body,
                binary=request.is_octet_stream,
                now_ms=now_ms,
                scope=scope,
            )
            flh, raw_uid = tokens.logout_target(snapshot, deps.settings, document)
        except OperatorError as error:
            return error_answer(error)
        sink = deps.optout_sink
        if sink is None:
            return PLAIN_500  # no opt-out destination configured (§1.9)
        try:
            await run_in_threadpool(sink.record, flh, raw_uid, now_ms)
        except Exception:  # upstream answers a plain 500 for any failure
            return PLAIN_500
        return self._seal(caller, opened, tokens.LOGOUT_OK, now_ms)

    async def _noop(self, request: HttpRequest) -> Answer:
        return _OK


def _status_of(answer: bytes) -> str:
    # Every answer starts {"status":"<status>"...}: read it without parsing the body.
    end = answer.find(b'"', 11)
    return answer[11:end].decode("ascii", "replace") if end > 11 else "unknown"


def _validate_label(error: OperatorError) -> str:
    if error.message == "Unauthorised to validate token":
        return "unauthorized"
    if error.message == "Invalid token":
        return "invalid_token"
    return "invalid_input"


_DII_FIELDS: Final = ("email", "email_hash", "phone", "phone_hash")


def _observe_inputs(metrics: OperatorMetrics, path: str, request: dict[str, object] | None) -> None:
    """``uid2_operator_identity_map_inputs{path, dii_type}`` (operator.md §10.2 item 34)."""
    if request is None:
        return
    for field in _DII_FIELDS:
        values = request.get(field)
        if isinstance(values, list):
            metrics.map_inputs.labels(path, field).observe(len(values))

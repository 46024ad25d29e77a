"""The portal's JSON API against its own OpenAPI document, driven by schemathesis.

The document is loaded from the app (``GET /api/openapi.json``) and every operation in it gets
generated requests, schema-valid and schema-violating, from a signed-in platform admin and from
a participant's Admin. Every answer must be no 5xx, a documented status, of the documented
content type, and match the documented schema. Answer objects are closed in the document, so a
member it does not name (a stored secret, say) fails here too.

Most requests name ids that exist (the caller's participant with its API key, keypair and team
member, or another participant), and schema-valid ones also send the documented example body,
so that the handlers are reached, not only the router's 404 and the body checks.

Credentials go with each call, not into the generated case: Hypothesis prints a failing case,
and the session cookie and CSRF token must not appear there. A failure is reported by its
check's title and the request, never by the answer's body (it may hold a created key's secret).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import schemathesis
from api_client import SESSION_COOKIE
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from portal_world import ADMIN, ALICE, BOB, PASSWORD, World, give_keyset
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.errors import FailureGroup
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from uid2.admin.cstg import CreateCstgKeypair, create_cstg_keypair

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
ADMIN_EXAMPLES = {POSITIVE: 15, NEGATIVE: 10}  # per operation
MEMBER_EXAMPLES = {POSITIVE: 6, NEGATIVE: 4}
SIGN_IN_EXAMPLES = 3  # each one runs argon2 (a tenth of a second or more)
# Generous: an example is one in-process request; a hang fails fast instead of at the timeout.
DEADLINE = timedelta(seconds=5)
SIGN_IN, SIGN_OUT = "POST /api/v1/session", "DELETE /api/v1/session"
_PATH_PARAM = re.compile(r"\{(\w+)\}")
Operation = APIOperation[Any, Any, Any, Any]
Request = Case[Operation]


@dataclass(frozen=True)
class Caller:
    """A signed-in session, sent with each call (never put into the generated case)."""

    headers: dict[str, str]
    cookies: dict[str, str]


@dataclass(frozen=True)
class Answer:
    operation: str  # "METHOD /path/{template}"
    site_id: object  # the participant the path named, if any
    status: int


@dataclass
class Tally:
    """Every answer the run got, and the failures (described without answer bodies)."""

    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def operations(self) -> set[str]:
        return {a.operation for a in self.answers}

    def succeeded(self) -> set[str]:
        return {a.operation for a in self.answers if 200 <= a.status < 300}


def sign_in_caller(world: World, email: str) -> Caller:
    response = world.client().post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.status_code
    cookie = response.cookies[SESSION_COOKIE]
    return Caller({"X-CSRF-Token": response.json()["csrf_token"]}, {SESSION_COOKIE: cookie})


def existing_ids(world: World) -> list[dict[str, object]]:
    """Path ids that name records: News's own (key, keypair, Bob), and the DSP's site id."""
    give_keyset(world, "news")
    news = world.sites["news"]
    pair = create_cstg_keypair(CreateCstgKeypair(news, "fuzz"), world.uow(), world.ctx())
    with world.uow() as uow:
        (key,) = uow.api_keys.list_for_site(news)
        bob = uow.users.get_by_email(BOB)
    assert bob is not None
    own = {
        "site_id": news,
        "key_id": key.key_id,
        "subscription_id": pair.subscription_id,
        "user_id": bob.user_id,
    }
    return [own, {**own, "site_id": world.sites["dsp"]}]


def documented_example(operation: Operation) -> Any:
    body = operation.definition.raw.get("requestBody", {})
    examples = body.get("content", {}).get("application/json", {}).get("schema", {})
    return (examples.get("examples") or [None])[0]


def cases(
    operation: Operation, mode: GenerationMode, ids: list[dict[str, object]]
) -> st.SearchStrategy[Request]:
    """Generated requests; the same with existing ids in the path; and, schema-valid only, on
    the caller's own participant with the documented example body (if the operation has one)."""
    names = _PATH_PARAM.findall(operation.path)
    known = [{n: found[n] for n in names} for found in ids]
    choices = [operation.as_strategy(generation_mode=mode)]
    if names:
        choices.append(
            st.sampled_from(known).flatmap(
                lambda fixed: operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            )
        )
    fixed: dict[str, Any] = {"path_parameters": known[0]} if names else {}
    example = documented_example(operation)
    if example is not None:
        fixed["body"] = example
    if mode is POSITIVE and fixed:
        choices.append(operation.as_strategy(**fixed))
    return st.one_of(choices)


def describe(case: Request, response: Response, group: FailureGroup) -> str:
    body = "" if isinstance(case.body, NotSet) else json.dumps(case.body, default=repr)[:200]
    found = []
    for failure in group.exceptions:
        where = getattr(failure, "instance_path", None)  # a response schema mismatch
        found.append(f"{failure.code} {failure.title}" + ("" if where is None else f" at {where}"))
    request = f"{case.method} {case.formatted_path} {body}"
    return f"{request} -> {response.status_code}: {'; '.join(found)}"


def exercise(
    operation: Operation,
    mode: GenerationMode,
    examples: int,
    caller: Caller,
    ids: list[dict[str, object]],
    tally: Tally,
) -> None:
    @settings(
        max_examples=examples,
        deadline=DEADLINE,
        database=None,
        phases=[Phase.generate],  # no shrinking: the failing request is reported as found
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=cases(operation, mode, ids))
    def run(case: Request) -> None:
        response = case.call(headers=caller.headers, cookies=caller.cookies)
        site_id = (case.path_parameters or {}).get("site_id")
        tally.answers.append(Answer(operation.label, site_id, response.status_code))
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            raise AssertionError(describe(case, response, group)) from None

    try:
        run()
    except AssertionError as error:
        tally.failures.append(f"{mode.value} {operation.label}: {_first_line(error)}")
    except ExceptionGroup as group:  # Hypothesis found several distinct failures
        tally.failures += [
            f"{mode.value} {operation.label}: {_first_line(e)}" for e in group.exceptions
        ]


def _first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def plan(
    operations: list[Operation], examples: dict[GenerationMode, int]
) -> Iterator[tuple[Operation, GenerationMode, int]]:
    """Each operation in each mode; sign-in with few examples, and sign-out last, once: it ends
    the session the others use, and a schema-violating sign-out has nothing to violate (its
    CSRF header is optional), so it is only run schema-valid."""
    for operation in operations:
        if operation.label == SIGN_OUT:
            continue
        for mode, count in examples.items():
            yield operation, mode, SIGN_IN_EXAMPLES if operation.label == SIGN_IN else count
    yield from ((op, POSITIVE, examples[POSITIVE]) for op in operations if op.label == SIGN_OUT)


def fuzz(world: World, email: str, examples: dict[GenerationMode, int]) -> Tally:
    ids = existing_ids(world)
    caller = sign_in_caller(world, email)
    # The default configuration, not one a schemathesis.toml up the tree might hold.
    config = schemathesis.Config()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", world.app(), config=config)
    operations = [op for methods in schema.values() for op in methods.values()]
    tally = Tally()
    for operation, mode, count in plan(operations, examples):
        exercise(operation, mode, count, caller, ids, tally)
    assert tally.operations() == {op.label for op in operations}  # every one was called
    return tally


def test_every_operation_answers_as_documented_to_a_platform_admin(world: World) -> None:
    tally = fuzz(world, ADMIN, ADMIN_EXAMPLES)
    assert tally.failures == []
    # The admin may do everything: each operation succeeded at least once (sign-in aside: its
    # generated credentials are wrong), so the checks saw real answers, not only refusals.
    assert tally.operations() - tally.succeeded() == {SIGN_IN}


def test_every_operation_answers_as_documented_to_a_participant_admin(world: World) -> None:
    tally = fuzz(world, ALICE, MEMBER_EXAMPLES)
    assert tally.failures == []
    # Alice is the News Admin: she never gets anything done on the DSP nor on the platform.
    dsp = [a for a in tally.answers if a.site_id == world.sites["dsp"]]
    assert dsp and not any(200 <= a.status < 300 for a in dsp)
    assert 403 in {a.status for a in dsp}
    platform = {label for label in tally.operations() if "/platform/" in label}
    assert platform and not platform & tally.succeeded()
    assert "GET /api/v1/participants/{site_id}/team" in tally.succeeded()  # her own team

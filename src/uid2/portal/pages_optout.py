"""The consumer opt-out page (issue 8): ``/optout``, no sign-in.

::

    GET  /optout          the form: email or phone
    POST /optout          validates; the confirmation page shows the identity back and carries
                          it forward in hidden fields, with a signed confirmation token
    POST /optout/confirm  checks the CSRF cookie and the token, records the opt-out, and answers
                          with the same page whatever the identity's history

The token is an HMAC over the identity type, the DII hash (of the normalised value), the time
it was issued and the form's CSRF cookie, so the record step cannot be reached without the
confirmation page, from another browser, or after ``CONFIRM_TTL_MS``. Its key is derived from
the KEK, so every worker accepts the tokens the others issue; without a KEK it is random per
process. Nothing is looked up before recording: an identity already opted out is recorded
again (the table is append-only), so neither the answer nor its timing says whether the
identity was ever seen. Both posts count against a per-address limit. The identity is never
logged, never put in a URL, and shown only to the person who typed it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from uid2.admin.optouts import RecordOptOut, dii_hash, record_optout
from uid2.core.enums import IdentityType
from uid2.portal import forms
from uid2.portal.errors import PortalError, bad_field
from uid2.portal.ratelimit import AttemptLimiter
from uid2.portal.runtime import Runtime, mapped_errors
from uid2.portal.settings import PortalSettings
from uid2.portal.web import (
    ANON_CSRF_COOKIE,
    anonymous_form_ok,
    call,
    client_address,
    error_page,
    form_errors,
    portal_of,
    redirect,
    render,
)

CONFIRM_TTL_MS = 15 * 60_000
CLOCK_SKEW_MS = 60_000  # a token issued "in the future" by a worker whose clock runs ahead
MAX_IDENTITY_LENGTH = 256  # longer than any email address or E.164 number
ACTOR = "portal:optout-page"  # who the audit trail names; never the person or their address
_KEY_LABEL = b"uid2-portal-optout-confirm-key"
_MAC_LABEL = b"uid2-portal-optout-confirm-v1"
_MAX_TOKEN_LENGTH = 80

_INVALID = {
    IdentityType.Email: "Enter a valid email address, like name@example.com.",
    IdentityType.Phone: "Enter the phone number in international format: + and 10 to 15 digits, "
    "no spaces, like +12345678901.",
}
_NAMES = {IdentityType.Email: "email address", IdentityType.Phone: "phone number"}


@dataclass(frozen=True, slots=True)
class Identity:
    """A validated email or phone: as typed (trimmed) and its DII hash."""

    type: IdentityType
    value: str = field(repr=False)
    hashed: bytes = field(repr=False)

    @property
    def kind(self) -> str:
        return self.type.name.lower()

    @property
    def name(self) -> str:
        return _NAMES[self.type]


@dataclass(frozen=True, slots=True)
class OptOutDesk:
    """The page's signing key, its per-address limiter, and the one write it makes."""

    runtime: Runtime
    limiter: AttemptLimiter
    key: bytes = field(repr=False)

    @classmethod
    def create(cls, runtime: Runtime, settings: PortalSettings) -> OptOutDesk:
        if runtime.box is not None:
            key = hmac.new(runtime.box.kek, _KEY_LABEL, hashlib.sha256).digest()
        else:
            key = secrets.token_bytes(32)
        return cls(runtime, AttemptLimiter(settings.optout_attempts_per_minute), key)

    def identity(self, type_text: str, value_text: str) -> Identity:
        """The form's identity; a :class:`PortalError` naming the field if it is not valid."""
        identity_type = forms.identity_type(type_text)
        value = value_text.strip()
        if not value:
            raise bad_field("identity", f"Enter your {_NAMES[identity_type]}.")
        if len(value) > MAX_IDENTITY_LENGTH:
            raise bad_field("identity", _INVALID[identity_type])
        try:
            with mapped_errors():
                hashed = dii_hash(RecordOptOut(identity_type, value))
        except PortalError:  # the admin layer's message is terse; this one says what to type
            raise bad_field("identity", _INVALID[identity_type]) from None
        return Identity(identity_type, value, hashed)

    def sign(self, identity: Identity, issued_ms: int, binding: str) -> str:
        return f"{issued_ms}.{self._mac(identity, issued_ms, binding)}"

    def confirmed(self, identity: Identity, token: str, binding: str, now_ms: int) -> bool:
        """Whether ``token`` was issued for this identity and browser, and is still fresh."""
        issued_text, dot, mac = token.partition(".")
        if not dot or len(token) > _MAX_TOKEN_LENGTH:
            return False
        if not (issued_text.isascii() and issued_text.isdigit()):
            return False
        issued_ms = int(issued_text)
        if not now_ms - CONFIRM_TTL_MS <= issued_ms <= now_ms + CLOCK_SKEW_MS:
            return False
        expected = self._mac(identity, issued_ms, binding)
        return hmac.compare_digest(expected.encode(), mac.encode())

    def record(self, identity: Identity) -> None:
        with mapped_errors():
            cmd = RecordOptOut(identity.type, identity.value)
            record_optout(cmd, self.runtime.uow(), self.runtime.context(ACTOR))

    def _mac(self, identity: Identity, issued_ms: int, binding: str) -> str:
        message = b"\x00".join(
            (
                _MAC_LABEL,
                identity.type.name.encode(),
                identity.hashed,
                str(issued_ms).encode(),
                binding.encode(),
            )
        )
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- handlers -------------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _refusal(request: Request, form: FormData) -> tuple[PortalError, int | None] | None:
    """A stale form (no matching CSRF cookie), or too many posts from this address."""
    if not anonymous_form_ok(request, form):
        return PortalError(403, "This form has expired: reload the page and try again."), None
    portal = portal_of(request)
    wait_s = portal.optout.limiter.allow(client_address(request), portal.clock_ms())
    if wait_s is None:
        return None
    message = f"Too many requests from your address. Wait {wait_s} seconds and try again."
    return PortalError(429, message), wait_s


def _form_page(
    request: Request,
    error: PortalError | None = None,
    *,
    kept: dict[str, str] | None = None,
    retry_after_s: int | None = None,
) -> Response:
    """The form; after a refusal, with its message (the identity only kept when asked to)."""
    context = {
        "form": kept or {"identity_type": "email"},
        "errors": {} if error is None else form_errors(error),
    }
    status = 200 if error is None else error.status
    response = render(request, "optout.html", context, status=status)
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(retry_after_s)
    return response


async def optout_page(request: Request) -> Response:
    return _form_page(request)


async def optout_check(request: Request) -> Response:
    form = await request.form()
    refused = _refusal(request, form)
    if refused is not None:
        return _form_page(request, refused[0], retry_after_s=refused[1])
    portal = portal_of(request)
    type_text, value_text = _text(form, "identity_type"), _text(form, "identity")
    try:
        identity = portal.optout.identity(type_text, value_text)
    except PortalError as error:
        # What was typed goes back only to whoever typed it, to be corrected.
        kept = {"identity_type": type_text, "identity": value_text[:MAX_IDENTITY_LENGTH]}
        return _form_page(request, error, kept=kept)
    binding = request.cookies[ANON_CSRF_COOKIE]
    token = portal.optout.sign(identity, portal.clock_ms(), binding)
    context = {"identity": identity, "confirmation": token}
    return render(request, "optout_confirm.html", context)


async def optout_confirm(request: Request) -> Response:
    form = await request.form()
    refused = _refusal(request, form)
    if refused is not None:
        return _form_page(request, refused[0], retry_after_s=refused[1])
    portal = portal_of(request)
    try:
        identity = portal.optout.identity(_text(form, "identity_type"), _text(form, "identity"))
    except PortalError:
        identity = None
    binding = request.cookies[ANON_CSRF_COOKIE]
    token = _text(form, "confirmation")
    now_ms = portal.clock_ms()
    if identity is None or not portal.optout.confirmed(identity, token, binding, now_ms):
        stale = PortalError(
            400,
            "This confirmation is not valid or has expired (it lasts 15 minutes). "
            "Enter your email address or phone number again.",
        )
        return _form_page(request, stale)
    try:
        await call(portal.optout.record, identity)
    except PortalError as error:
        return error_page(request, error, None)
    return render(request, "optout_done.html", {})


async def optout_confirm_get(request: Request) -> Response:
    return redirect("/optout")


def optout_routes() -> list[Route]:
    return [
        Route("/optout", optout_page, methods=["GET"]),
        Route("/optout", optout_check, methods=["POST"]),
        Route("/optout/confirm", optout_confirm_get, methods=["GET"]),
        Route("/optout/confirm", optout_confirm, methods=["POST"]),
    ]

"""No secret in any log line (issue 9): one full run of every service, logging turned all the
way up, and every byte it logged searched for every secret the run produced.

Every `uid2` process runs through verbose_uid2.py: the root logger at DEBUG (every library's
records kept), SQL statements echoed, uvicorn at DEBUG, and uvicorn's access log on, in a file
of its own (`uid2` itself has no log-level option). Servers:
`uid2 serve operator`, `portal`, `pixel` (a DSP's receiver) and `webhooks` (delivering to a
loopback receiver), on one SQLite store. The run: init, participants, a portal admin, API keys,
a client-side keypair, sharing grants and a webhook (CLI); token generate, refresh and validate,
client-side generation, identity map v2 and v3 (emails, phones, their hashes), key sharing for a
sender and a receiver (SDK); tracking and creative pixels with tokens; opt-outs by the CLI, by
`/v2/token/logout` and by the portal's consumer page, each delivered to the webhook; portal
sign-in (JSON API and HTML form), an API key made there, an invite link and a reset link
redeemed, key and salt rotation, an opt-out lookup; and refusals carrying secrets (an unknown
API key, damaged tokens, a raw UID2 where a token belongs, a wrong password). Secrets are then
collected from what the run was given or answered, and from the store (decrypted with the KEK)
and the receiver's events.

A log is everything a server wrote and everything a `uid2` command wrote, except the standard
output of the commands whose purpose is to print a secret once (`uid2 apikey create`: a key and
its secret; `uid2 user link`: a one-time link) or to show back what their caller just typed
(`uid2 webhook add`: the URL, with the receiver's credential in it). That output is where those
secrets come from; their standard error is searched like any log.

Access logs: `uid2 serve` keeps them off because URLs carry secrets (a pixel's token in its query
string, a one-time link's token in its path). Here they are on, and exactly those two secrets
must appear there and nothing else: the proof that the search finds a real secret in a real log.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from secrets import token_bytes, token_urlsafe
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from operator_server import eventually, free_port
from secrecy_harness import WAIT_S, Command, Key, OptOutInbox, Portal, Run
from secret_search import SecretBag, search

import uid2
from uid2.core.cstg import build_cstg_request, open_cstg_response, parse_public_key_string
from uid2.core.cstg import shared_secret as cstg_shared_secret
from uid2.pixel.store import EventStore, StoredEvent, open_engine
from uid2.sdk.http import OperatorSession
from uid2.store import SecretBox, SqlAlchemyUnitOfWork, make_engine, sqlite_url
from uid2.store.location import StoreLocation

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning")]

POLL = 0.2  # seconds between the operator's store polls
ADMIN = "root@platform.example"
MEMBER = "member@shop.example"
NEWS_ORIGIN = "https://news.example"
# Consumers (DII): who does what in the run
TOKEN_EMAIL = "token.holder@mail.example"
TOKEN_PHONE = "+15550100001"
CSTG_EMAIL = "client.side@mail.example"
MAP_EMAIL, MAP_PHONE = "mapped.person@mail.example", "+15550100002"
HASHED_EMAIL, HASHED_PHONE = "hashed.only@mail.example", "+15550100003"
LOGOUT_EMAIL = "logout.person@mail.example"
PAGE_EMAIL = "page.person@mail.example"
# What may appear in an access log, and must (see the module docstring)
URL_BORNE = {"pixel.access.log": "advertising token", "portal.access.log": "one-time link token"}


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UID2_PIXEL_", "UID2_PORTAL_", "UID2_OPERATOR_"))
           and k not in ("UID2_DATABASE_URL", "UID2_KEK")}  # fmt: skip
    made = Run(tmp_path, {**env, "UID2_HOME": str(tmp_path / "home")})
    for folder in (made.home, made.logs, made.secret_outputs):
        folder.mkdir()
    sdk_log = logging.FileHandler(made.logs / "test-process-sdk.log")
    sdk_log.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    sdk_logger = logging.getLogger("uid2")
    level = sdk_logger.level
    sdk_logger.addHandler(sdk_log)
    sdk_logger.setLevel(logging.DEBUG)  # this process's SDK clients are part of the run
    try:
        yield made
    finally:
        made.stop_servers()
        sdk_logger.removeHandler(sdk_log)
        sdk_logger.setLevel(level)
        sdk_log.close()


# --- control plane (CLI) and services ---------------------------------------------------------


SITES = [("News", "publisher", "GENERATOR,SHARER,OPTOUT", ("--domain", "news.example")),
         ("Shop", "advertiser", "MAPPER,SHARER", ("--domain", "shop.example")),
         ("Bidder", "dsp", "SHARER", ())]  # fmt: skip


def set_up_control_plane(run: Run, inbox: OptOutInbox, admin_password: str) -> dict[str, Any]:
    """What `uid2` commands make before the services start, in rounds of commands run side by
    side; returns the client-side keypair's public parts."""
    run.cli(Command(("init", "--buckets", "64")))
    admin = Command(("user", "create", ADMIN, "--admin", "--password-stdin"),
                    stdin=admin_password + "\n")  # fmt: skip
    made = run.cli(admin, *(Command(("participant", "create", name, "--type", kind, *extra))
                            for name, kind, _, extra in SITES))  # fmt: skip
    site = {name: int(new["site_id"]) for (name, *_), new in zip(SITES, made[1:], strict=True)}
    keys = [Command(("apikey", "create", "--site", str(site[name]), "--roles", roles),
                    prints_secret=True) for name, _, roles, _ in SITES]  # fmt: skip
    answers = run.cli(
        *keys,
        Command(("cstg-key", "create", "--site", str(site["News"]))),
        # prints the webhook back, its URL included: the credential its caller just typed
        Command(
            ("webhook", "add", "--site", str(site["Bidder"]), "--url", inbox.template),
            prints_secret=True,
        ),
    )
    run.secrets.add("webhook URL credential", inbox.credential)
    for (name, *_), key in zip(SITES, answers[: len(SITES)], strict=True):
        run.keys[name] = Key(site[name], key["key"], key["secret"])
        run.secrets.add("API key", key["key"])
        run.secrets.add_base64("client secret", key["secret"])
    return dict(answers[len(SITES)])


def grant_sharing(run: Run) -> None:
    """Both senders share with the bidder (a keyset exists once a key does)."""
    bidder = str(run.keys["Bidder"].site_id)
    run.cli(*(Command(("share", "grant", "--site", str(run.keys[sender].site_id), "--to", bidder))
              for sender in ("News", "Shop")))  # fmt: skip


def start_services(run: Run) -> None:
    for name in ("operator", "portal", "pixel"):
        run.urls[name] = f"http://127.0.0.1:{free_port()}"
    port = {name: url.rsplit(":", 1)[1] for name, url in run.urls.items()}
    bidder = run.keys["Bidder"]
    run.start("operator", ["serve", "operator", "--port", port["operator"],
                           "--poll-interval", str(POLL)])  # fmt: skip
    run.start("portal", ["serve", "portal", "--port", port["portal"]])
    run.start("webhooks", ["serve", "webhooks", "--poll-interval", "0.1", "--timeout", "5",
                           "--backoff-base", "0.1", "--backoff-cap", "0.5"])  # fmt: skip
    run.start(
        "pixel",
        ["serve", "pixel", "--operator", run.urls["operator"], "--port", port["pixel"],
         "--db", sqlite_url(run.root / "pixel.db")],
        UID2_PIXEL_API_KEY=bidder.key, UID2_PIXEL_SECRET=bidder.secret,
        UID2_PIXEL_OPTOUT_SWEEP_SECONDS="0.5",
        UID2_PIXEL_OPTOUT_FULL_SWEEP_SECONDS="1",  # the opt-out comes after its pixel
    )  # fmt: skip


def wait_for_services(run: Run) -> None:
    run.wait_healthy("operator", "/ops/healthcheck")
    run.wait_healthy("portal", "/healthz")
    run.wait_healthy("pixel", "/healthz")


# --- the operator, through the SDK ------------------------------------------------------------


def add_identity(run: Run, identity: uid2.IdentityTokens | None) -> uid2.IdentityTokens:
    assert identity is not None
    run.secrets.add("advertising token", identity.get_advertising_token())
    run.secrets.add("refresh token", identity.get_refresh_token())
    run.secrets.add_base64("refresh response key", identity.get_refresh_response_key())
    return identity


def publisher_tokens(run: Run) -> uid2.IdentityTokens:
    """Generate (email, phone), refresh and validate; the email's refreshed identity."""
    news = run.keys["News"]
    publisher = uid2.Uid2PublisherClient(run.urls["operator"], news.key, news.secret)
    with closing(publisher):
        by_email = publisher.generate_token(uid2.TokenGenerateInput.from_email(TOKEN_EMAIL))
        by_phone = publisher.generate_token(uid2.TokenGenerateInput.from_phone(TOKEN_PHONE))
        first = add_identity(run, by_email.get_identity())
        add_identity(run, by_phone.get_identity())
        refreshed = publisher.refresh_token(first)
        assert refreshed.is_success()
        identity = add_identity(run, refreshed.get_identity())
    with closing(OperatorSession(run.urls["operator"], news.key, news.secret)) as session:
        answer = session.post_envelope("/v2/token/validate", {
            "token": identity.get_advertising_token(), "email": TOKEN_EMAIL})  # fmt: skip
    assert json.loads(answer)["body"] is True
    return identity


def client_side_tokens(run: Run, cstg: dict[str, Any]) -> None:
    email_hash = uid2.normalize_and_hash_email(CSTG_EMAIL)
    private = ec.generate_private_key(ec.SECP256R1())
    request = build_cstg_request(
        cstg["public_key"], json.dumps({"email_hash": email_hash}).encode(),
        now_ms=time.time_ns() // 1_000_000, client_private_key=private, iv=os.urandom(12),
        subscription_id=cstg["subscription_id"],
    )  # fmt: skip
    answer = httpx.post(run.urls["operator"] + "/v2/token/client-generate", json=request,
                        headers={"Origin": NEWS_ORIGIN}, timeout=10)  # fmt: skip
    assert answer.status_code == 200
    secret = cstg_shared_secret(private, parse_public_key_string(cstg["public_key"]))
    run.secrets.add("CSTG shared secret", secret)
    run.secrets.add("CSTG client private key", private.private_numbers().private_value.to_bytes(32))
    body = json.loads(open_cstg_response(secret, answer.text))
    assert body["status"] == "success"
    add_identity(run, uid2.IdentityTokens.from_json(body["body"]))


def map_identities(run: Run) -> str:
    """Identity map v2 and v3 over emails, phones and hashes; the raw UID2 of MAP_EMAIL."""
    shop, url = run.keys["Shop"], run.urls["operator"]
    email_hash = uid2.normalize_and_hash_email(HASHED_EMAIL)
    phone_hash = uid2.normalize_and_hash_phone(HASHED_PHONE)
    inputs = [uid2.IdentityMapInput.from_emails([MAP_EMAIL]),
              uid2.IdentityMapInput.from_phones([MAP_PHONE]),
              uid2.IdentityMapInput.from_hashed_emails([email_hash]),
              uid2.IdentityMapInput.from_hashed_phones([phone_hash])]  # fmt: skip
    with closing(uid2.IdentityMapClient(url, shop.key, shop.secret)) as v2:
        for mapped in [v2.generate_identity_map(i).mapped_identities for i in inputs]:
            assert len(mapped) == 1
            run.secrets.add_base64("raw UID2", *(m.get_raw_uid() for m in mapped.values()))
    both = (uid2.IdentityMapV3Input.from_emails([MAP_EMAIL]).with_phones([MAP_PHONE])
            .with_hashed_emails([email_hash]).with_hashed_phones([phone_hash]))  # fmt: skip
    with closing(uid2.IdentityMapV3Client(url, shop.key, shop.secret)) as v3:
        mapped_v3 = v3.generate_identity_map(both).mapped_identities
    assert len(mapped_v3) == 4
    for hit in mapped_v3.values():
        run.secrets.add_base64("raw UID2", hit.current_raw_uid, hit.previous_raw_uid)
    return mapped_v3[MAP_EMAIL].current_raw_uid


def fire_pixels(run: Run, identity: uid2.IdentityTokens, raw_uid: str) -> None:
    """A tracking pixel with the publisher's token, a creative one with a shared token."""
    shop, bidder, pixel = run.keys["Shop"], run.keys["Bidder"], run.urls["pixel"]
    with uid2.SharingClient(run.urls["operator"], shop.key, shop.secret) as sender:
        assert sender.refresh().success
        shared = sender.encrypt_raw_uid_into_token(raw_uid).encrypted_data
    assert shared is not None
    run.secrets.add("advertising token", shared)
    with uid2.SharingClient(run.urls["operator"], bidder.key, bidder.secret) as receiver:
        assert receiver.refresh().success  # key sharing, as a receiver refreshes it
        assert receiver.decrypt_token_into_raw_uid(shared).uid == raw_uid
    token = identity.get_advertising_token()
    assert token is not None
    for url in (
        uid2.tracking_pixel_url(pixel + "/px/tracking", token, "purchase", {"order": "o-17"}),
        uid2.creative_pixel_url(
            pixel + "/px/creative?ev=impression&uid2_token={UID2_TOKEN}", shared
        ),
    ):
        assert httpx.get(url, timeout=10).status_code == 200
    creative = [e for e in pixel_events(run) if e.event.event == "impression"]
    assert [e.event.raw_uid2 for e in creative] == [raw_uid]  # decrypted and stored


def pixel_events(run: Run) -> list[StoredEvent]:
    engine = open_engine(sqlite_url(run.root / "pixel.db"))
    try:
        return list(EventStore(engine).events())
    finally:
        engine.dispose()


def use_the_portal(run: Run, admin_password: str) -> None:
    """Sign-in, an API key, an invite redeemed and a member signed in through the HTML form,
    key and salt rotation, an opt-out lookup, sign-out, and a reset link redeemed."""
    portal = Portal(run)
    portal.sign_in(ADMIN, admin_password)
    shop = run.keys["Shop"].site_id
    made = portal.call("POST", f"/api/v1/participants/{shop}/api-keys",
                       {"name": "portal-made", "roles": ["MAPPER"]}, expect=201)  # fmt: skip
    run.secrets.add("API key", made["key"])
    run.secrets.add_base64("client secret", made["secret"])
    invited = portal.call("POST", f"/api/v1/participants/{shop}/team",
                          {"email": MEMBER, "role": "operations"}, expect=201)  # fmt: skip
    portal.set_password(invited["invite_link"], "member passphrase, long enough 7")
    portal.browser_sign_in(MEMBER, "member passphrase, long enough 7")
    portal.call("POST", "/api/v1/platform/keys/rotate", {"force": True})
    portal.call("POST", "/api/v1/platform/salts/rotate", {"fraction": 0.25, "force": True})
    found = portal.call("POST", "/api/v1/platform/optout/lookup",
                        {"identity_type": "email", "identity": PAGE_EMAIL})  # fmt: skip
    assert found is not None
    portal.call("DELETE", "/api/v1/session", expect=204)
    (reset,) = run.cli(Command(("user", "link", ADMIN, "--portal-url", portal.url),
                               prints_secret=True))  # fmt: skip
    portal.set_password(reset["link"], "a new admin passphrase, long enough 9")


# --- refusals ----------------------------------------------------------------------------------


def make_mistakes(run: Run, identity: uid2.IdentityTokens, raw_uid: str) -> None:
    """Requests each service refuses, each carrying a secret: error paths are where a value
    gets quoted. Made-up credentials are secrets too (they may be someone's real ones)."""
    stranger = Key(
        0, "UID2-C-L-999-" + token_urlsafe(24), base64.b64encode(token_bytes(32)).decode()
    )
    run.secrets.add("API key", stranger.key)
    run.secrets.add_base64("client secret", stranger.secret)
    with closing(OperatorSession(run.urls["operator"], stranger.key, stranger.secret)) as session:
        with pytest.raises(uid2.OperatorError):
            session.post_envelope("/v2/token/generate", {"email": TOKEN_EMAIL})
    refresh_token, token = identity.get_refresh_token(), identity.get_advertising_token()
    assert refresh_token is not None and token is not None
    damaged_refresh, damaged_token = damaged(refresh_token), damaged(token)
    run.secrets.add("refresh token", damaged_refresh)
    run.secrets.add("advertising token", damaged_token)
    refused = httpx.post(run.urls["operator"] + "/v2/token/refresh", content=damaged_refresh)
    assert refused.status_code == 400, refused.status_code
    for wrong in (damaged_token, raw_uid):  # a raw UID2 where the token belongs
        beacon = httpx.post(run.urls["pixel"] + "/px/tracking",
                            json={"uid2_token": wrong, "ev": "mistake"})  # fmt: skip
        assert beacon.status_code == 204, beacon.status_code
    wrong_password = "not the admin passphrase 3"
    run.secrets.add("portal password", wrong_password)
    answer = httpx.post(run.urls["portal"] + "/api/v1/session",
                        json={"email": ADMIN, "password": wrong_password})  # fmt: skip
    assert answer.status_code == 401, answer.status_code
    form = Portal(run).post_form("/login", {"email": ADMIN, "password": wrong_password})
    assert form.status_code == 401, form.status_code


def damaged(text: str) -> str:
    """``text`` with its middle character changed: still well-formed, no longer valid."""
    middle = len(text) // 2
    return text[:middle] + ("B" if text[middle] == "A" else "A") + text[middle + 1 :]


# --- opt-outs ---------------------------------------------------------------------------------


def opt_out_everywhere(run: Run, inbox: OptOutInbox) -> None:
    """One opt-out per entry point; each reaches the webhook, and the receiver purges the
    opted-out raw UID2 it had stored."""
    run.cli(Command(("optout", "add", "--email", MAP_EMAIL)))
    news = run.keys["News"]
    with closing(OperatorSession(run.urls["operator"], news.key, news.secret)) as session:
        answer = session.post_envelope("/v2/token/logout", {"email": LOGOUT_EMAIL})
    assert json.loads(answer)["body"] == {"optout": "OK"}
    Portal(run).consumer_opt_out(PAGE_EMAIL)
    eventually(lambda: len(inbox.received()) == 3, timeout=WAIT_S)
    run.secrets.add_base64("raw UID2", *inbox.received())

    def purged() -> bool:
        creative = [e.event for e in pixel_events(run) if e.event.event == "impression"]
        return [(e.status, e.raw_uid2) for e in creative] == [("OPTED_OUT", None)]

    eventually(purged, timeout=WAIT_S, every=0.1)


# --- what the stores hold ---------------------------------------------------------------------


def collect_store_secrets(run: Run) -> None:
    kek = StoreLocation.from_environ({"UID2_HOME": str(run.home)}).kek()
    assert kek is not None
    run.secrets.add("KEK", kek)
    run.secrets.add("KEK", (run.home / "kek").read_text().strip())
    engine = make_engine(sqlite_url(run.home / "uid2.db"))
    try:
        with SqlAlchemyUnitOfWork(engine, SecretBox(kek), read_only=True) as uow:
            add_store_rows(run.secrets, uow)
    finally:
        engine.dispose()
    run.secrets.add_base64("raw UID2", *(e.event.raw_uid2 for e in pixel_events(run)))


def add_store_rows(secrets: SecretBag, uow: SqlAlchemyUnitOfWork) -> None:
    secrets.add("encryption key secret", *(k.secret for k in uow.keyset_keys.list_all()))
    secrets.add("client secret (decoded)", *(k.secret for k in uow.api_keys.list_all()))
    for pair in uow.cstg_keypairs.list_all():
        secrets.add("CSTG private key", pair.private_key)
        secrets.add_base64("CSTG private key", pair.private_key[len("UID2-Y-L-") :])
    config = uow.salts.get_config()
    assert config is not None
    secrets.add("salt", config.first_level_salt, config.id_secret)
    for bucket in uow.salts.list_buckets():
        secrets.add("salt", bucket.current_salt, bucket.previous_salt)
    secrets.add("password hash", *(u.password_hash for u in uow.users.list_all()))
    for optout in uow.optouts.list_since(0):
        secrets.add("first-level hash", optout.identity_hash)
        secrets.add("raw UID2 (decoded)", optout.advertising_id)


def collect_dii(secrets: SecretBag) -> None:
    emails = [TOKEN_EMAIL, CSTG_EMAIL, MAP_EMAIL, HASHED_EMAIL, LOGOUT_EMAIL, PAGE_EMAIL]
    phones = [TOKEN_PHONE, MAP_PHONE, HASHED_PHONE]
    secrets.add("email (DII)", *emails)
    secrets.add("phone (DII)", *phones)
    secrets.add_base64("email hash", *(uid2.normalize_and_hash_email(e) for e in emails))
    secrets.add_base64("phone hash", *(uid2.normalize_and_hash_phone(p) for p in phones))


# --- the test ---------------------------------------------------------------------------------


def assert_logs_are_real(logs: dict[str, bytes]) -> None:
    """The search cannot pass on empty or quiet logs: every server logged, at DEBUG, SQL was
    echoed, and every HTTP server's access log holds request lines."""
    for server in ("operator", "portal", "pixel"):
        assert b"Application startup complete" in logs[f"{server}.err"], server
    assert b"DEBUG httpcore" in logs["pixel.err"]  # a library's DEBUG records: the root level
    assert b"INFO sqlalchemy.engine.Engine: INSERT INTO pixel_events" in logs["pixel.err"]
    assert b"INFO sqlalchemy.engine.Engine: UPDATE portal_users" in logs["portal.err"]
    worker = logs["webhooks.err"]
    assert b"INFO uid2.webhooks: webhook 1 opt-out 1: attempt 1 failed" in worker
    assert b"DEBUG uid2.webhooks: webhook 1 opt-out 1: delivered (HTTP 200)" in worker
    assert b'"POST /v2/token/generate HTTP/1.1" 200' in logs["operator.access.log"]
    assert b'"POST /api/v1/session HTTP/1.1" 200' in logs["portal.access.log"]
    assert b'"GET /px/creative?ev=impression&uid2_token=' in logs["pixel.access.log"]
    assert all(logs[n] for n in logs if n.startswith("cli-") and n.endswith(".err"))


def test_no_secret_reaches_any_log(run: Run) -> None:
    began = time.monotonic()
    admin_password = "the platform admin passphrase 42"
    run.secrets.add("portal password", admin_password)
    inbox = OptOutInbox()
    try:
        cstg = set_up_control_plane(run, inbox, admin_password)
        start_services(run)
        grant_sharing(run)  # while the services start
        wait_for_services(run)
        identity = publisher_tokens(run)
        client_side_tokens(run, cstg)
        raw_uid = map_identities(run)
        fire_pixels(run, identity, raw_uid)
        make_mistakes(run, identity, raw_uid)
        opt_out_everywhere(run, inbox)
        use_the_portal(run, admin_password)  # rotates salts: after the opt-outs of mapped UID2s
    finally:
        run.stop_servers()
        inbox.stop()
    collect_store_secrets(run)
    collect_dii(run.secrets)
    logs = run.captured()

    assert_logs_are_real(logs)
    findings = search(run.secrets, logs)
    allowed = [f for f in findings if URL_BORNE.get(f.log) == f.kind]
    leaks = [str(f) for f in findings if f not in allowed]
    assert not leaks, "secrets in logs (values not shown):\n" + "\n".join(leaks)
    assert {(f.log, f.kind) for f in allowed} == set(URL_BORNE.items())  # the search finds them
    print(f"\n{len(run.secrets)} secrets of {len(run.secrets.kinds())} kinds, "
          f"{sum(map(len, logs.values()))} log bytes in {len(logs)} files, "
          f"{time.monotonic() - began:.1f} s")  # fmt: skip


def test_the_search_finds_encoded_forms_and_names_only_kinds() -> None:
    bag = SecretBag()
    bag.add_base64("client secret", "kx6EI+0DQ91ef2ARv9ztzusewEn571YfmYhQWWwWrmA=")
    bag.add("refresh token", 'a"quoted/refresh+token')
    logs = {
        "url.log": b"GET /x?s=kx6EI%2B0DQ91ef2ARv9ztzusewEn571YfmYhQWWwWrmA%3D 200",
        "json.log": b'{"token": "a\\"quoted\\/refresh+token"}',
        "hex.log": bytes.fromhex("933e84") + b"...",  # a 3-byte prefix is not a finding
        "clean.log": b"nothing to see here, kx6EI",
    }
    findings = search(bag, logs)
    assert [(f.log, f.kind, f.form) for f in findings] == [
        ("json.log", "refresh token", "JSON-escaped with \\/"),
        ("url.log", "client secret", "URL-encoded"),
        ("url.log", "client secret (decoded)", "base64 URL-encoded"),
    ]
    assert all("kx6EI" not in str(f) and "quoted" not in str(f) for f in findings)

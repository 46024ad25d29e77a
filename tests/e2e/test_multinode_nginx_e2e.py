"""Several nodes behind nginx (issue 9): two `uid2 serve operator` processes and one `uid2 serve
portal` on one PostgreSQL schema, with Debian's nginx in front (one upstream of both operators,
one server for the portal), set up as README's "Running several nodes" describes: every node
gets only UID2_DATABASE_URL and UID2_KEK, and a home directory of its own.

Each change made through the portal (JSON API; the opt-out on its consumer page, as the JSON API
has no opt-out write) must show on each operator, asked directly, and through nginx, within 5 s.
Through nginx the answer must hold for several requests in a row, so round-robin has sent some
to each operator. The times are printed (`pytest -s`). Each operator's /metrics shows that
nginx spreads requests over both, and the portal's one-time links name the address people use
(nginx's), which needs nginx to pass on the Host header.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from operator_server import eventually, free_port
from postgres_schema import fresh_schema
from prometheus_client.parser import text_string_to_metric_families
from test_optout_everywhere_e2e import _consumer_page_optout
from test_portal_operator_e2e import PortalApi

from uid2.sdk.errors import OperatorError
from uid2.sdk.http import NO_RETRY, HttpSettings, OperatorSession

POSTGRES_URL = os.environ.get("UID2_TEST_POSTGRES_URL")
NGINX = Path("/usr/sbin/nginx")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="UID2_TEST_POSTGRES_URL is not set, so there is no PostgreSQL server to test on",
    ),
    pytest.mark.skipif(
        not NGINX.exists(), reason="Debian's nginx is not installed at /usr/sbin/nginx"
    ),
]

UID2 = str(Path(sys.executable).parent / "uid2")
ADMIN = "root@platform.example"
PASSWORD = "correct horse battery staple"
LIMIT_S = 5.0  # every operator must show a change this soon after the portal answered
EVERY_S = 0.05
NGINX_STREAK = 4  # answers in a row through nginx: round-robin sends two to each operator
PROBE_HTTP = HttpSettings(timeout=2.0, connect_timeout=1.0, retry=NO_RETRY)
GENERATE = "/v2/token/generate"


@dataclass(frozen=True, slots=True)
class Credential:
    site_id: int
    key_id: str
    key: str = field(repr=False)
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Cluster:
    operators: tuple[str, ...]  # each operator's own address
    front: str  # nginx, in front of the operators
    portal: PortalApi  # signed in through nginx
    sites: Mapping[str, int]

    def targets(self) -> dict[str, str]:
        direct = {f"operator-{n}": url for n, url in enumerate(self.operators, start=1)}
        return {**direct, "nginx": self.front}

    def new_key(self, site: str, roles: list[str]) -> Credential:
        made = self.portal.call("POST", f"/api/v1/participants/{self.sites[site]}/api-keys",
                                {"name": f"key-{uuid.uuid4().hex[:6]}", "roles": roles},
                                expect=201)  # fmt: skip
        return Credential(made["site_id"], made["key_id"], made["key"], made["secret"])

    def key_path(self, who: Credential) -> str:
        key_id = urllib.parse.quote(who.key_id, safe="")  # standard base64 may hold "/"
        return f"/api/v1/participants/{who.site_id}/api-keys/{key_id}"


# --- processes --------------------------------------------------------------------------------


def _cli(env: Mapping[str, str], *args: str, stdin: str | None = None) -> dict[str, Any]:
    done = subprocess.run([UID2, *args, "--json"], env=env, input=stdin, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, f"uid2 {args[0]} failed: {done.stderr}"
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _start(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


@dataclass(frozen=True, slots=True)
class Node:
    process: subprocess.Popen[bytes]
    url: str
    health: str  # the path that answers 200 once the node serves
    log: Path

    def wait_healthy(self) -> None:
        def healthy() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.log.name}: exited early\n{self.log.read_text()}")
            return _answers(self.url + self.health)

        eventually(healthy, timeout=30)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=20)


def _nginx_conf(prefix: Path, front: int, portal_front: int, operators: list[int],
                portal: int) -> str:  # fmt: skip
    servers = " ".join(f"server 127.0.0.1:{port};" for port in operators)
    proxied = """
        proxy_http_version 1.1;  proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;"""
    # master_process off: no switch to user "nobody", who could not enter pytest's 0700 tmp dirs.
    return f"""
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;  proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;  uwsgi_temp_path {prefix}/uwsgi;  scgi_temp_path {prefix}/scgi;
    # Idle upstream connections close before uvicorn's own 5 s keep-alive timeout does.
    upstream uid2_operators {{ {servers} keepalive 16; keepalive_timeout 4s; }}
    upstream uid2_portal {{ server 127.0.0.1:{portal}; keepalive 4; keepalive_timeout 4s; }}
    server {{
        listen 127.0.0.1:{front};
        client_max_body_size 1m;
        location / {{ proxy_pass http://uid2_operators; {proxied} }}
    }}
    server {{
        listen 127.0.0.1:{portal_front};
        location / {{ proxy_pass http://uid2_portal; {proxied} }}
    }}
}}
"""  # noqa: E501


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped at the end."""
    assert POSTGRES_URL is not None
    with fresh_schema(POSTGRES_URL, "uid2_multinode") as url:
        yield url


def _initialise(admin_env: Mapping[str, str]) -> dict[str, str]:
    """`uid2 init`; returns a node's environment."""
    _cli(admin_env, "init", "--buckets", "64")
    # Nodes share the database and the KEK, never a file: the KEK goes in their environment.
    kek = (Path(admin_env["UID2_HOME"]) / "kek").read_text().strip()
    return {**admin_env, "UID2_KEK": kek}


def _populate(admin_env: Mapping[str, str]) -> dict[str, int]:
    """The portal's admin and the participants; returns their site ids by name."""
    _cli(admin_env, "user", "create", ADMIN, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    return {
        name: int(_cli(admin_env, "participant", "create", name, "--type", kind)["site_id"])
        for name, kind in (("News", "publisher"), ("Shoe Shop", "advertiser"), ("Bid Co", "dsp"))
    }


def _start_node(root: Path, name: str, port: int, env: Mapping[str, str]) -> Node:
    """`uid2 serve operator|portal` with a home directory of its own."""
    kind, health = ("portal", "/healthz") if name == "portal" else ("operator", "/ops/healthcheck")
    home = root / name
    home.mkdir()
    log = root / f"{name}.log"
    command = [UID2, "serve", kind, "--port", str(port)]
    process = _start(command, {**env, "UID2_HOME": str(home)}, log)
    return Node(process, f"http://127.0.0.1:{port}", health, log)


def _start_nginx(root: Path, ports: Mapping[str, int]) -> list[Node]:
    """nginx, seen as its two servers: the operators' front and the portal's."""
    conf = root / "nginx.conf"
    conf.write_text(_nginx_conf(root, ports["front"], ports["portal_front"],
                                [ports["op1"], ports["op2"]], ports["portal"]))  # fmt: skip
    command = [str(NGINX), "-c", str(conf), "-p", f"{root}/", "-g", "daemon off;"]
    log = root / "nginx.out"  # nginx reports a configuration it refuses on stderr
    process = _start(command, os.environ, log)
    return [
        Node(process, f"http://127.0.0.1:{ports['front']}", "/ops/healthcheck", log),
        Node(process, f"http://127.0.0.1:{ports['portal_front']}", "/healthz", log),
    ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("multinode")
    admin_env = {**os.environ, "UID2_HOME": str(root / "admin"), "UID2_DATABASE_URL": database_url}
    admin_env.pop("UID2_KEK", None)
    node_env = _initialise(admin_env)
    ports = {name: free_port() for name in ("op1", "op2", "portal", "front", "portal_front")}
    nodes: list[Node] = []
    try:
        for name in ("op1", "op2", "portal"):
            nodes.append(_start_node(root, name, ports[name], node_env))
        nodes += _start_nginx(root, ports)
        sites = _populate(admin_env)  # while the nodes start: operators pick it up as they poll
        for node in nodes:
            node.wait_healthy()
        op1, op2, _, front, portal_front = (node.url for node in nodes)
        portal = PortalApi(portal_front)
        portal.sign_in(ADMIN, PASSWORD)
        yield Cluster((op1, op2), front, portal, sites)
    finally:
        _stop(list(dict.fromkeys(node.process for node in nodes)))  # nginx is two nodes


# --- probes: what one node answers ------------------------------------------------------------


def _call(url: str, who: Credential, path: str, payload: Mapping[str, Any]) -> Any:
    """The decrypted answer (JSON), or the HTTP status when the operator refused the call."""
    session = OperatorSession(url, who.key, who.secret, settings=PROBE_HTTP)
    try:
        return json.loads(session.post_envelope(path, payload))
    except OperatorError as error:
        return error.http_status
    finally:
        session.close()


def _generate_status(url: str, who: Credential, email: str) -> str | int:
    answer = _call(url, who, GENERATE, {"email": email})
    return answer if isinstance(answer, int) else str(answer["status"])


def _sharing_keys(url: str, who: Credential) -> dict[str, Any] | None:
    """The /v2/key/sharing body, or None when the operator refused the key."""
    answer = _call(url, who, "/v2/key/sharing", {})
    return None if isinstance(answer, int) else answer["body"]  # type: ignore[no-any-return]


def _own_key_ids(url: str, sender: Credential) -> set[int]:
    body = _sharing_keys(url, sender)
    assert body is not None, "the sender's key was refused"
    own = {int(k["id"]) for k in body["keys"] if k.get("keyset_id") == body["default_keyset_id"]}
    assert own, "the sender has no keys of its own to share"
    return own


def _readable_key_ids(url: str, receiver: Credential) -> set[int]:
    body = _sharing_keys(url, receiver)
    assert body is not None, "the receiver's key was refused"
    return {int(k["id"]) for k in body["keys"]}


def _generate_requests(url: str) -> int:
    """POSTs to /v2/token/generate this operator has counted, whatever their answer."""
    metrics = text_string_to_metric_families(httpx.get(url + "/metrics", timeout=2).text)
    return sum(
        int(sample.value)
        for family in metrics
        if family.name == "uid2_http_requests"
        for sample in family.samples
        if sample.name == "uid2_http_requests_total" and sample.labels["path"] == GENERATE
    )


# --- convergence ------------------------------------------------------------------------------


def _needed(target: str) -> int:
    return NGINX_STREAK if target == "nginx" else 1


def converge(cluster: Cluster, change: str, shows: Callable[[str], bool]) -> None:
    """Prints the seconds until each target shows the change (``shows(base_url)``) and asserts
    they are at most LIMIT_S; for nginx, until the last of NGINX_STREAK answers in a row.

    Call it right after the portal answered the write. Targets are asked in turn, so nginx's
    requests alternate between the operators.
    """
    start = time.monotonic()
    pending, streaks, seconds = cluster.targets(), dict.fromkeys(cluster.targets(), 0), {}
    for _ in range(int(LIMIT_S / EVERY_S) + 1):
        for target, url in list(pending.items()):
            streaks[target] = streaks[target] + 1 if shows(url) else 0
            if streaks[target] >= _needed(target):
                seconds[target] = time.monotonic() - start
                del pending[target]
        if not pending or time.monotonic() - start > LIMIT_S:
            break
        time.sleep(EVERY_S)
    figures = ", ".join(f"{target} {s:.2f} s" for target, s in seconds.items())
    print(f"\nconvergence, {change}: {figures or 'none'}")
    assert not pending, f"{change}: not seen on {sorted(pending)} within {LIMIT_S} s"
    assert max(seconds.values()) <= LIMIT_S


def holds_everywhere(cluster: Cluster, holds: Callable[[str], bool]) -> bool:
    """``holds`` now, on each operator and for NGINX_STREAK requests through nginx."""
    return all(
        holds(url) for target, url in cluster.targets().items() for _ in range(_needed(target))
    )


# --- tests ------------------------------------------------------------------------------------


def test_nginx_sends_requests_to_both_operators(cluster: Cluster) -> None:
    publisher = cluster.new_key("News", ["GENERATOR"])
    email = "spread@example.com"
    converge(cluster, "new key", lambda url: _generate_status(url, publisher, email) == "success")
    before = [_generate_requests(url) for url in cluster.operators]
    sent = 10
    for _ in range(sent):
        assert _generate_status(cluster.front, publisher, email) == "success"
    after = [_generate_requests(url) for url in cluster.operators]
    served = [done - earlier for done, earlier in zip(after, before, strict=True)]
    print(f"\nrequests through nginx served per operator: {served}")
    assert sum(served) == sent  # each request reached one operator, once
    assert min(served) >= 3  # round-robin: both operators took a share


def test_a_new_api_key_and_then_its_disabling_reach_every_operator(cluster: Cluster) -> None:
    publisher = cluster.new_key("News", ["GENERATOR"])
    email = "reader@example.com"
    converge(cluster, "API key created",
             lambda url: _generate_status(url, publisher, email) == "success")  # fmt: skip
    cluster.portal.call("POST", cluster.key_path(publisher) + "/disable")
    converge(cluster, "API key disabled",
             lambda url: _generate_status(url, publisher, email) == 401)  # fmt: skip


def test_a_sharing_grant_and_then_its_revocation_reach_every_operator(cluster: Cluster) -> None:
    sender = cluster.new_key("Shoe Shop", ["SHARER"])
    receiver = cluster.new_key("Bid Co", ["SHARER"])
    converge(cluster, "sharing keys created", lambda url: all(
        _sharing_keys(url, who) is not None for who in (sender, receiver)))  # fmt: skip
    shared = _own_key_ids(cluster.operators[0], sender)

    def reads(url: str) -> bool:
        return shared <= _readable_key_ids(url, receiver)

    def reads_none(url: str) -> bool:
        return not shared & _readable_key_ids(url, receiver)

    assert holds_everywhere(cluster, reads_none)  # no permission yet
    permissions = f"/api/v1/participants/{cluster.sites['Shoe Shop']}/sharing"
    bidder = cluster.sites["Bid Co"]
    assert cluster.portal.call("POST", permissions, {"add_sites": [bidder]})["changed"]
    converge(cluster, "sharing granted", reads)
    assert cluster.portal.call("POST", permissions, {"remove_sites": [bidder]})["changed"]
    converge(cluster, "sharing revoked", reads_none)


def test_an_opt_out_on_the_portal_page_reaches_every_operator(cluster: Cluster) -> None:
    publisher = cluster.new_key("News", ["GENERATOR"])
    email = "leaving@example.com"
    converge(cluster, "API key created",
             lambda url: _generate_status(url, publisher, email) == "success")  # fmt: skip
    _consumer_page_optout(cluster.portal.url, email)  # through nginx, as a browser would
    converge(cluster, "opt-out recorded",
             lambda url: _generate_status(url, publisher, email) == "optout")  # fmt: skip
    found = cluster.portal.call("POST", "/api/v1/platform/optout/lookup",
                                {"identity_type": "email", "identity": email})  # fmt: skip
    assert found["opted_out"]
    assert _generate_status(cluster.front, publisher, "staying@example.com") == "success"


def test_the_portal_behind_nginx_links_to_the_address_people_use(cluster: Cluster) -> None:
    """Without UID2_PORTAL_PUBLIC_URL, one-time links are built from the Host nginx passes on
    (and the scheme from X-Forwarded-Proto, which plain HTTP here cannot tell apart)."""
    team = f"/api/v1/participants/{cluster.sites['News']}/team"
    invited = cluster.portal.call("POST", team, {"email": "ops@news.example", "role": "admin"},
                                  expect=201)  # fmt: skip
    link = urllib.parse.urlsplit(invited["invite_link"])
    origin = f"{link.scheme}://{link.netloc}"  # compared alone: the path holds the secret
    assert origin == cluster.portal.url

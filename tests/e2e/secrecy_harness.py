"""The harness of test_log_secrecy_e2e.py: `uid2` commands and servers started through
verbose_uid2.py with everything they write kept in one folder of logs, an opt-out webhook
receiver, and the portal driven as a script and as a browser. Every credential these see goes
into the run's :class:`~secret_search.SecretBag`."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from secrets import token_urlsafe
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from operator_server import eventually
from secret_search import SecretBag

LAUNCHER = Path(__file__).with_name("verbose_uid2.py")
WAIT_S = 20.0


@dataclass(frozen=True)
class Key:
    site_id: int
    key: str = field(repr=False)
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Command:
    """`uid2 ARGS --json`; its standard output is a log unless it ``prints_secret``."""

    args: tuple[str, ...]
    stdin: str | None = None
    prints_secret: bool = False

    @property
    def title(self) -> str:
        return " ".join(self.args[:2])


@dataclass
class Run:
    """One UID2_HOME, the processes started on it and the files they wrote."""

    root: Path
    env: dict[str, str] = field(repr=False)
    secrets: SecretBag = field(default_factory=SecretBag)
    servers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)
    commands: int = 0

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def secret_outputs(self) -> Path:
        return self.root / "secret-outputs"

    def cli(self, *commands: Command) -> list[Any]:
        """Runs ``commands`` side by side (none depends on another); their JSON outputs."""
        started = [self._spawn(command) for command in commands]
        try:
            for _, process, _ in started:
                process.wait(timeout=60)
        finally:
            for _, process, _ in started:
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=10)
        return [self._outcome(*spawned) for spawned in started]

    def _spawn(self, command: Command) -> tuple[Command, subprocess.Popen[bytes], Path]:
        self.commands += 1
        name = f"cli-{self.commands:02d}-{command.title.replace(' ', '-')}"
        folder = self.secret_outputs if command.prints_secret else self.logs
        out_path, err_path = folder / f"{name}.out", self.logs / f"{name}.err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, str(LAUNCHER), *command.args, "--json"], env=self.env,
                stdin=subprocess.DEVNULL if command.stdin is None else subprocess.PIPE,
                stdout=out, stderr=err,
            )  # fmt: skip
        if command.stdin is not None:
            assert process.stdin is not None
            process.stdin.write(command.stdin.encode())
            process.stdin.close()
        return command, process, out_path

    def _outcome(self, command: Command, process: subprocess.Popen[bytes], out: Path) -> Any:
        # its stderr is not shown: a failure message must not be able to carry a secret
        failed = f"uid2 {command.title} failed: see {out.with_suffix('.err').name}"
        assert process.returncode == 0, failed
        return json.loads(out.read_text())

    def start(self, name: str, args: list[str], **env: str) -> None:
        full_env = {**self.env, "UID2_E2E_ACCESS_LOG": str(self.logs / f"{name}.access.log"), **env}
        with (self.logs / f"{name}.out").open("wb") as out, \
                (self.logs / f"{name}.err").open("wb") as err:  # fmt: skip
            self.servers[name] = subprocess.Popen(
                [sys.executable, str(LAUNCHER), *args], env=full_env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err,
            )  # fmt: skip

    def wait_healthy(self, name: str, path: str) -> None:
        process, url = self.servers[name], self.urls[name] + path

        def healthy() -> bool:
            assert process.poll() is None, f"{name} exited: see {name}.err"
            try:
                return httpx.get(url, timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(healthy, timeout=WAIT_S)

    def stop_servers(self) -> None:
        for process in self.servers.values():
            if process.poll() is None:
                process.terminate()
        for process in self.servers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def captured(self) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in sorted(self.logs.iterdir())}


# --- the webhook's receiver -------------------------------------------------------------------


class OptOutInbox(ThreadingHTTPServer):
    """A DSP's opt-out endpoint on 127.0.0.1: keeps the raw UID2 of every call but the first,
    which it refuses (so the worker's retry is logged too). Its URL carries a credential."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _InboxHandler)
        self.credential = token_urlsafe(24)
        self.raw_uids: set[str] = set()
        self.calls = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def template(self) -> str:
        port = self.server_address[1]
        query = f"id=${{ADVERTISING_ID}}&ts=${{OPTOUT_EPOCH}}&key={self.credential}"
        return f"http://127.0.0.1:{port}/optout?{query}"

    def received(self) -> set[str]:
        with self.lock:
            return set(self.raw_uids)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.thread.join(timeout=5)


class _InboxHandler(BaseHTTPRequestHandler):
    server: OptOutInbox

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        ids = query.get("id", []) if query.get("key") == [self.server.credential] else []
        with self.server.lock:
            self.server.calls += 1
            refused = self.server.calls == 1
            if not refused:
                self.server.raw_uids.update(ids)
        self.send_response(503 if refused else 200 if ids else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's own receiver: not a log of the system under test


# --- the portal -------------------------------------------------------------------------------


class Portal:
    """The portal over plain HTTP, as a script and as a browser; cookies are Secure, so they
    are sent by hand. Every credential it sees goes into the run's secrets."""

    def __init__(self, run: Run) -> None:
        self.run, self.url = run, run.urls["portal"]
        self.headers: dict[str, str] = {}

    def sign_in(self, email: str, password: str) -> None:
        answer = httpx.post(f"{self.url}/api/v1/session", json={"email": email,
                                                                 "password": password})  # fmt: skip
        assert answer.status_code == 200, answer.status_code
        cookie, csrf = answer.cookies["uid2_portal_session"], answer.json()["csrf_token"]
        self.run.secrets.add("portal session cookie", cookie)
        self.run.secrets.add("CSRF token", csrf)
        self.headers = {"Cookie": f"uid2_portal_session={cookie}", "X-CSRF-Token": csrf}

    def call(self, method: str, path: str, body: object = None, expect: int = 200) -> Any:
        answer = httpx.request(method, self.url + path, json=body, headers=self.headers)
        assert answer.status_code == expect, (method, path, answer.status_code)
        return answer.json() if answer.content else None

    def post_form(self, page: str, fields: dict[str, str]) -> httpx.Response:
        """GET ``page``, then POST ``fields`` back to it with the form's double-submit CSRF
        token, as a browser would."""
        csrf = hidden(httpx.get(self.url + page).text, "csrf_token")
        self.run.secrets.add("CSRF token", csrf)
        return httpx.post(self.url + page, data={"csrf_token": csrf, **fields},
                          headers={"Cookie": f"uid2_portal_csrf={csrf}"})  # fmt: skip

    def set_password(self, link: str, password: str) -> None:
        token = urlsplit(link).path.rsplit("/", 1)[1]
        self.run.secrets.add("one-time link token", token)
        self.run.secrets.add("portal password", password)
        done = self.post_form(f"/set-password/{token}", {"password": password,
                                                         "password_again": password})  # fmt: skip
        assert done.status_code == 303, done.status_code

    def browser_sign_in(self, email: str, password: str) -> None:
        done = self.post_form("/login", {"email": email, "password": password, "next": "/"})
        assert done.status_code == 303, done.status_code
        self.run.secrets.add("portal session cookie", done.cookies["uid2_portal_session"])

    def consumer_opt_out(self, email: str) -> None:
        check = self.post_form("/optout", {"identity_type": "email", "identity": email})
        assert check.status_code == 200, check.status_code
        fields = {n: hidden(check.text, n) for n in ("identity_type", "identity", "confirmation")}
        self.run.secrets.add("opt-out confirmation token", fields["confirmation"])
        csrf = hidden(check.text, "csrf_token")
        done = httpx.post(self.url + "/optout/confirm", data={"csrf_token": csrf, **fields},
                          headers={"Cookie": f"uid2_portal_csrf={csrf}"})  # fmt: skip
        assert done.status_code == 200, done.status_code


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no hidden field {name}"
    return html.unescape(found.group(1))

"""A real portal for browser tests: a store made with the `uid2` CLI in a temporary UID2_HOME,
served by a `uid2 serve portal --dev` subprocess on a free 127.0.0.1 port, driven by Debian's
Chromium through Playwright (no browser is downloaded)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = f"{CHROMIUM} is missing: install Debian's chromium package (CI does)"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
UID2 = str(Path(sys.executable).parent / "uid2")

ADMIN_EMAIL = "root@example.com"
PASSWORD = "correct horse battery staple"
# Seeded participants: name -> types (each created with `uid2 participant create`).
SEEDED: dict[str, tuple[str, ...]] = {
    "Shoe Shop": ("advertiser",),
    "Bid Co": ("dsp",),
    "News Daily": ("publisher",),
    "Data Mart": ("data_provider",),
    "Sneaker Hub": ("advertiser",),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PortalStore:
    """A control plane in ``home``; ``sites`` maps the seeded names to their site ids."""

    home: Path
    env: dict[str, str]
    sites: dict[str, int]


def uid2(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, object]:
    out = subprocess.run(
        [UID2, *args, "--json"], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )
    if out.returncode != 0:
        raise AssertionError(f"uid2 {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    data: dict[str, object] = json.loads(out.stdout)
    return data


def seed_store(home: Path) -> PortalStore:
    env = {**os.environ, "UID2_HOME": str(home)}
    for name in list(env):  # only UID2_HOME locates this store (and its KEK file)
        if name.startswith("UID2_") and name != "UID2_HOME":
            del env[name]
    uid2(env, "init", "--buckets", "16")
    uid2(env, "user", "create", ADMIN_EMAIL, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    sites = {}
    for name, types in SEEDED.items():
        type_args = [arg for t in types for arg in ("--type", t)]
        sites[name] = int(str(uid2(env, "participant", "create", name, *type_args)["site_id"]))
    return PortalStore(home, env, sites)


@contextmanager
def serve_portal(store: PortalStore) -> Iterator[str]:
    """Runs `uid2 serve portal --dev` on a free loopback port; yields its base URL.

    Plain http://127.0.0.1 with Secure cookies: Chromium treats loopback as a secure context
    and keeps Secure cookies there, so --insecure-cookies is not needed.
    """
    port = free_port()
    log = store.home / "portal.log"
    # Every test signs in from 127.0.0.1: lift the per-address limit (20 sign-in and link
    # attempts a minute), which these tests do not check, so that more tests cannot trip it.
    env = {**store.env, "UID2_PORTAL_LOGIN_ATTEMPTS_PER_MINUTE": "1000"}
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [UID2, "serve", "portal", "--host", "127.0.0.1", "--port", str(port), "--dev"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the portal exited:\n{log.read_text()}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"the portal did not answer /healthz within 30 s:\n{log.read_text()}")


def accept_dialogs(page: Page) -> None:
    """Forms with data-confirm ask through window.confirm (static/portal.js): say yes."""
    page.on("dialog", lambda dialog: dialog.accept())


def sign_in(page: Page, email: str = ADMIN_EMAIL, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

"""Looking for secrets in captured log bytes, in every form a log line could carry them, and
reporting what was found by kind, form and file only: never the value.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

MIN_LENGTH = 8  # shorter values would match log text by chance


@dataclass(frozen=True)
class Secret:
    kind: str  # what it is ("client secret", "raw UID2", ...): all a report ever names
    value: str | bytes = field(repr=False)


@dataclass(frozen=True)
class Finding:
    kind: str
    form: str
    log: str

    def __str__(self) -> str:
        return f"a {self.kind} ({self.form}) in {self.log}"


class SecretBag:
    """The secrets a run produced, each kept once."""

    def __init__(self) -> None:
        self._secrets: dict[str | bytes, Secret] = {}

    def add(self, kind: str, *values: str | bytes | None) -> None:
        for value in values:
            if value is None or value in self._secrets:
                continue
            if len(value) < MIN_LENGTH:
                raise ValueError(f"a {kind} shorter than {MIN_LENGTH} cannot be searched for")
            self._secrets[value] = Secret(kind, value)

    def add_base64(self, kind: str, *values: str | None) -> None:
        """Base64 text, and the bytes it stands for (decoded, they would be logged differently)."""
        for value in values:
            self.add(kind, value)
            if value is not None:
                self.add(f"{kind} (decoded)", _b64decode(value))

    def kinds(self) -> set[str]:
        return {s.kind for s in self._secrets.values()}

    def __iter__(self) -> Iterator[Secret]:
        return iter(self._secrets.values())

    def __len__(self) -> int:
        return len(self._secrets)


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)


def _text_forms(text: str) -> dict[str, str]:
    escaped = json.dumps(text)[1:-1]
    return {
        "as is": text,
        "URL-encoded": quote(text, safe=""),
        "URL-encoded, path": quote(text),
        "form-encoded": quote_plus(text),
        "JSON-escaped": escaped,
        "JSON-escaped with \\/": escaped.replace("/", "\\/"),
        "HTML-escaped": html.escape(text),
    }


def _bytes_forms(data: bytes) -> dict[str, str]:
    standard = base64.b64encode(data).decode()
    return {
        "base64": standard,
        "base64 URL-encoded": quote(standard, safe=""),
        "base64url": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "hex": data.hex(),
        "bytes repr": repr(data)[2:-1],
    }


def forms(secret: Secret) -> dict[str, bytes]:
    """Every distinct byte string the secret could be logged as, by the name of its form."""
    value = secret.value
    named = _bytes_forms(value) if isinstance(value, bytes) else _text_forms(value)
    found: dict[bytes, str] = {value: "raw bytes"} if isinstance(value, bytes) else {}
    for name, text in named.items():
        found.setdefault(text.encode(), name)
    return {name: data for data, name in found.items() if len(data) >= MIN_LENGTH}


def search(secrets: Iterable[Secret], logs: Mapping[str, bytes]) -> list[Finding]:
    """Every (secret kind, form, log) where a secret occurs; one finding per triple."""
    findings: set[Finding] = set()
    for secret in secrets:
        for form, needle in forms(secret).items():
            for name, text in logs.items():
                if needle in text:
                    findings.add(Finding(secret.kind, form, name))
    return sorted(findings, key=lambda f: (f.log, f.kind, f.form))

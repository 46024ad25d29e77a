"""Opt-out webhooks: configuration and delivery status (issue 8; being written)."""

from __future__ import annotations

from starlette.routing import Route


def webhook_routes() -> list[Route]:
    return []

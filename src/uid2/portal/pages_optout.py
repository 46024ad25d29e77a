"""The consumer opt-out page (issue 8; being written)."""

from __future__ import annotations

from starlette.routing import Route


def optout_routes() -> list[Route]:
    return []

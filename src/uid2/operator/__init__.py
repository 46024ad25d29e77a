"""The operator: the UID2/EUID participant API (operator.md §1) over an in-memory snapshot.

Layers, outermost first::

    app.py          create_app(settings, source, ...): Starlette app, lifespan, routes table
    middleware.py   CORS, trace-id echo, request counting (pure ASGI)
    routes.py       thin handlers: auth + roles, envelope, one service call, sealed answer
    http.py         raw-ASGI endpoint adapter, bounded body reads, envelope opening
    services/       pure use cases over a Snapshot (tokens, cstg, identity, keys)
    snapshot.py     immutable indexed view of the control plane (+ the shared opt-out index)
    holder.py       SnapshotSource protocol, in-memory source, polling SnapshotHolder
    store_source.py the source over uid2.store, and the logout opt-out sink
    settings.py     Settings.from_env (UID2_OPERATOR_*)

A request never touches the database: every handler reads ``holder.current`` once.
"""

from __future__ import annotations

from uid2.operator.app import create_app as create_app
from uid2.operator.app import create_app_from_env as create_app_from_env
from uid2.operator.settings import Settings as Settings

__all__ = ["Settings", "create_app", "create_app_from_env"]

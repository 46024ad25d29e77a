"""Operator use cases: pure functions over a :class:`~uid2.operator.snapshot.Snapshot`.

Each takes the snapshot, the settings, the parsed request, ``now_ms`` and a source of random
bytes, and returns the JSON to send or raises :class:`~uid2.operator.errors.OperatorError`.
"""

from __future__ import annotations

import pytest
from fake_operator import NO_WAIT, FakeOperator


@pytest.fixture
def operator() -> FakeOperator:
    return FakeOperator()


@pytest.fixture
def client_args(operator: FakeOperator) -> dict[str, object]:
    """Keyword arguments that point a client at the fake operator."""
    return {"transport": operator.transport(), "http_settings": NO_WAIT}

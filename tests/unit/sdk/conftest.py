from __future__ import annotations

import pytest
from fake_operator import API_KEY, SECRET_B64, FakeOperator

from uid2 import HttpSettings, RetryPolicy

BASE_URL = "https://operator.test"
NO_WAIT = HttpSettings(retry=RetryPolicy(retry_intervals=(0.0, 0.0, 0.0), jitter=0.0))


@pytest.fixture
def operator() -> FakeOperator:
    return FakeOperator()


@pytest.fixture
def client_args(operator: FakeOperator) -> dict[str, object]:
    """Keyword arguments that point a client at the fake operator."""
    return {"transport": operator.transport(), "http_settings": NO_WAIT}


CREDENTIALS = (BASE_URL, API_KEY, SECRET_B64)

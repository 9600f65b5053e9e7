"""API test fixtures; the API clients (``bearer``, ``api``, ``anonymous``) are shared from tests/conftest.py."""

import pytest


@pytest.fixture
def schema(anonymous) -> dict:
    """The OpenAPI schema, as a client downloads it."""
    response = anonymous.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()

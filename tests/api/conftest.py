"""API test fixtures: clients that authenticate the way integrations do, over real HTTP through Django's stack."""

import pytest
from rest_framework.test import APIClient

from api.models import ApiToken, TokenScope


@pytest.fixture
def bearer():
    """Make a client authenticated with a fresh token: ``bearer(user, scope="read_write")``."""

    def make(user, scope: str = TokenScope.READ_WRITE, days: int = 30) -> APIClient:
        _, secret = ApiToken.issue(user=user, name="test integration", scope=scope, days=days)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.token_secret = secret
        return client

    return make


@pytest.fixture
def api(bearer, podiatrist):
    """A read-write client for a podiatrist of ``clinic``."""
    return bearer(podiatrist)


@pytest.fixture
def anonymous():
    return APIClient()

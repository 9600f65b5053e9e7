"""Fixtures shared by the whole suite."""

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from rest_framework.test import APIClient

from api.models import ApiToken, TokenScope
from cases.choices import Role

from .factories import ClinicFactory, MembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def fresh_cache():
    """Rate-limit counters (and anything else cached) never leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clinic(db):
    return ClinicFactory(name="Northside Foot Clinic", slug="northside")


@pytest.fixture
def other_clinic(db):
    return ClinicFactory(name="Southside Podiatry", slug="southside")


def _member(clinic, role, username):
    user = UserFactory(username=username)
    MembershipFactory(user=user, clinic=clinic, role=role)
    return user


@pytest.fixture
def podiatrist(clinic):
    return _member(clinic, Role.PODIATRIST, "podiatrist")


@pytest.fixture
def clinic_admin(clinic):
    return _member(clinic, Role.CLINIC_ADMIN, "clinic-admin")


@pytest.fixture
def reviewer(clinic):
    return _member(clinic, Role.REVIEWER, "reviewer")


@pytest.fixture
def other_podiatrist(other_clinic):
    return _member(other_clinic, Role.PODIATRIST, "other-podiatrist")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.fixture
def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://… (make test-postgres)")
    return True


@pytest.fixture
def as_podiatrist(client, podiatrist):
    """The test client, signed in to the admin as ``podiatrist``."""
    client.force_login(podiatrist)
    return client


# API clients that authenticate the way integrations do, over real HTTP through Django's stack.


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


@pytest.fixture
def database_down(monkeypatch):
    """Every attempt to reach the database fails the way a refused connection does."""

    def refuse(self):
        raise OperationalError("connection refused (simulated outage)")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)

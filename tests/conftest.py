"""Fixtures shared by the whole suite."""

import pytest
from django.core.cache import cache
from django.db import connection

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

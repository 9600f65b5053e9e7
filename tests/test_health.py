"""The probes: /healthz answers from the process alone, /readyz only while the database answers."""

import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_without_a_single_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_stays_ok_while_the_database_is_down(client, database_down):
    response = client.get("/healthz")
    assert response.status_code == 200


def test_readyz_answers_ok_after_one_trivial_query(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_answers_503_problem_details_while_the_database_is_down(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"].isdigit()
    body = response.json()
    assert body["status"] == 503
    assert body["title"] == "Service Unavailable"
    assert body["checks"] == {"database": "unreachable"}


def test_readyz_recovers_when_the_database_returns(client, monkeypatch):
    def refuse(self):
        raise OperationalError("connection refused (simulated outage)")

    with monkeypatch.context() as outage:
        outage.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)
        assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_never_cached(client, path):
    cache_control = client.get(path)["Cache-Control"]
    assert "no-store" in cache_control


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_public(path):
    response = Client().get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response  # no session is started for a probe


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_not_throttled_like_anonymous_api_calls(client, path):
    anonymous_budget = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["anon"].split("/")[0])
    statuses = {client.get(path).status_code for _ in range(anonymous_budget + 5)}
    assert statuses == {200}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_refuse_writes(client, path):
    assert client.post(path).status_code == 405


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_over_plain_http_are_not_redirected_to_https(settings, path):
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get("/admin/login/").status_code == 301  # the rest of the site is redirected
    assert Client().get(path).status_code == 200

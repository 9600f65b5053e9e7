"""Rate limits answer 429 problem details with Retry-After, per token and per client address."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"caller": "3/min", "anon": "2/min", "auth_failure": "3/min"},
    }


def test_a_token_over_its_rate_gets_429_problem_details_with_retry_after(low_rates, api):
    statuses = [api.get("/api/v1/patients/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = api.get("/api/v1/patients/")
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 429
    assert int(response["Retry-After"]) > 0


def test_each_token_has_its_own_budget(low_rates, bearer, podiatrist):
    first, second = bearer(podiatrist), bearer(podiatrist)
    for _ in range(3):
        first.get("/api/v1/patients/")

    assert first.get("/api/v1/patients/").status_code == 429
    assert second.get("/api/v1/patients/").status_code == 200


def test_anonymous_readers_of_the_public_schema_are_limited_by_address(low_rates, anonymous):
    statuses = [anonymous.get("/api/schema/", REMOTE_ADDR="203.0.113.7").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert anonymous.get("/api/schema/", REMOTE_ADDR="203.0.113.8").status_code == 200


def test_token_guessing_is_refused_per_address_before_the_token_is_looked_up(low_rates, anonymous, api):
    guesses = [
        anonymous.get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer ntk_guess{n}", REMOTE_ADDR="198.51.100.9")
        for n in range(4)
    ]

    assert [r.status_code for r in guesses] == [401, 401, 401, 429]
    assert guesses[-1]["Content-Type"] == "application/problem+json"
    # Even the right token is refused from that address until the window passes; others are unaffected.
    assert (
        anonymous.get(
            "/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer {api.token_secret}", REMOTE_ADDR="198.51.100.9"
        ).status_code
        == 429
    )
    assert api.get("/api/v1/patients/", REMOTE_ADDR="198.51.100.10").status_code == 200

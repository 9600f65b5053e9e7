"""Admin sign-in hardening: lockout after repeated failures (django-axes) and automatic logoff when idle."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.conf import settings as project_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from api.models import ApiToken, TokenScope

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
GUESSER = "203.0.113.50"
CLINIC_ADDRESS = "198.51.100.20"


@pytest.fixture
def lockout_on(settings):
    """django-axes as production runs it (tests/settings.py switches it off for the test client's login())."""
    settings.AXES_ENABLED = True
    return settings


def sign_in(client: Client, username: str, password: str, address: str):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def fail_until_locked(client: Client, username: str, address: str) -> list[int]:
    return [
        sign_in(client, username, "wrong password", address).status_code
        for _ in range(project_settings.AXES_FAILURE_LIMIT)
    ]


def test_failure_limit_and_cool_off_default_to_five_attempts_and_fifteen_minutes():
    assert project_settings.AXES_FAILURE_LIMIT == 5
    assert datetime.timedelta(hours=project_settings.AXES_COOLOFF_TIME) == datetime.timedelta(minutes=15)
    assert project_settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_fifth_failed_sign_in_locks_the_account_from_that_address_even_for_the_right_password(lockout_on, clinic_admin):
    client = Client()
    statuses = fail_until_locked(client, "clinic-admin", GUESSER)

    # The first four are the ordinary form with its error; the fifth failure already answers the lockout.
    assert statuses == [200, 200, 200, 200, 429]
    locked = sign_in(client, "clinic-admin", PASSWORD, GUESSER)
    assert locked.status_code == 429
    assert "Sign-in temporarily locked" in locked.text
    assert "5 failed sign-in attempts" in locked.text
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_before_the_limit_shows_the_usual_form_error(lockout_on, clinic_admin):
    response = sign_in(Client(), "clinic-admin", "wrong password", GUESSER)

    assert response.status_code == 200
    assert "Please enter the correct username and password" in response.text


def test_the_same_clinician_from_the_clinic_is_not_locked_out_by_someone_elses_guessing(lockout_on, clinic_admin):
    fail_until_locked(Client(), "clinic-admin", GUESSER)

    response = sign_in(Client(), "clinic-admin", PASSWORD, CLINIC_ADDRESS)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_after_the_cool_off_the_right_password_signs_in_again(lockout_on, clinic_admin):
    client = Client()
    fail_until_locked(client, "clinic-admin", GUESSER)
    assert sign_in(client, "clinic-admin", PASSWORD, GUESSER).status_code == 429

    cool_off = datetime.timedelta(hours=project_settings.AXES_COOLOFF_TIME)
    AccessAttempt.objects.update(attempt_time=timezone.now() - cool_off - datetime.timedelta(seconds=1))
    response = sign_in(client, "clinic-admin", PASSWORD, GUESSER)

    assert response.status_code == 302
    assert client.get("/admin/", REMOTE_ADDR=GUESSER).status_code == 200


def test_a_successful_sign_in_resets_the_count_of_failures(lockout_on, clinic_admin):
    client = Client()
    for _ in range(project_settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "clinic-admin", "wrong password", GUESSER)
    assert sign_in(client, "clinic-admin", PASSWORD, GUESSER).status_code == 302

    client.logout()
    later = [sign_in(client, "clinic-admin", "wrong password", GUESSER).status_code for _ in range(2)]

    assert later == [200, 200]


def test_stored_attempts_never_keep_the_password(lockout_on, clinic_admin):
    sign_in(Client(), "clinic-admin", "hunter2-the-guess", GUESSER)

    attempt = AccessAttempt.objects.get()
    assert attempt.username == "clinic-admin"
    assert "hunter2-the-guess" not in attempt.post_data


def test_api_bearer_tokens_are_not_affected_by_an_admin_lockout(lockout_on, clinic_admin):
    fail_until_locked(Client(), "clinic-admin", GUESSER)
    _, secret = ApiToken.issue(user=clinic_admin, name="EHR bridge", scope=TokenScope.READ, days=30)

    response = Client().get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Bearer {secret}", REMOTE_ADDR=GUESSER)

    assert response.status_code == 200


# Automatic logoff after inactivity: the session's expiry slides forward with every request.


def test_idle_limit_defaults_to_fifteen_minutes_and_the_cookie_dies_with_the_browser():
    assert project_settings.SESSION_COOKIE_AGE == 15 * 60
    assert project_settings.SESSION_SAVE_EVERY_REQUEST is True
    assert project_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_a_session_idle_past_the_limit_is_signed_out(client, clinic_admin):
    client.force_login(clinic_admin)
    assert client.get("/admin/").status_code == 200

    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_active_session_is_extended_by_each_request(client, clinic_admin):
    client.force_login(clinic_admin)
    almost_idle = timezone.now() + datetime.timedelta(seconds=30)
    Session.objects.update(expire_date=almost_idle)

    assert client.get("/admin/").status_code == 200

    expiry = Session.objects.get().expire_date
    expected = timezone.now() + datetime.timedelta(seconds=project_settings.SESSION_COOKIE_AGE)
    assert abs(expiry - expected) < datetime.timedelta(seconds=30)


def test_the_session_cookie_has_no_lifetime_of_its_own(client, clinic_admin):
    client.force_login(clinic_admin)

    cookie = client.get("/admin/").cookies[project_settings.SESSION_COOKIE_NAME]

    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"

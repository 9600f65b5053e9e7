"""Issuing and revoking API tokens: the create_api_token command, and the admin for superusers and clinic admins."""

from __future__ import annotations

import datetime
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken, TokenScope, token_digest

from .test_errors import assert_problem, patient_body

TOKEN = re.compile(r"ntk_[A-Za-z0-9_-]{20,}")
PASSWORD = "correct horse battery staple"
TOKENS_ADMIN = "/admin/api/apitoken/"


def bearer_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def create_api_token(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue()


# The management command


def test_command_prints_the_token_once_and_it_authenticates(podiatrist):
    output = create_api_token("podiatrist", "--name", "EHR bridge", "--scope", "read_write", "--days", "30")

    secrets = TOKEN.findall(output)
    assert len(secrets) == 1
    token = ApiToken.objects.get()
    assert token.digest == token_digest(secrets[0])
    assert (token.user, token.name, token.scope) == (podiatrist, "EHR bridge", TokenScope.READ_WRITE)
    lifetime = token.expires_at - timezone.now()
    assert datetime.timedelta(days=29, hours=23) < lifetime <= datetime.timedelta(days=30)
    client = bearer_client(secrets[0])
    assert client.get("/api/v1/patients/").status_code == 200
    assert client.post("/api/v1/patients/", patient_body(), format="json").status_code == 201


def test_a_token_issued_by_the_command_is_audited_without_its_secret(podiatrist):
    from cases.audit import AuditEvent

    secret = TOKEN.search(create_api_token("podiatrist", "--name", "EHR bridge")).group()

    [event] = AuditEvent.objects.filter(object_type="api.apitoken")
    assert (event.action, event.object_id, event.actor_label) == (
        "create",
        str(ApiToken.objects.get().pk),
        "command:create_api_token",
    )
    assert secret not in str(vars(event))


def test_command_issues_a_read_only_token_unless_told_otherwise(podiatrist):
    secret = TOKEN.search(create_api_token("podiatrist", "--name", "Outcome dashboard")).group()
    client = bearer_client(secret)

    assert ApiToken.objects.get().scope == TokenScope.READ
    assert client.get("/api/v1/patients/").status_code == 200
    assert assert_problem(client.post("/api/v1/patients/", patient_body(), format="json"), 403)["detail"] == (
        "This token is read-only."
    )


def test_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        create_api_token("ghost", "--name", "EHR bridge")
    assert not ApiToken.objects.exists()


def test_command_refuses_an_inactive_user(podiatrist):
    podiatrist.is_active = False
    podiatrist.save(update_fields=["is_active"])

    with pytest.raises(CommandError, match="User 'podiatrist' is inactive"):
        create_api_token("podiatrist", "--name", "EHR bridge")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("days", ["0", "-5", "367", "400"])
def test_command_refuses_a_lifetime_outside_one_to_366_days(podiatrist, days):
    with pytest.raises(CommandError, match=f"--days {days}: a token must expire within 1 to 366 days"):
        create_api_token("podiatrist", "--name", "EHR bridge", "--days", days)
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "EHR bridge", "--scope", "admin"], "invalid choice: 'admin'"),
        (["--name", "EHR bridge", "--days", "thirty"], "invalid int value: 'thirty'"),
        ([], "the following arguments are required: --name"),
        (["--name", ""], "This field cannot be blank"),
    ],
)
def test_command_refuses_bad_arguments_with_a_clear_message(podiatrist, args, message):
    with pytest.raises(CommandError, match=message):
        create_api_token("podiatrist", *args)
    assert not ApiToken.objects.exists()


# The admin


@pytest.fixture
def root_admin(superuser) -> Client:
    client = Client()
    assert client.login(username="root", password=PASSWORD)
    return client


def _add_form(user, *, expires_at: datetime.datetime, scope: str = TokenScope.READ_WRITE) -> dict:
    local = timezone.localtime(expires_at)
    return {
        "user": user.pk,
        "name": "Referral portal",
        "scope": scope,
        "expires_at_0": local.strftime("%d/%m/%Y"),
        "expires_at_1": local.strftime("%H:%M:%S"),
        "_save": "Save",
    }


def test_admin_add_issues_a_token_and_shows_it_once(root_admin, podiatrist):
    response = root_admin.post(
        f"{TOKENS_ADMIN}add/",
        _add_form(podiatrist, expires_at=timezone.now() + datetime.timedelta(days=30)),
        follow=True,
    )

    assert response.status_code == 200
    shown = TOKEN.findall(response.content.decode())
    assert len(set(shown)) == 1
    token = ApiToken.objects.get()
    assert token.digest == token_digest(shown[0])
    assert (token.user, token.scope) == (podiatrist, TokenScope.READ_WRITE)
    assert bearer_client(shown[0]).get("/api/v1/patients/").status_code == 200
    for page in (TOKENS_ADMIN, f"{TOKENS_ADMIN}{token.pk}/change/"):
        assert shown[0] not in root_admin.get(page).content.decode()


def test_admin_revoke_action_revokes_and_the_token_then_answers_401(root_admin, bearer, podiatrist):
    client = bearer(podiatrist)
    kept = bearer(podiatrist)
    token = ApiToken.objects.get(digest=token_digest(client.token_secret))

    response = root_admin.post(TOKENS_ADMIN, {"action": "revoke", "_selected_action": [token.pk]}, follow=True)

    assert "Revoked 1 token(s)." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert assert_problem(client.get("/api/v1/patients/"), 401)["detail"] == "This token has been revoked."
    assert kept.get("/api/v1/patients/").status_code == 200


def test_admin_revoke_action_leaves_an_already_revoked_token_as_it_was(root_admin, bearer, podiatrist):
    client = bearer(podiatrist)
    token = ApiToken.objects.get(digest=token_digest(client.token_secret))
    token.revoke()
    first_revoked_at = token.revoked_at

    response = root_admin.post(TOKENS_ADMIN, {"action": "revoke", "_selected_action": [token.pk]}, follow=True)

    assert "Revoked 0 token(s)." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at == first_revoked_at


@pytest.mark.parametrize("days", [-1, 400])
def test_admin_refuses_an_expiry_in_the_past_or_beyond_366_days(root_admin, podiatrist, days):
    form = _add_form(podiatrist, expires_at=timezone.now() + datetime.timedelta(days=days))

    response = root_admin.post(f"{TOKENS_ADMIN}add/", form)

    assert response.status_code == 200
    assert "1 to 366 days" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_staff_who_are_not_superusers_cannot_see_the_token_admin(podiatrist, bearer):
    token = ApiToken.objects.get(digest=token_digest(bearer(podiatrist).token_secret))
    # Even holding every model permission on tokens does not open it: tokens are for superusers only.
    podiatrist.user_permissions.set(Permission.objects.filter(content_type__app_label="api"))
    client = Client()
    assert client.login(username="podiatrist", password=PASSWORD)

    assert client.get(TOKENS_ADMIN).status_code == 403
    assert client.get(f"{TOKENS_ADMIN}add/").status_code == 403
    assert client.get(f"{TOKENS_ADMIN}{token.pk}/change/").status_code == 403
    revoke = client.post(TOKENS_ADMIN, {"action": "revoke", "_selected_action": [token.pk]})
    assert revoke.status_code == 403
    assert TOKENS_ADMIN not in client.get("/admin/").content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None

"""A clinic admin manages their own clinics' staff: accounts, passwords, memberships and API tokens.

The rule (``selectors.staff_managed_by``): a clinic admin manages a user only if every clinic that user works
in is one they administer; never a superuser; and a clinic always keeps an active clinic admin.
"""

from __future__ import annotations

import datetime
import re
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken, TokenScope, token_digest
from cases import services
from cases.audit import AuditAction, AuditEvent
from cases.choices import Role
from cases.models import Membership
from cases.selectors import staff_managed_by

from ..factories import MembershipFactory, PatientFactory, UserFactory

User = get_user_model()
NEW_PASSWORD = "plantar fascia lantern 42"
TOKEN = re.compile(r"ntk_[A-Za-z0-9_-]{20,}")
NOT_FOUND = "/admin/"


def audited_writes():
    """The trail's write events (sign-ins and page views are recorded too, and are not what these tests are about)."""
    return AuditEvent.objects.filter(action__in=[AuditAction.CREATE, AuditAction.UPDATE, AuditAction.DELETE])


def user_url(name: str, *args) -> str:
    return reverse(f"admin:auth_user_{name}", args=args)


def _messages(response) -> str:
    return " ".join(str(message) for message in response.wsgi_request._messages)


@pytest.fixture
def as_clinic_admin(client, clinic_admin) -> Client:
    client.force_login(clinic_admin)
    return client


@pytest.fixture
def two_clinic_podiatrist(clinic, other_clinic):
    """A colleague who also works in a clinic the clinic admin does not administer."""
    user = UserFactory(username="shared-podiatrist")
    MembershipFactory(user=user, clinic=clinic, role=Role.PODIATRIST)
    MembershipFactory(user=user, clinic=other_clinic, role=Role.PODIATRIST)
    return user


def _add_body(clinic, **overrides) -> dict:
    return {
        "username": "new-podiatrist",
        "first_name": "Nadia",
        "last_name": "Okafor",
        "email": "nadia@clinic.test",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "clinic": clinic.pk,
        "role": Role.PODIATRIST,
        **overrides,
    }


def _token_body(user, **overrides) -> dict:
    expires = timezone.localtime(timezone.now() + datetime.timedelta(days=30))
    return {
        "user": user.pk,
        "name": "Referral portal",
        "scope": TokenScope.READ,
        "expires_at_0": expires.strftime("%d/%m/%Y"),
        "expires_at_1": expires.strftime("%H:%M:%S"),
        **overrides,
    }


# Adding a staff member


def test_clinic_admin_adds_a_podiatrist_who_signs_in_and_sees_only_that_clinic(
    as_clinic_admin, clinic, other_clinic, clinic_admin
):
    own_patient = PatientFactory(clinic=clinic)
    PatientFactory(clinic=other_clinic)

    response = as_clinic_admin.post(user_url("add"), _add_body(clinic, is_superuser="on", groups=["1"]))

    assert response.status_code == 302
    added = User.objects.get(username="new-podiatrist")
    assert (added.is_staff, added.is_superuser, added.get_full_name()) == (True, False, "Nadia Okafor")
    assert list(added.memberships.values_list("clinic_id", "role")) == [(clinic.pk, Role.PODIATRIST)]
    newcomer = Client()
    assert newcomer.login(username="new-podiatrist", password=NEW_PASSWORD)
    patients = newcomer.get(reverse("admin:cases_patient_changelist"))
    assert [patient.pk for patient in patients.context["cl"].result_list] == [own_patient.pk]
    events = AuditEvent.objects.filter(actor=clinic_admin, action=AuditAction.CREATE)
    assert sorted(events.values_list("object_type", "object_id", "clinic_id")) == [
        ("auth.user", str(added.pk), clinic.pk),
        ("cases.membership", str(added.memberships.get().pk), clinic.pk),
    ]


def test_adding_staff_offers_only_the_admins_clinics_and_no_privilege_fields(as_clinic_admin, clinic):
    form = as_clinic_admin.get(user_url("add")).context["adminform"].form

    assert list(form.fields["clinic"].queryset) == [clinic]
    assert not {"is_staff", "is_superuser", "groups", "user_permissions"} & set(form.fields)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password2": "another password entirely"}, "password2"),
        ({"password1": "short", "password2": "short"}, "password2"),
        ({"role": "superuser"}, "role"),
        ({"username": "podiatrist"}, "username"),
    ],
)
def test_adding_staff_with_bad_input_names_the_field_and_saves_nothing(
    as_clinic_admin, clinic, podiatrist, overrides, field
):
    before = User.objects.count()

    response = as_clinic_admin.post(user_url("add"), _add_body(clinic, **overrides))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert User.objects.count() == before
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE).exists()


def test_clinic_admin_cannot_add_staff_to_another_clinic(as_clinic_admin, other_clinic):
    response = as_clinic_admin.post(user_url("add"), _add_body(other_clinic))

    assert "clinic" in response.context["adminform"].form.errors
    assert not User.objects.filter(username="new-podiatrist").exists()


# Changing, deactivating and resetting a password


def test_clinic_admin_resets_a_colleagues_password_and_the_trail_never_holds_it(
    as_clinic_admin, podiatrist, clinic, clinic_admin
):
    response = as_clinic_admin.post(
        user_url("password_change", podiatrist.pk), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert (response.status_code, response.headers["Location"]) == (302, user_url("change", podiatrist.pk))
    assert Client().login(username="podiatrist", password=NEW_PASSWORD)
    event = AuditEvent.objects.get(actor=clinic_admin, action=AuditAction.UPDATE)
    assert (event.object_type, event.object_id, event.clinic_id) == (
        "auth.user.password",
        str(podiatrist.pk),
        clinic.pk,
    )
    stored = " ".join(str(value) for value in AuditEvent.objects.values_list(flat=False))
    assert NEW_PASSWORD not in stored


def test_a_weak_password_is_refused_and_nothing_changes(as_clinic_admin, podiatrist):
    hashed = podiatrist.password

    response = as_clinic_admin.post(user_url("password_change", podiatrist.pk), {"password1": "1", "password2": "1"})

    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    podiatrist.refresh_from_db()
    assert podiatrist.password == hashed
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE).exists()


def test_clinic_admin_changes_names_and_deactivates_instead_of_deleting(as_clinic_admin, podiatrist, clinic):
    page = as_clinic_admin.get(user_url("change", podiatrist.pk))
    form = page.context["adminform"].form
    assert set(form.fields) == {"password", "first_name", "last_name", "email", "is_active"}

    response = as_clinic_admin.post(
        user_url("change", podiatrist.pk),
        {"first_name": "Priya", "last_name": "Shah", "email": "priya@clinic.test", "is_superuser": "on"},
    )

    assert response.status_code == 302
    podiatrist.refresh_from_db()
    assert (podiatrist.get_full_name(), podiatrist.is_active, podiatrist.is_superuser) == ("Priya Shah", False, False)
    assert not Client().login(username="podiatrist", password="correct horse battery staple")
    assert as_clinic_admin.post(user_url("delete", podiatrist.pk), {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=podiatrist.pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.UPDATE)
    assert (event.object_type, event.object_id, event.clinic_id) == ("auth.user", str(podiatrist.pk), clinic.pk)


def test_staff_list_shows_roles_with_a_constant_number_of_queries(as_clinic_admin, clinic, other_podiatrist):
    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = as_clinic_admin.get(user_url("changelist"))
        assert response.status_code == 200
        return len(captured)

    MembershipFactory(clinic=clinic, role=Role.REVIEWER)
    few = queries_for_list()
    for _ in range(5):
        MembershipFactory(clinic=clinic, role=Role.PODIATRIST)
    listing = as_clinic_admin.get(user_url("changelist"))

    assert queries_for_list() == few
    shown = {user.username for user in listing.context["cl"].result_list}
    assert "clinic-admin" in shown and other_podiatrist.username not in shown and len(shown) == 7
    assert b"Podiatrist at Northside Foot Clinic" in listing.content


# Who is out of reach


@pytest.fixture
def out_of_reach(two_clinic_podiatrist, other_podiatrist, superuser, clinic):
    MembershipFactory(user=superuser, clinic=clinic, role=Role.PODIATRIST)
    return {"two clinics": two_clinic_podiatrist, "other clinic": other_podiatrist, "superuser": superuser}


@pytest.mark.parametrize("who", ["two clinics", "other clinic", "superuser"])
@pytest.mark.parametrize("page", ["change", "password_change", "history"])
def test_a_user_out_of_reach_answers_like_a_missing_one(as_clinic_admin, clinic_admin, out_of_reach, who, page):
    user = out_of_reach[who]
    hashed = user.password
    body = {"first_name": "Changed", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}

    for method in ("get", "post"):
        if page == "history" and method == "post":
            continue
        reached = getattr(as_clinic_admin, method)(user_url(page, user.pk), body)
        missing = getattr(as_clinic_admin, method)(user_url(page, 987_654), body)
        assert (reached.status_code, reached.headers.get("Location")) == (302, NOT_FOUND)
        assert (missing.status_code, missing.headers.get("Location")) == (302, NOT_FOUND)

    user.refresh_from_db()
    assert (user.first_name, user.password) != ("Changed", None) and user.password == hashed
    assert not AuditEvent.objects.filter(action=AuditAction.UPDATE).exists()
    assert user not in staff_managed_by(as_clinic_admin.get(NOT_FOUND).wsgi_request.user)


def test_tokens_and_memberships_cannot_be_given_to_a_user_out_of_reach(
    as_clinic_admin, out_of_reach, clinic, other_clinic
):
    for user in out_of_reach.values():
        token = as_clinic_admin.post(reverse("admin:api_apitoken_add"), _token_body(user))
        assert "user" in token.context["adminform"].form.errors
    add = as_clinic_admin.post(
        reverse("admin:cases_membership_add"),
        {"user": out_of_reach["other clinic"].pk, "clinic": clinic.pk, "role": Role.PODIATRIST},
    )
    assert "user" in add.context["adminform"].form.errors
    assert not ApiToken.objects.exists()
    assert not Membership.objects.filter(user=out_of_reach["other clinic"], clinic=clinic).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CREATE).exists()


def test_another_clinics_membership_and_token_answer_like_missing_ones(
    as_clinic_admin, other_podiatrist, bearer, clinic_admin
):
    membership = other_podiatrist.memberships.get()
    token = ApiToken.objects.get(digest=token_digest(bearer(other_podiatrist).token_secret))

    pages = [("cases_membership_change", membership.pk), ("cases_membership_delete", membership.pk)]
    for name, pk in [*pages, ("api_apitoken_change", token.pk)]:
        url, missing = reverse(f"admin:{name}", args=[pk]), reverse(f"admin:{name}", args=[987_654])
        for method in ("get", "post"):
            reached = getattr(as_clinic_admin, method)(url, {"role": Role.REVIEWER, "post": "yes"})
            gone = getattr(as_clinic_admin, method)(missing, {"role": Role.REVIEWER, "post": "yes"})
            assert (reached.status_code, reached.headers.get("Location")) == (
                gone.status_code,
                gone.headers.get("Location"),
            )
    revoke = as_clinic_admin.post(
        reverse("admin:api_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert revoke.status_code == 302
    membership.refresh_from_db()
    token.refresh_from_db()
    assert (membership.role, token.revoked_at) == (Role.PODIATRIST, None)
    assert not audited_writes().exists()


# Memberships and the last clinic admin


def test_clinic_admin_adds_changes_and_ends_memberships_each_audited(clinic_admin, podiatrist, clinic, other_clinic):
    MembershipFactory(user=clinic_admin, clinic=other_clinic, role=Role.CLINIC_ADMIN)
    client = Client()
    client.force_login(clinic_admin)

    added = client.post(
        reverse("admin:cases_membership_add"), {"user": podiatrist.pk, "clinic": other_clinic.pk, "role": Role.REVIEWER}
    )
    there = Membership.objects.get(user=podiatrist, clinic=other_clinic)
    promoted = client.post(reverse("admin:cases_membership_change", args=[there.pk]), {"role": Role.CLINIC_ADMIN})
    there.refresh_from_db()
    role_after_change = there.role
    ended = client.post(reverse("admin:cases_membership_delete", args=[there.pk]), {"post": "yes"})

    assert [added.status_code, promoted.status_code, ended.status_code] == [302, 302, 302]
    assert role_after_change == Role.CLINIC_ADMIN
    assert not Membership.objects.filter(pk=there.pk).exists()
    events = AuditEvent.objects.filter(object_type="cases.membership").order_by("pk")
    assert list(events.values_list("action", "object_id", "clinic_id")) == [
        (AuditAction.CREATE, str(there.pk), other_clinic.pk),
        (AuditAction.UPDATE, str(there.pk), other_clinic.pk),
        (AuditAction.DELETE, str(there.pk), other_clinic.pk),
    ]


@pytest.mark.parametrize("how", ["end", "demote", "deactivate"])
def test_the_last_clinic_admin_cannot_be_removed(as_clinic_admin, clinic_admin, clinic, how):
    own = clinic_admin.memberships.get()
    response = {
        "end": lambda: as_clinic_admin.post(reverse("admin:cases_membership_delete", args=[own.pk]), {"post": "yes"}),
        "demote": lambda: as_clinic_admin.post(
            reverse("admin:cases_membership_change", args=[own.pk]), {"role": Role.PODIATRIST}
        ),
        "deactivate": lambda: as_clinic_admin.post(
            user_url("change", clinic_admin.pk),
            {"first_name": clinic_admin.first_name, "last_name": clinic_admin.last_name, "email": clinic_admin.email},
        ),
    }[how]()

    assert response.status_code == 302
    assert "would have no clinic admin left" in _messages(response)
    own.refresh_from_db()
    clinic_admin.refresh_from_db()
    assert (own.role, clinic_admin.is_active) == (Role.CLINIC_ADMIN, True)
    assert not audited_writes().exists()


def test_a_clinic_admin_may_step_down_once_another_admin_exists(as_clinic_admin, clinic_admin, clinic):
    MembershipFactory(clinic=clinic, role=Role.CLINIC_ADMIN)
    own = clinic_admin.memberships.get()

    response = as_clinic_admin.post(reverse("admin:cases_membership_change", args=[own.pk]), {"role": Role.PODIATRIST})

    assert response.status_code == 302
    own.refresh_from_db()
    assert own.role == Role.PODIATRIST


# API tokens


def test_clinic_admin_issues_a_token_that_works_for_that_clinic_and_revokes_it(
    as_clinic_admin, podiatrist, clinic, other_clinic, clinic_admin
):
    own_patient = PatientFactory(clinic=clinic)
    PatientFactory(clinic=other_clinic)

    issued = as_clinic_admin.post(reverse("admin:api_apitoken_add"), _token_body(podiatrist), follow=True)

    secrets = set(TOKEN.findall(issued.content.decode()))
    assert len(secrets) == 1
    secret = secrets.pop()
    token = ApiToken.objects.get()
    assert (token.user, token.digest) == (podiatrist, token_digest(secret))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = api.get("/api/v1/patients/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [own_patient.pk]
    assert secret not in as_clinic_admin.get(reverse("admin:api_apitoken_change", args=[token.pk])).content.decode()

    revoked = as_clinic_admin.post(
        reverse("admin:api_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert revoked.status_code == 302
    assert api.get("/api/v1/patients/").status_code == 401
    events = AuditEvent.objects.filter(actor=clinic_admin, object_type="api.apitoken").order_by("pk")
    assert list(events.values_list("action", "object_id", "clinic_id")) == [
        (AuditAction.CREATE, str(token.pk), clinic.pk),
        (AuditAction.UPDATE, str(token.pk), clinic.pk),
    ]
    assert secret not in " ".join(str(row) for row in AuditEvent.objects.values_list(flat=False))


# Roles without these pages


@pytest.mark.parametrize("role", ["podiatrist", "reviewer"])
def test_podiatrists_and_reviewers_get_403_on_every_staff_page(client, request, role, clinic_admin):
    user = request.getfixturevalue(role)
    client.force_login(user)
    membership = clinic_admin.memberships.get()
    pages = [
        ("get", user_url("changelist"), {}),
        ("post", user_url("add"), _add_body(membership.clinic)),
        ("get", user_url("change", clinic_admin.pk), {}),
        ("post", user_url("password_change", clinic_admin.pk), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}),
        ("post", reverse("admin:cases_membership_add"), {"user": user.pk, "clinic": membership.clinic_id}),
        ("post", reverse("admin:cases_membership_change", args=[membership.pk]), {"role": Role.REVIEWER}),
        ("post", reverse("admin:api_apitoken_add"), _token_body(user)),
    ]  # fmt: skip

    answers = [getattr(client, method)(url, body).status_code for method, url, body in pages]

    assert answers == [403] * len(pages)
    membership.refresh_from_db()
    assert membership.role == Role.CLINIC_ADMIN
    assert not ApiToken.objects.exists()
    assert not User.objects.filter(username="new-podiatrist").exists()
    assert not audited_writes().exists()


def test_the_clinic_page_saves_its_membership_rows_through_the_same_services(client, superuser, clinic_admin, clinic):
    client.force_login(superuser)
    own = clinic_admin.memberships.get()
    newcomer = UserFactory(username="newcomer")
    body = {
        "name": clinic.name, "slug": clinic.slug, "time_zone": clinic.time_zone,
        "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": own.pk, "memberships-0-clinic": clinic.pk, "memberships-0-user": clinic_admin.pk,
        "memberships-0-role": Role.CLINIC_ADMIN,
        "memberships-1-clinic": clinic.pk, "memberships-1-user": newcomer.pk, "memberships-1-role": Role.REVIEWER,
    }  # fmt: skip
    change = reverse("admin:cases_clinic_change", args=[clinic.pk])

    refused = client.post(change, {**body, "memberships-0-DELETE": "on"})

    assert "would have no clinic admin left" in _messages(refused)
    assert Membership.objects.filter(pk=own.pk).exists()
    assert not Membership.objects.filter(user=newcomer).exists()
    assert not audited_writes().exists()

    added = client.post(change, body)

    assert added.status_code == 302
    membership = Membership.objects.get(user=newcomer, clinic=clinic)
    assert list(audited_writes().values_list("action", "object_type", "object_id")) == [
        (AuditAction.CREATE, "cases.membership", str(membership.pk))
    ]


@pytest.mark.django_db(transaction=True)
def test_two_clinic_admins_stepping_down_at_once_leave_one_of_them(on_postgres, clinic, monkeypatch):
    first, second = (MembershipFactory(clinic=clinic, role=Role.CLINIC_ADMIN) for _ in range(2))
    validate = Membership.full_clean

    def slow_full_clean(membership, *args, **kwargs):
        validate(membership, *args, **kwargs)
        time.sleep(0.5)  # widen the gap between checking and saving, where an unserialised rival would check

    monkeypatch.setattr(Membership, "full_clean", slow_full_clean)
    barrier, outcomes = threading.Barrier(2), [None, None]

    def step_down(index: int, membership: Membership) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = services.membership_set_role(membership=membership, role=Role.PODIATRIST)
        except Exception as error:  # reported to the test thread, which asserts on it
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=step_down, args=pair) for pair in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    refused = [outcome for outcome in outcomes if isinstance(outcome, ValidationError)]
    assert len(refused) == 1 and "would have no clinic admin left" in str(refused[0]), outcomes
    assert Membership.objects.filter(clinic=clinic, role=Role.CLINIC_ADMIN).count() == 1

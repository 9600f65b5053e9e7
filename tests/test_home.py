"""`/` and the admin index: where a first visit lands, and the index's way into the progression review."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REVIEW_URL = "/admin/cases/presentation/review/"
SIGN_IN = "/admin/login/?next=/admin/"


def test_home_sends_someone_not_signed_in_to_the_sign_in_page_that_leads_to_the_admin(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == SIGN_IN
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("role", ["podiatrist", "reviewer", "clinic_admin", "superuser"])
def test_home_sends_a_signed_in_member_to_the_admin_index(client, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, reverse("admin:index"))
    assert client.get(response["Location"]).status_code == 200


def test_home_sends_a_signed_in_user_who_may_not_use_the_admin_to_the_sign_in_page(client):
    # An API-only account (not staff) would get the admin's "not authorised" sign-in page at /admin/ anyway.
    client.force_login(UserFactory(username="integration", is_staff=False))
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, SIGN_IN)


def test_home_answers_only_safe_methods(client):
    assert client.post("/").status_code == 405


@pytest.mark.parametrize(
    ("role", "links_review"),
    [("clinic_admin", True), ("superuser", True), ("podiatrist", False), ("reviewer", False)],
)
def test_the_admin_index_links_the_progression_review_for_whoever_may_open_it(client, request, role, links_review):
    client.force_login(request.getfixturevalue(role))
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert (f'href="{REVIEW_URL}"' in index.content.decode()) is links_review
    # The link's presence matches the review page's own permission check.
    assert client.get(REVIEW_URL).status_code == (200 if links_review else 403)
    # The rest of the index is Django's own: the app list is still there.
    assert 'href="/admin/cases/presentation/"' in index.content.decode()


def test_the_admin_index_still_requires_signing_in(client):
    response = client.get(reverse("admin:index"))
    assert (response.status_code, response["Location"]) == (302, SIGN_IN)


def test_the_admin_has_no_view_site_link_back_to_itself(client, clinic_admin):
    client.force_login(clinic_admin)
    assert "View site" not in client.get(reverse("admin:index")).content.decode()

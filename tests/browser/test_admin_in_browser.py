"""A clinic admin's day in the admin, in a real browser: sign in, scan cases, review, and be stopped by a rule."""

import datetime
from pathlib import Path

import pytest

from cases.choices import Role
from cases.models import Visit
from tests.factories import MembershipFactory, PatientFactory, PresentationFactory, TreatmentFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def stalled_case(clinic):
    admin = UserFactory(username="lead-podiatrist")
    MembershipFactory(user=admin, clinic=clinic, role=Role.CLINIC_ADMIN)
    patient = PatientFactory(clinic=clinic, mrn="NS-000042", given_name="Joan", family_name="Ashworth")
    presentation = PresentationFactory(patient=patient, first_seen_on=datetime.date(2026, 1, 5))
    TreatmentFactory(presentation=presentation, clinician=admin, started_on=datetime.date(2026, 1, 5))
    return presentation


def sign_in(page, username):
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url.endswith("/admin/")


def test_clinic_admin_scans_reviews_and_is_stopped_by_a_pain_score_out_of_range(page, stalled_case):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, "lead-podiatrist")

    page.goto("/admin/cases/presentation/")
    row = page.locator("#result_list tbody tr", has_text="NS-000042")
    assert "1 · footwear modification" in row.inner_text()
    page.screenshot(path=SCREENSHOTS / "presentations.png", full_page=True)

    page.get_by_role("link", name="Progression review").click()
    page.wait_for_url("**/review/")
    assert "NS-000042" in page.locator("main, #content").first.inner_text()
    page.screenshot(path=SCREENSHOTS / "review.png", full_page=True)

    page.locator("a", has_text="NS-000042").first.click()
    page.wait_for_url(f"**/cases/presentation/{stalled_case.pk}/change/")
    add_visit = page.locator("#visits-group .add-row a, #visits-group a.addlink").first
    add_visit.click()
    visit_row = page.locator("#visits-group tr.form-row.dynamic-visits, #visits-group .dynamic-visits").last
    visit_row.locator("input[name$='-seen_on']").fill("2026-02-16")
    visit_row.locator("input[name$='-pain_walking']").fill("11")
    visit_row.locator("input[name$='-pain_rest']").fill("0")
    with page.expect_navigation():
        page.click("input[name=_continue]")

    page.locator(".errornote").wait_for()
    assert "less than or equal to 10" in page.locator("#visits-group").inner_text()
    page.screenshot(path=SCREENSHOTS / "visit-error.png", full_page=True)
    assert not Visit.objects.filter(presentation=stalled_case).exists()

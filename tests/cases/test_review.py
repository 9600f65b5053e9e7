"""The progression review page: who may open it, which cases it lists under which reason, and its cost."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import PresentationStatus, Response, TreatmentKind

from ..factories import PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

D = datetime.date
REVIEW_URL = "admin:cases_presentation_review"


def _presentation(clinic, mrn, **fields):
    patient = PatientFactory(clinic=clinic, mrn=mrn, family_name=f"Family-{mrn}", given_name="Pat")
    return PresentationFactory(patient=patient, first_seen_on=D(2026, 1, 5), **fields)


def _failed_footwear(clinic, mrn):
    """Footwear modification gave no relief: due to escalate to orthosis."""
    presentation = _presentation(clinic, mrn)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        response=Response.NONE,
        response_assessed_on=D(2026, 2, 16),
    )
    return presentation


def _stalled(clinic, mrn):
    """Footwear trial ended weeks ago and nobody recorded a response."""
    presentation = _presentation(clinic, mrn)
    TreatmentFactory(presentation=presentation, kind=TreatmentKind.FOOTWEAR_MODIFICATION)
    return presentation


def _skipped(clinic, mrn):
    """Went straight from footwear to an injection (justified), and the injection gave complete relief."""
    presentation = _presentation(clinic, mrn)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        response=Response.PARTIAL,
        response_assessed_on=D(2026, 2, 16),
    )
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.CORTICOSTEROID_INJECTION,
        injection_drug="triamcinolone_acetonide",
        started_on=D(2026, 2, 16),
        response=Response.COMPLETE,
        response_assessed_on=D(2026, 3, 16),
        justification="Patient is a dancer with a performance in three weeks.",
    )
    return presentation


def _worsening(clinic, mrn):
    """Pain at rest at the latest visit, during an orthosis trial that followed partial relief from footwear."""
    presentation = _presentation(clinic, mrn)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        response=Response.PARTIAL,
        response_assessed_on=D(2026, 2, 16),
    )
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.ORTHOSIS,
        orthosis_type="custom_orthosis",
        started_on=D(2026, 2, 16),
    )
    VisitFactory(presentation=presentation, seen_on=D(2026, 2, 16), pain_walking=4, pain_rest=0)
    VisitFactory(presentation=presentation, seen_on=D(2026, 3, 9), pain_walking=5, pain_rest=3)
    return presentation


def _sections(response) -> dict[str, dict[str, object]]:
    """Rows of each section of the page, by MRN."""
    return {section.key: {row.mrn: row for row in section.rows} for section in response.context["sections"]}


@pytest.mark.parametrize(("role", "status"), [("podiatrist", 403), ("reviewer", 403)])
def test_review_is_forbidden_to_podiatrists_and_reviewers(client, request, role, status):
    client.force_login(request.getfixturevalue(role))

    assert client.get(reverse(REVIEW_URL)).status_code == status


def test_review_needs_a_login(client, db):
    response = client.get(reverse(REVIEW_URL))

    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("role", ["clinic_admin", "superuser"])
def test_clinic_admins_and_superusers_open_the_review_in_the_admins_frame(client, request, role, clinic):
    _stalled(clinic, "R-1")
    client.force_login(request.getfixturevalue(role))

    response = client.get(reverse(REVIEW_URL))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Progression review" in page
    assert 'id="site-name"' in page  # the admin's own header, from admin/base_site.html
    assert response.context["available_apps"]  # each_context: the admin's navigation


def test_review_lists_each_case_under_its_reason(client, clinic_admin, clinic):
    _failed_footwear(clinic, "DUE")
    _stalled(clinic, "STALL")
    _skipped(clinic, "SKIP")
    _worsening(clinic, "WORSE")
    calm = _presentation(clinic, "CALM")
    TreatmentFactory(presentation=calm, kind=TreatmentKind.ORTHOSIS, orthosis_type="metatarsal_pad")
    calm.status = PresentationStatus.RESOLVED
    calm.save(update_fields=["status"])
    client.force_login(clinic_admin)

    sections = _sections(client.get(reverse(REVIEW_URL)))

    assert set(sections["due_for_escalation"]) == {"DUE", "WORSE"}
    assert set(sections["stalled"]) == {"STALL"}
    assert set(sections["skipped_rungs"]) == {"SKIP"}
    assert set(sections["worsening"]) == {"WORSE"}


def test_each_row_shows_the_patient_site_rung_and_recommendation_and_links_to_the_presentation(
    client, clinic_admin, clinic
):
    due = _failed_footwear(clinic, "DUE")
    client.force_login(clinic_admin)

    response = client.get(reverse(REVIEW_URL))

    row = _sections(response)["due_for_escalation"]["DUE"]
    assert row.change_url == reverse("admin:cases_presentation_change", args=[due.pk])
    assert (row.patient_name, row.site, row.rung) == (
        "Family-DUE, Pat",
        "Right · interspace 3",
        "1 · footwear modification",
    )
    assert row.summary == "Escalate to 2 · orthosis"
    assert row.reason == "No relief from footwear modification: escalate to 2 · orthosis."
    page = response.content.decode()
    for shown in [f'href="{row.change_url}"', "DUE", "Family-DUE, Pat", row.summary, row.reason]:
        assert shown in page, shown


def test_skipped_rung_rows_name_the_treatment_that_skipped(client, clinic_admin, clinic):
    _skipped(clinic, "SKIP")
    client.force_login(clinic_admin)

    row = _sections(client.get(reverse(REVIEW_URL)))["skipped_rungs"]["SKIP"]

    assert row.skipped == "Corticosteroid injection from 2026-02-16"


def test_review_leaves_out_other_clinics_cases(client, clinic_admin, clinic, other_clinic):
    _stalled(clinic, "OURS")
    _stalled(other_clinic, "THEIRS")
    client.force_login(clinic_admin)

    response = client.get(reverse(REVIEW_URL))

    assert set(_sections(response)["stalled"]) == {"OURS"}
    assert "THEIRS" not in response.content.decode()


def test_presentation_changelist_links_to_the_review_for_clinic_admins_only(client, clinic_admin, podiatrist):
    link = f'href="{reverse(REVIEW_URL)}"'

    client.force_login(clinic_admin)
    assert link in client.get(reverse("admin:cases_presentation_changelist")).content.decode()
    client.force_login(podiatrist)
    assert link not in client.get(reverse("admin:cases_presentation_changelist")).content.decode()


def _cases_of_every_kind(clinic, count: int, start: int) -> None:
    for number in range(start, start + count):
        for make in (_failed_footwear, _stalled, _skipped, _worsening):
            make(clinic, f"{make.__name__}-{number}")


def test_review_query_count_is_the_same_for_few_and_many_cases(
    client, clinic_admin, clinic, other_clinic, django_assert_num_queries
):
    client.force_login(clinic_admin)
    _cases_of_every_kind(clinic, 2, start=0)
    _cases_of_every_kind(other_clinic, 2, start=100)
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse(REVIEW_URL))
    assert len(_sections(response)["stalled"]) == 2

    _cases_of_every_kind(clinic, 10, start=2)

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(reverse(REVIEW_URL))
    assert len(_sections(response)["stalled"]) == 12

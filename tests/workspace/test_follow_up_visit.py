"""The one-screen follow-up visit: one save records the visit, the current treatment's response and the next
treatment through the services, all or nothing, with each error beside its field."""

import pytest
from django.urls import reverse

from cases.choices import Response, TreatmentKind
from cases.models import Treatment, Visit

from .known_case import TODAY

pytestmark = pytest.mark.django_db


def visit_url(presentation_id) -> str:
    return reverse("admin:cases_presentation_follow_up_visit", args=[presentation_id])


def form_data(clinician, **overrides) -> dict:
    data = {
        "visit-seen_on": TODAY.isoformat(),
        "visit-clinician": str(clinician.pk),
        "visit-pain_walking": "5",
        "visit-pain_rest": "1",
        "visit-moxfq_walking_standing": "",
        "visit-moxfq_pain": "",
        "visit-moxfq_social": "",
        "visit-relief_since_previous": "partial",
        "visit-notes": "",
        "response-response": "pending",
        "response-response_assessed_on": "",
        "next-kind": "",
        "next-started_on": "",
    }
    data.update(overrides)
    return data


def test_the_form_opens_on_today_as_the_signed_in_clinician_with_ranges(as_podiatrist, case, podiatrist):
    page = as_podiatrist.get(visit_url(case.presentation.pk)).content.decode()

    assert f'value="{TODAY.isoformat()}"' in page
    assert f'<option value="{podiatrist.pk}" selected>' in page
    assert 'name="visit-pain_walking"' in page and 'min="0"' in page and 'max="10"' in page
    assert 'max="100"' in page  # MOxFQ domains
    assert "Last visit: 3." in page  # walking pain at the last visit, as a hint, not a prefilled score
    assert "Corticosteroid injections at least 4 weeks apart" in page


def test_one_save_records_the_visit_the_response_and_the_next_treatment(as_podiatrist, case, podiatrist):
    data = form_data(
        podiatrist,
        **{"response-response": Response.PARTIAL, "next-kind": TreatmentKind.RADIOFREQUENCY_ABLATION},
    )

    response = as_podiatrist.post(visit_url(case.presentation.pk), data)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:cases_presentation_summary", args=[case.presentation.pk])
    visit = Visit.objects.filter(presentation=case.presentation).latest("seen_on")
    assert (visit.seen_on, visit.pain_walking, visit.pain_rest, visit.clinician) == (TODAY, 5, 1, podiatrist)
    case.injection.refresh_from_db()
    # A response without a date is assessed on the visit's day.
    assert (case.injection.response, case.injection.response_assessed_on) == (Response.PARTIAL, TODAY)
    started = Treatment.objects.get(presentation=case.presentation, kind=TreatmentKind.RADIOFREQUENCY_ABLATION)
    assert (started.started_on, started.clinician) == (TODAY, podiatrist)


def test_an_out_of_range_score_is_shown_beside_its_field_and_nothing_is_written(as_podiatrist, case, podiatrist):
    visits_before = Visit.objects.count()
    data = form_data(podiatrist, **{"visit-pain_walking": "11", "response-response": Response.NONE})

    response = as_podiatrist.post(visit_url(case.presentation.pk), data)

    assert response.status_code == 200
    errors = response.context["visit_form"].errors
    assert list(errors) == ["pain_walking"]
    assert 'id="id_visit-pain_walking_error"' in response.content.decode()
    assert Visit.objects.count() == visits_before
    case.injection.refresh_from_db()
    assert case.injection.response == Response.PENDING


def test_a_ladder_refusal_of_the_next_treatment_rolls_back_the_visit_and_the_response(as_podiatrist, case, podiatrist):
    # A second injection two weeks after the first breaks the 4-week interval: refused by the service, so the
    # visit and the response recorded before it in the same save are rolled back too.
    visits_before = Visit.objects.count()
    data = form_data(
        podiatrist,
        **{
            "visit-seen_on": "2026-04-13",
            "response-response": Response.NONE,
            "next-kind": TreatmentKind.CORTICOSTEROID_INJECTION,
            "next-injection_drug": "triamcinolone_acetonide",
        },
    )

    response = as_podiatrist.post(visit_url(case.presentation.pk), data)

    assert response.status_code == 200
    assert "at least 4 weeks apart" in " ".join(response.context["next_form"].non_field_errors())
    assert Visit.objects.count() == visits_before
    case.injection.refresh_from_db()
    assert (case.injection.response, case.injection.response_assessed_on) == (Response.PENDING, None)
    assert Treatment.objects.filter(presentation=case.presentation).count() == 3


def test_a_service_refusal_of_the_visit_lands_beside_the_visit_date(as_podiatrist, case, podiatrist):
    response = as_podiatrist.post(
        visit_url(case.presentation.pk), form_data(podiatrist, **{"visit-seen_on": "2025-12-01"})
    )

    assert response.status_code == 200
    assert "before the presentation was first seen" in " ".join(response.context["visit_form"].errors["seen_on"])


def test_a_reviewer_is_refused_and_nothing_is_written(client, case, reviewer, podiatrist):
    client.force_login(reviewer)
    visits_before = Visit.objects.count()

    assert client.get(visit_url(case.presentation.pk)).status_code == 403
    assert client.post(visit_url(case.presentation.pk), form_data(podiatrist)).status_code == 403
    assert Visit.objects.count() == visits_before


def test_another_clinics_case_answers_as_a_missing_one_and_is_not_written(client, case, other_podiatrist, podiatrist):
    client.force_login(other_podiatrist)
    visits_before = Visit.objects.count()

    foreign = client.post(visit_url(case.presentation.pk), form_data(podiatrist))
    missing = client.post(visit_url(987654), form_data(podiatrist))

    assert (foreign.status_code, foreign["Location"]) == (missing.status_code, missing["Location"]) == (302, "/admin/")
    assert Visit.objects.count() == visits_before


def test_the_ladder_checks_each_next_treatment_on_the_screen(as_podiatrist, case):
    checks = dict(as_podiatrist.get(visit_url(case.presentation.pk)).context["ladder_checks"])

    # After orthosis and injection with partial relief: an alternative and a neurectomy are within the ladder,
    # another injection on 1 Jun is 9 weeks after the last one, so also within it.
    assert checks["Radiofrequency ablation"] == []
    assert checks["Neurectomy"] == []
    assert checks["Corticosteroid injection"] == []


def test_the_ladder_checks_name_a_too_early_injection(as_podiatrist, case, monkeypatch):
    from cases.models import Clinic

    monkeypatch.setattr(Clinic, "today", lambda clinic: TODAY.replace(month=4, day=13))
    checks = dict(as_podiatrist.get(visit_url(case.presentation.pk)).context["ladder_checks"])

    assert any("at least 4 weeks apart" in message for message in checks["Corticosteroid injection"])


def test_a_first_treatment_is_started_from_the_visit_screen(as_podiatrist, clinic, podiatrist):
    from tests.factories import PatientFactory, PresentationFactory

    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    data = form_data(podiatrist, **{"next-kind": TreatmentKind.FOOTWEAR_MODIFICATION})
    del data["response-response"], data["response-response_assessed_on"]  # nothing to respond to yet

    response = as_podiatrist.post(visit_url(presentation.pk), data)

    assert response.status_code == 302
    assert presentation.visits.count() == 1
    assert presentation.treatments.get().kind == TreatmentKind.FOOTWEAR_MODIFICATION

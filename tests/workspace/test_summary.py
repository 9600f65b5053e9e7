"""The case summary: the header, the chart's data, change from baseline, the timeline, scoping and query counts."""

import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.audit import AuditEvent
from cases.choices import Response, TreatmentKind
from cases.selectors import case_summary
from tests.factories import ComplicationFactory, PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

from .known_case import CHART_POINTS, INJECTION_MARKERS, TODAY, TREATMENT_BANDS

pytestmark = pytest.mark.django_db


def summary_url(presentation_id) -> str:
    return reverse("admin:cases_presentation_summary", args=[presentation_id])


def chart_json(response) -> dict:
    match = re.search(rb'<script id="case-chart-data" type="application/json">(.*?)</script>', response.content, re.S)
    assert match, "the page embeds the chart's data"
    return json.loads(match.group(1))


def test_header_names_the_patient_site_rung_trial_end_and_the_recommendation(as_podiatrist, case):
    response = as_podiatrist.get(summary_url(case.presentation.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Joan Ashworth · Right foot, interspace 3</h1>" in page
    assert "NS-000042" in page
    assert "<dd>56</dd>" in page  # age on 1 Jun 2026, born 17 May 1970
    assert "3 · corticosteroid injection" in page
    assert "63 (since 30 Mar 2026)" in page  # days on the rung
    assert "27 Apr 2026" in page  # the 4-week trial's end
    # The ladder's verdict, with the reason that cites the trial's end.
    assert "The corticosteroid injection trial ended on 27 Apr 2026 and no response has been recorded" in page


def test_chart_data_has_each_measure_each_treatment_band_and_the_injection(as_podiatrist, case):
    data = chart_json(as_podiatrist.get(summary_url(case.presentation.pk)))

    assert {m["key"]: len(m["points"]) for m in data["measures"]} == CHART_POINTS
    assert len(data["treatments"]) == TREATMENT_BANDS
    assert [band["start"] for band in data["treatments"]] == ["2026-01-05", "2026-02-16", "2026-03-30"]
    # A band lasts until the next treatment started, the current one until today.
    assert [band["end"] for band in data["treatments"]] == ["2026-02-16", "2026-03-30", TODAY.isoformat()]
    assert len(data["injections"]) == INJECTION_MARKERS
    assert data["baselines"]["pain_walking"] == 7
    assert data["mcid"]["pain_walking"] == 2 and data["mcid"]["moxfq_social"] == 24
    assert data["follow_ups"] == []


def test_change_from_baseline_judges_each_measure_against_its_mcid(case):
    summary = case_summary(user=case.injection.clinician, presentation_id=case.presentation.pk, today=TODAY)
    changes = {change.key: change for change in summary.changes}

    assert (changes["pain_walking"].baseline, changes["pain_walking"].latest, changes["pain_walking"].change) == (
        7,
        3,
        -4,
    )
    assert changes["pain_walking"].reached_mcid is True
    assert changes["pain_rest"].change == -2 and changes["pain_rest"].reached_mcid is True
    # MOxFQ walking/standing 60 → 45 is 15 points: one short of its MCID of 16.
    assert changes["moxfq_walking_standing"].change == -15
    assert changes["moxfq_walking_standing"].reached_mcid is False
    assert changes["moxfq_pain"].reached_mcid is True  # 55 → 40, MCID 12


def test_the_numbers_behind_the_chart_are_a_table_one_row_per_visit(as_podiatrist, case):
    page = as_podiatrist.get(summary_url(case.presentation.pk)).content.decode()
    table = page[page.index('<table id="case-measures">') : page.index("</table>", page.index('id="case-measures"'))]

    assert table.count('class="measure-row"') == 4
    assert '<th scope="row" class="nowrap">5 Jan 2026</th>' in table


def test_timeline_lists_visits_treatments_responses_and_complications_in_date_order(case):
    summary = case_summary(user=case.injection.clinician, presentation_id=case.presentation.pk, today=TODAY)
    timeline = [(entry.day, entry.kind) for entry in summary.timeline]

    assert timeline == sorted(timeline, key=lambda item: item[0])
    kinds = [kind for _, kind in timeline]
    assert kinds.count("visit") == 4
    assert kinds.count("treatment") == 3
    assert kinds.count("response") == 2
    assert kinds.count("complication") == 1
    assert summary.timeline[0].title.startswith("Started footwear modification")


def test_opening_the_summary_is_audited_as_a_view_of_the_patient(as_podiatrist, case):
    as_podiatrist.get(summary_url(case.presentation.pk))

    event = AuditEvent.objects.filter(action="view", object_type="cases.presentation").latest("pk")
    assert event.object_id == str(case.presentation.pk)
    assert case.presentation.patient_id in event.patient_ids


def test_another_clinics_case_answers_as_a_missing_one(client, case, other_podiatrist):
    client.force_login(other_podiatrist)

    foreign = client.get(summary_url(case.presentation.pk))
    missing = client.get(summary_url(987654))

    assert (foreign.status_code, foreign["Location"]) == (missing.status_code, missing["Location"]) == (302, "/admin/")
    assert b"Ashworth" not in foreign.content


def test_a_reviewer_reads_the_summary_without_the_write_actions(client, case, reviewer):
    client.force_login(reviewer)

    page = client.get(summary_url(case.presentation.pk)).content.decode()

    assert "Joan Ashworth" in page
    assert "Log a follow-up visit" not in page


def _presentation_with(clinic, clinician, *, visits: int, treatments: int, complications: int):
    presentation = PresentationFactory(
        patient=PatientFactory(clinic=clinic), onset_on=None, first_seen_on=datetime.date(2025, 1, 6)
    )
    kinds = [TreatmentKind.FOOTWEAR_MODIFICATION, TreatmentKind.ORTHOSIS, TreatmentKind.CORTICOSTEROID_INJECTION]
    started = []
    for index in range(treatments):
        started.append(
            TreatmentFactory(
                presentation=presentation,
                clinician=clinician,
                kind=kinds[index],
                started_on=datetime.date(2025, 1, 6) + datetime.timedelta(weeks=8 * index),
                response=Response.NONE,
                response_assessed_on=datetime.date(2025, 1, 6) + datetime.timedelta(weeks=8 * index + 6),
            )
        )
    for index in range(complications):
        ComplicationFactory(treatment=started[-1], occurred_on=started[-1].started_on + datetime.timedelta(days=index))
    for index in range(visits):
        VisitFactory(
            presentation=presentation,
            clinician=clinician,
            seen_on=datetime.date(2025, 1, 6) + datetime.timedelta(days=7 * index),
            pain_walking=index % 11,
            moxfq_pain=index % 100,
        )
    return presentation


def test_the_summary_costs_the_same_queries_for_two_visits_or_forty(as_podiatrist, clinic, podiatrist):
    small = _presentation_with(clinic, podiatrist, visits=2, treatments=1, complications=0)
    large = _presentation_with(clinic, podiatrist, visits=40, treatments=3, complications=4)
    as_podiatrist.get(summary_url(small.pk))  # warm the session and content-type caches

    with CaptureQueriesContext(connection) as few:
        assert as_podiatrist.get(summary_url(small.pk)).status_code == 200
    with CaptureQueriesContext(connection) as many:
        assert as_podiatrist.get(summary_url(large.pk)).status_code == 200

    assert len(many) == len(few)


def test_follow_up_answers_from_the_hook_are_drawn_tabled_and_on_the_timeline(as_podiatrist, case, monkeypatch):
    # Issue 10 plugs its answered follow-ups into selectors.follow_up_markers; the page already shows them.
    from cases import selectors

    marker = selectors.FollowUpMarker(datetime.date(2026, 5, 25), "6 weeks", {"pain_walking": 2, "moxfq_pain": 30})
    monkeypatch.setattr(selectors, "follow_up_markers", lambda presentation: [marker])

    response = as_podiatrist.get(summary_url(case.presentation.pk))

    assert chart_json(response)["follow_ups"] == [
        {"date": "2026-05-25", "label": "6 weeks", "values": {"pain_walking": 2, "moxfq_pain": 30}}
    ]
    page = response.content.decode()
    assert page.count('class="follow-up-row"') == 1
    assert "Follow-up answered: 6 weeks" in page


def test_a_case_with_no_visit_yet_has_an_empty_chart_and_timeline(as_podiatrist, clinic):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))

    page = as_podiatrist.get(summary_url(presentation.pk)).content.decode()

    assert "No visit recorded yet." in page
    assert "Nothing recorded yet." in page
    assert "No treatment recorded yet: start with 1 · footwear modification" in page

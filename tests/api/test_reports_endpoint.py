"""GET /api/v1/reports/outcomes/: the outcome report over HTTP, scoped to the caller's clinics."""

import datetime

import pytest

from cases.choices import Response
from tests.factories import ComplicationFactory, PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/outcomes/"
D = datetime.date


def footwear_case(clinic, clinician, *, interspace=3, response=Response.NONE, escalate=True):
    """Footwear from 5 Jan 2026 (pain 7 → 5 by 16 Feb), optionally escalated to an orthosis."""
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic), interspace=interspace)
    VisitFactory(presentation=presentation, clinician=clinician, seen_on=D(2026, 1, 5), pain_walking=7)
    VisitFactory(presentation=presentation, clinician=clinician, seen_on=D(2026, 2, 16), pain_walking=5)
    footwear = TreatmentFactory(
        presentation=presentation,
        clinician=clinician,
        started_on=D(2026, 1, 5),
        response=response,
        response_assessed_on=D(2026, 2, 16),
    )
    if escalate:
        TreatmentFactory(
            presentation=presentation,
            clinician=clinician,
            kind="orthosis",
            orthosis_type="custom_orthosis",
            started_on=D(2026, 2, 16),
        )
    return footwear


def row(report, kind):
    return next(r for r in report["rows"] if r["kind"] == kind)


def test_report_counts_the_callers_clinic_only(api, clinic, podiatrist, other_clinic, other_podiatrist):
    footwear = footwear_case(clinic, podiatrist)
    ComplicationFactory(treatment=footwear, kind="other", notes="blister")
    footwear_case(clinic, podiatrist, response=Response.COMPLETE, escalate=False)
    footwear_case(other_clinic, other_podiatrist)

    response = api.get(URL)

    assert response.status_code == 200
    footwear_row = row(response.json(), "footwear_modification")
    assert footwear_row["started"] == 2
    assert (footwear_row["complete"], footwear_row["none"]) == (1, 1)
    assert footwear_row["complete_rate"] == 0.5
    assert footwear_row["median_walking_pain_change"] == -2
    assert (footwear_row["escalated"], footwear_row["escalation_rate"]) == (1, 0.5)
    assert footwear_row["median_days_to_escalation"] == 42
    assert footwear_row["complication_rate"] == 0.5
    assert footwear_row["rung"] == 1.0
    assert [r["kind"] for r in response.json()["rows"]][-1] == "neurectomy"
    assert row(response.json(), "neurectomy")["started"] == 0
    assert row(response.json(), "neurectomy")["complete_rate"] is None


def test_filters_narrow_the_report(api, clinic, podiatrist):
    footwear_case(clinic, podiatrist, interspace=2)
    footwear_case(clinic, podiatrist, interspace=3)

    assert row(api.get(URL, {"interspace": 2}).json(), "footwear_modification")["started"] == 1
    assert row(api.get(URL, {"date_from": "2026-01-06"}).json(), "footwear_modification")["started"] == 0
    assert row(api.get(URL, {"clinician": podiatrist.pk}).json(), "orthosis")["started"] == 2
    assert row(api.get(URL, {"age_band": "50-59", "sex": "female"}).json(), "footwear_modification")["started"] == 2
    assert api.get(URL, {"interspace": 2}).json()["filters"] == {"interspace": "2"}


def test_naming_another_clinic_is_refused_like_a_clinic_that_does_not_exist(api, other_clinic):
    foreign = api.get(URL, {"clinic": other_clinic.pk})
    missing = api.get(URL, {"clinic": 999999})

    assert foreign.status_code == missing.status_code == 400
    assert foreign.json()["errors"] == missing.json()["errors"] == {"clinic": ["Not one of your clinics."]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"age_band": "30-39"}, "age_band"),
        ({"sex": "woman"}, "sex"),
        ({"interspace": 5}, "interspace"),
        ({"date_from": "2026-13-01"}, "date_from"),
        ({"date_from": "2026-03-01", "date_to": "2026-01-01"}, "date_to"),
    ],
)
def test_bad_filters_are_400_problems_naming_the_filter(api, params, field):
    response = api.get(URL, params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


def test_reviewers_read_the_report_and_strangers_do_not(bearer, reviewer, anonymous):
    assert bearer(reviewer).get(URL).status_code == 200
    assert anonymous.get(URL).status_code == 401


def test_report_query_count_does_not_grow_with_the_data(api, clinic, podiatrist, django_assert_max_num_queries):
    footwear_case(clinic, podiatrist)
    api.get(URL)
    with django_assert_max_num_queries(10) as few:
        api.get(URL)
    for _ in range(15):
        footwear_case(clinic, podiatrist)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert api.get(URL).status_code == 200


def test_each_row_gives_the_public_rung_number_and_its_label(api):
    rows = api.get(URL).json()["rows"]

    assert [(r["rung"], r["rung_label"]) for r in rows[:4]] == [
        (1, "1 · footwear modification"),
        (2, "2 · orthosis"),
        (3, "3 · corticosteroid injection"),
        (3.5, "3–4 · alternative"),
    ]


def test_rung_two_means_orthosis_in_the_report_as_everywhere(api, clinic, podiatrist):
    footwear_case(clinic, podiatrist)

    response = api.get(URL, {"rung": "2"})

    assert [(r["kind"], r["started"]) for r in response.json()["rows"]] == [("orthosis", 1)]
    assert api.get(URL, {"rung": "20"}).status_code == 400


def test_each_row_carries_mcid_attainment_at_six_and_twelve_months_for_every_measure(api):
    rows = api.get(URL).json()["rows"]

    for row in rows:
        points = {(entry["time_point"], entry["measure"]) for entry in row["against_mcid"]}
        assert points == {
            (point, measure)
            for point in ("month_6", "month_12")
            for measure in ("pain_walking", "pain_rest", "moxfq_walking_standing", "moxfq_pain", "moxfq_social")
        }
        assert all(entry["mcid_source"] for entry in row["against_mcid"])

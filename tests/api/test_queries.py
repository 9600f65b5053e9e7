"""Queries per request do not grow with the page: an N+1 is a test failure, not a slow night."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.choices import Response
from tests.factories import ComplicationFactory, PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

ROWS = 210


@pytest.fixture
def busy_clinic(clinic, podiatrist):
    """More than 200 of every record, each presentation with visits and two treatments."""
    for n in range(ROWS):
        presentation = PresentationFactory(patient=PatientFactory(clinic=clinic), interspace=2 + n % 2)
        start = presentation.first_seen_on
        VisitFactory(presentation=presentation, clinician=podiatrist, seen_on=start)
        VisitFactory(presentation=presentation, clinician=podiatrist, seen_on=start + datetime.timedelta(weeks=6))
        footwear = TreatmentFactory(
            presentation=presentation,
            clinician=podiatrist,
            started_on=start,
            response=Response.PARTIAL,
            response_assessed_on=start + datetime.timedelta(weeks=6),
        )
        TreatmentFactory(
            presentation=presentation,
            clinician=podiatrist,
            kind="orthosis",
            orthosis_type="metatarsal_pad",
            started_on=start + datetime.timedelta(weeks=6),
        )
        ComplicationFactory(treatment=footwear, kind="other", notes="blister")
    return clinic


def queries_for(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured), len(response.json()["results"])


# The token with its user and their clinic roles (one query) + the page (cursor pagination needs no
# COUNT), plus one query per prefetched relation.
# Each count includes the one INSERT of the request's audit event (the page's patient ids).
EXPECTED_QUERIES = {
    "patients": 3,
    "presentations": 3,  # the treatments and visits come in the page query (JSON per row), for the recommendation
    "visits": 3,
    "treatments": 4,  # + complications
    "complications": 3,
}


@pytest.mark.parametrize("resource", sorted(EXPECTED_QUERIES))
def test_list_queries_are_the_same_for_page_sizes_10_and_200(api, busy_clinic, resource):
    api.get(f"/api/v1/{resource}/?page_size=1")  # stamp the token's last use, which writes once a minute

    small, small_rows = queries_for(api, f"/api/v1/{resource}/?page_size=10")
    large, large_rows = queries_for(api, f"/api/v1/{resource}/?page_size=200")

    assert (small_rows, large_rows) == (10, 200)
    assert small == large == EXPECTED_QUERIES[resource]


def test_presentation_detail_and_actions_query_counts_do_not_depend_on_history_length(api, clinic, podiatrist):
    def presentation_with(visits: int):
        presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
        for week in range(visits):
            VisitFactory(
                presentation=presentation,
                clinician=podiatrist,
                seen_on=presentation.first_seen_on + datetime.timedelta(weeks=week),
            )
        TreatmentFactory(presentation=presentation, clinician=podiatrist)
        return presentation

    short, long = presentation_with(1), presentation_with(40)
    api.get("/api/v1/presentations/?page_size=1")
    for suffix in ("", "timeline/", "next-step/"):
        with CaptureQueriesContext(connection) as few:
            assert api.get(f"/api/v1/presentations/{short.pk}/{suffix}").status_code == 200
        with CaptureQueriesContext(connection) as many:
            assert api.get(f"/api/v1/presentations/{long.pk}/{suffix}").status_code == 200
        assert len(few) == len(many), suffix


# Creates through the API, with an Idempotency-Key (docs/benchmarks.md names each query and why it is needed):
# token with roles; BEGIN; the key's record; the presentation the body names, in the caller's scope and
# locked in the same query (with its clinic's follow-up settings); its treatments and visits (one UNION ALL);
# the INSERT, its history row and its audit event; the outcome facts that changed (none here: a visit after
# every assessment moves no stored fact); the key's record completed; COMMIT. The ladder, the ranges and
# the clinician rule are all checked without a query.
VISIT_CREATE_QUERIES = 10
VISIT_CREATE_MOVING_FACTS_QUERIES = 11  # + the upsert of the facts the visit changed
# The same, with the follow-ups already planned read in the same UNION ALL, the facts' upsert (a new
# treatment always has new facts) and one INSERT of the new treatment's follow-ups
# (cases.services.follow_up_plan): nothing already planned changes when a treatment is added.
TREATMENT_CREATE_QUERIES = 12


def presentation_with_history(clinic, podiatrist, visits: int):
    """A presentation first seen 50 weeks ago and then weekly, footwear tried from the start (a partial response)."""
    start = clinic.today() - datetime.timedelta(weeks=50)
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic), first_seen_on=start)
    for week in range(visits):
        VisitFactory(presentation=presentation, clinician=podiatrist, seen_on=start + datetime.timedelta(weeks=week))
    TreatmentFactory(
        presentation=presentation,
        clinician=podiatrist,
        started_on=start,
        response=Response.PARTIAL,
        response_assessed_on=start + datetime.timedelta(weeks=1),
    )
    return presentation


def create_queries(api, url: str, body: dict, key: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 201, response.content
    return len(captured)


def test_a_visit_create_costs_the_same_few_queries_whatever_the_history(api, clinic, podiatrist):
    api.get("/api/v1/visits/?page_size=1")  # stamp the token's last use, which writes once a minute
    today = clinic.today().isoformat()
    counts = [
        create_queries(
            api,
            "/api/v1/visits/",
            {"presentation": presentation_with_history(clinic, podiatrist, visits).pk, "seen_on": today}
            | {"pain_walking": 3, "pain_rest": 0, "relief_since_previous": "partial"},
            key=f"visit-{visits}",
        )
        for visits in (2, 40)
    ]
    assert counts == [VISIT_CREATE_QUERIES, VISIT_CREATE_QUERIES]


def test_a_visit_that_moves_a_stored_fact_adds_only_the_upsert(api, clinic, podiatrist):
    api.get("/api/v1/visits/?page_size=1")
    presentation = presentation_with_history(clinic, podiatrist, 2)
    treatment = presentation.treatments.get()
    body = {"presentation": presentation.pk, "seen_on": treatment.response_assessed_on.isoformat()}
    body |= {"pain_walking": 1, "pain_rest": 0}

    assert create_queries(api, "/api/v1/visits/", body, key="moving") == VISIT_CREATE_MOVING_FACTS_QUERIES
    treatment.outcome.refresh_from_db()
    assert treatment.outcome.pain_walking_at_assessment == 1


def test_a_treatment_create_costs_the_same_queries_whatever_the_history(api, clinic, podiatrist):
    api.get("/api/v1/treatments/?page_size=1")
    today = clinic.today().isoformat()
    counts = [
        create_queries(
            api,
            "/api/v1/treatments/",
            {"presentation": presentation_with_history(clinic, podiatrist, visits).pk, "started_on": today}
            | {"kind": "orthosis", "orthosis_type": "metatarsal_pad"},
            key=f"orthosis-{visits}",
        )
        for visits in (2, 40)
    ]
    assert counts == [TREATMENT_CREATE_QUERIES, TREATMENT_CREATE_QUERIES]

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


# Token lookup + the caller's clinic memberships + the page (cursor pagination needs no COUNT),
# plus one query per prefetched relation.
# Each count includes the one INSERT of the request's audit event (the page's patient ids).
EXPECTED_QUERIES = {
    "patients": 4,
    "presentations": 6,  # + treatments and visits, for the recommendation
    "visits": 4,
    "treatments": 5,  # + complications
    "complications": 4,
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

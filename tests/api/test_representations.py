"""One output definition per resource: the compiled writer gives exactly what DRF's walk of the declared fields does."""

import datetime
import json
from decimal import Decimal

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api import representations
from api import serializers as api_serializers
from api.views import ComplicationViewSet, PatientViewSet, PresentationViewSet, TreatmentViewSet, VisitViewSet
from cases import ladder
from cases.choices import PresentationStatus, Response
from cases.models import Presentation
from cases.selectors import scope
from tests.factories import ComplicationFactory, PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

D = datetime.date
VIEWSETS = {
    "patients": PatientViewSet,
    "presentations": PresentationViewSet,
    "visits": VisitViewSet,
    "treatments": TreatmentViewSet,
    "complications": ComplicationViewSet,
}


def as_json(value):
    return json.loads(json.dumps(value, default=str))


@pytest.fixture
def records(clinic, podiatrist):
    bare = PresentationFactory(patient=PatientFactory(clinic=clinic), onset_on=None, symptoms=[])
    imaged = PresentationFactory(
        patient=PatientFactory(clinic=clinic), imaging="mri", size_mm=Decimal("5"), notes="Wide shoes help."
    )
    VisitFactory(presentation=imaged, clinician=podiatrist, seen_on=D(2026, 1, 5), pain_walking=7, pain_rest=2)
    VisitFactory(presentation=imaged, clinician=podiatrist, seen_on=D(2026, 2, 16), pain_walking=4)
    footwear = TreatmentFactory(
        presentation=imaged,
        clinician=podiatrist,
        started_on=D(2026, 1, 5),
        response=Response.PARTIAL,
        response_assessed_on=D(2026, 2, 16),
    )
    TreatmentFactory(
        presentation=imaged,
        clinician=podiatrist,
        kind="orthosis",
        orthosis_type="custom_orthosis",
        started_on=D(2026, 2, 16),
    )
    ComplicationFactory(treatment=footwear, kind="other", notes="blister")
    closed = PresentationFactory(
        patient=PatientFactory(clinic=clinic),
        status=PresentationStatus.CLOSED,
        imaging="ultrasound",
        size_mm=Decimal("12.5"),
    )
    TreatmentFactory(presentation=closed, clinician=podiatrist, ended_on=D(2026, 2, 1))
    return [bare, imaged, closed]


def drf_walk(serializer, instance, monkeypatch):
    """What DRF's own ``Serializer.to_representation`` makes of the declared fields, nested ones included."""
    with monkeypatch.context() as patched:
        patched.delattr(representations.CompiledOutput, "to_representation")
        return serializer.to_representation(instance)


def serializer_and_rows(resource, user, **query):
    request = Request(APIRequestFactory().get(f"/api/v1/{resource}/", query))
    request.user = user
    view = VIEWSETS[resource](request=request, format_kwarg=None, action="list", kwargs={})
    serializer = view.get_serializer()
    return serializer, list(scope(view.base_queryset(), user).order_by("pk"))


@pytest.mark.parametrize("resource", sorted(VIEWSETS))
def test_the_compiled_output_equals_drfs_walk_of_the_declared_fields(records, podiatrist, monkeypatch, resource):
    serializer, rows = serializer_and_rows(resource, podiatrist)
    assert rows
    if resource == "presentations":
        representations.attach_facts(rows)

    for row in rows:
        assert as_json(serializer.to_representation(row)) == as_json(drf_walk(serializer, row, monkeypatch))


def test_a_summary_annotated_in_sql_and_one_computed_from_the_rows_read_the_same(records, podiatrist):
    plain_serializer, plain = serializer_and_rows("presentations", podiatrist)
    annotated_serializer, annotated = serializer_and_rows("presentations", podiatrist, ordering="id")
    assert not hasattr(plain[0], "current_step") and hasattr(annotated[0], "current_step")

    with_rows = [as_json(plain_serializer.to_representation(p)) for p in plain]
    with_sql = [as_json(annotated_serializer.to_representation(p)) for p in annotated]

    assert with_rows == with_sql
    assert [(row["current_rung"], row["latest_pain_walking"]) for row in with_rows] == [(None, None), (2, 4), (1, None)]


def test_the_list_reads_its_facts_with_the_page_and_its_output_in_none(records, podiatrist, django_assert_num_queries):
    serializer, page = serializer_and_rows("presentations", podiatrist)
    with django_assert_num_queries(0):  # the treatments and visits came in the page query
        representations.attach_facts(page)

    with django_assert_num_queries(0):
        built = [serializer.to_representation(p) for p in page]
    assert [len(row["treatments"]) for row in built] == [0, 2, 1]


def test_without_them_in_the_query_the_facts_of_any_number_of_presentations_are_one_query(
    records, django_assert_num_queries
):
    presentations = list(Presentation.objects.select_related("patient__clinic").order_by("pk"))
    with django_assert_num_queries(1):  # the treatments and visits of them all, one UNION ALL
        representations.attach_facts(presentations)


def test_the_facts_read_with_the_page_are_the_facts_read_on_their_own(records, podiatrist):
    # Same-day visits and treatments too: the ladder's order is (date, id) whichever way they were read.
    imaged = records[1]
    VisitFactory(presentation=imaged, clinician=podiatrist, seen_on=D(2026, 2, 16), pain_walking=6, pain_rest=1)
    TreatmentFactory(presentation=imaged, clinician=podiatrist, started_on=D(2026, 2, 16), kind="orthosis")
    _, with_page = serializer_and_rows("presentations", podiatrist)
    alone = list(Presentation.objects.select_related("patient__clinic").order_by("pk"))
    representations.attach_facts(with_page)
    representations.attach_facts(alone)

    def facts(p):
        return (p.treatment_facts, p.visit_facts, p.current_step, p.latest_pain_walking, p.next_step)

    assert [facts(p) for p in with_page] == [facts(p) for p in alone]
    assert [v.pain_walking for v in alone[1].visit_facts] == [7, 4, 6]


def test_the_list_shows_each_presentations_treatments_in_ladder_order_with_public_rungs(api, records):
    body = api.get("/api/v1/presentations/").json()
    imaged = next(row for row in body["results"] if row["id"] == records[1].pk)
    assert [(t["kind"], t["rung"], t["response"]) for t in imaged["treatments"]] == [
        ("footwear_modification", 1, "partial"),
        ("orthosis", 2, "pending"),
    ]
    assert (imaged["current_rung"], imaged["current_rung_label"]) == (2, "2 · orthosis")
    assert imaged["size_mm"] == "5.0"


def test_timestamps_are_written_by_drfs_datetime_field(api, records):
    body = api.get(f"/api/v1/presentations/{records[0].pk}/").json()
    records[0].refresh_from_db()
    assert body["created_at"] == api_serializers.serializers.DateTimeField().to_representation(records[0].created_at)


def test_the_recommendation_has_one_json_form_in_the_list_the_detail_and_next_step(api, records):
    imaged = records[1]
    listed = next(row for row in api.get("/api/v1/presentations/").json()["results"] if row["id"] == imaged.pk)
    detail = api.get(f"/api/v1/presentations/{imaged.pk}/").json()
    next_step = api.get(f"/api/v1/presentations/{imaged.pk}/next-step/").json()

    assert listed["recommendation"] == detail["recommendation"] == next_step
    expected = api_serializers.recommendation_data(imaged.recommendation())
    assert next_step == as_json(expected)
    assert next_step["target_rung"] == ladder.rung_of_step(imaged.recommendation().target_step)

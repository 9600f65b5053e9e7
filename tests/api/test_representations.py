"""The hand-built presentation JSON equals what the declared serializer fields give, for every shape of record."""

import datetime
import json
from decimal import Decimal

import pytest
from rest_framework.test import APIRequestFactory

from api.representations import attach_facts
from api.serializers import PresentationSerializer
from api.views import PresentationViewSet
from cases.choices import PresentationStatus, Response
from cases.models import Presentation
from cases.selectors import scope
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

D = datetime.date


def as_json(value):
    return json.loads(json.dumps(value))


@pytest.fixture
def records(clinic, podiatrist):
    bare = PresentationFactory(patient=PatientFactory(clinic=clinic), onset_on=None, symptoms=[])
    imaged = PresentationFactory(
        patient=PatientFactory(clinic=clinic), imaging="mri", size_mm=Decimal("5"), notes="Wide shoes help."
    )
    VisitFactory(presentation=imaged, clinician=podiatrist, seen_on=D(2026, 1, 5), pain_walking=7, pain_rest=2)
    VisitFactory(presentation=imaged, clinician=podiatrist, seen_on=D(2026, 2, 16), pain_walking=4)
    TreatmentFactory(
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
    closed = PresentationFactory(
        patient=PatientFactory(clinic=clinic),
        status=PresentationStatus.CLOSED,
        imaging="ultrasound",
        size_mm=Decimal("12.5"),
    )
    TreatmentFactory(presentation=closed, clinician=podiatrist, ended_on=D(2026, 2, 1))
    return [bare, imaged, closed]


def test_the_hand_built_json_equals_the_declared_fields_for_every_presentation(records, podiatrist):
    request = APIRequestFactory().get("/api/v1/presentations/")
    request.user = podiatrist
    view = PresentationViewSet(request=request, format_kwarg=None, action="retrieve")
    serializer = PresentationSerializer(context={"request": request})
    annotated = list(scope(view.base_queryset(summary=True), podiatrist).order_by("pk"))
    prefetched_only = list(scope(view.base_queryset(summary=False), podiatrist).order_by("pk"))

    for with_summary, without in zip(annotated, prefetched_only, strict=True):
        declared = as_json(serializer.declared_representation(with_summary))
        assert as_json(serializer.to_representation(with_summary)) == declared
        assert as_json(serializer.to_representation(without)) == declared
    assert [len(serializer.to_representation(p)["treatments"]) for p in annotated] == [0, 2, 1]


def test_a_page_built_from_attached_plain_rows_equals_the_declared_fields_without_a_lookup(
    records, podiatrist, django_assert_num_queries
):
    request = APIRequestFactory().get("/api/v1/presentations/")
    request.user = podiatrist
    view = PresentationViewSet(request=request, format_kwarg=None, action="retrieve")
    serializer = PresentationSerializer(context={"request": request})
    prefetched = list(scope(view.base_queryset(summary=True), podiatrist).order_by("pk"))
    page = list(scope(Presentation.objects.select_related("patient__clinic"), podiatrist).order_by("pk"))
    with django_assert_num_queries(2):  # the page's treatments, then its visits
        attach_facts(page)

    with django_assert_num_queries(0):
        built = [as_json(serializer.to_representation(p)) for p in page]
    assert built == [as_json(serializer.declared_representation(p)) for p in prefetched]
    assert [len(row["treatments"]) for row in built] == [0, 2, 1]


def test_a_plain_page_leaves_the_summary_to_the_prefetched_rows_and_ordering_brings_it_back(api, records):
    plain = api.get("/api/v1/presentations/").json()["results"]
    ordered = api.get("/api/v1/presentations/?ordering=-id").json()["results"]
    assert plain == ordered
    assert {row["id"]: row["latest_pain_walking"] for row in plain}[records[1].pk] == 4


def test_the_list_shows_each_presentations_treatments_in_ladder_order(api, records):
    body = api.get("/api/v1/presentations/").json()
    imaged = next(row for row in body["results"] if row["id"] == records[1].pk)
    assert [(t["kind"], t["rung"], t["response"]) for t in imaged["treatments"]] == [
        ("footwear_modification", 1.0, "partial"),
        ("orthosis", 2.0, "pending"),
    ]
    assert imaged["size_mm"] == "5.0"

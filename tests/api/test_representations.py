"""The hand-built presentation JSON equals what the declared serializer fields give, for every shape of record."""

import datetime
import json
from decimal import Decimal

import pytest
from rest_framework.test import APIRequestFactory

from api.serializers import PresentationSerializer
from api.views import PresentationViewSet
from cases.choices import PresentationStatus, Response
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
    view = PresentationViewSet(request=request, format_kwarg=None, action="list")
    presentations = list(view.get_queryset().order_by("pk"))
    serializer = PresentationSerializer(context={"request": request})

    for presentation in presentations:
        assert as_json(serializer.to_representation(presentation)) == as_json(
            serializer.declared_representation(presentation)
        )
    assert [len(serializer.to_representation(p)["treatments"]) for p in presentations] == [0, 2, 1]


def test_the_list_shows_each_presentations_treatments_in_ladder_order(api, records):
    body = api.get("/api/v1/presentations/").json()
    imaged = next(row for row in body["results"] if row["id"] == records[1].pk)
    assert [(t["kind"], t["rung"], t["response"]) for t in imaged["treatments"]] == [
        ("footwear_modification", 1.0, "partial"),
        ("orthosis", 2.0, "pending"),
    ]
    assert imaged["size_mm"] == "5.0"

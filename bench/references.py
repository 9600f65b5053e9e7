"""The two references the presentations list is measured against, mounted only by ``bench.urls``.

- *naive*: what most projects ship — a DRF viewset with nested ModelSerializers and no query tuning;
  every row looks up its treatments, visits and clinic on its own (N+1).
- *floor*: a plain Django view that answers with ONE hand-written SQL query (token, clinic scope,
  the page, its patients, treatments and visits) and builds the same JSON with no framework in between.

Both give the same fields as ``GET /api/v1/presentations/`` (the floor's ``next`` link is a plain
``?after=<id>`` rather than DRF's signed cursor). They are benchmarks' yardsticks, never production code.
"""

from __future__ import annotations

import datetime
import zoneinfo
from types import SimpleNamespace

import orjson
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework import serializers, viewsets

from api import serializers as api_serializers
from api.models import token_digest
from cases import ladder, selectors
from cases.models import Patient, Presentation, Treatment

PAGE_SIZE = 50

# --- naive --------------------------------------------------------------------------------------


class NaivePatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = api_serializers.PatientSummarySerializer.Meta.fields


class NaiveTreatmentSerializer(serializers.ModelSerializer):
    rung = api_serializers.RungOfKindField(source="kind")

    class Meta:
        model = Treatment
        fields = api_serializers.TreatmentSummarySerializer.Meta.fields


class NaivePresentationSerializer(serializers.ModelSerializer):
    patient_summary = NaivePatientSerializer(source="patient")
    treatments = NaiveTreatmentSerializer(many=True)
    current_rung = serializers.SerializerMethodField()
    current_rung_label = serializers.SerializerMethodField()
    last_visit_on = serializers.SerializerMethodField()
    latest_pain_walking = serializers.SerializerMethodField()
    latest_pain_rest = serializers.SerializerMethodField()
    recommendation = serializers.SerializerMethodField()

    class Meta:
        model = Presentation
        # The same fields, in the same order, as the API's list: the comparison is like for like.
        fields = api_serializers.PresentationSerializer.Meta.fields

    def _latest_visit(self, presentation):
        return presentation.visits.order_by("-seen_on", "-pk").first()

    def get_current_rung(self, presentation):
        return ladder.rung_of_step(ladder.highest_step(presentation.treatments.all()))

    def get_current_rung_label(self, presentation):
        return ladder.rung_label(ladder.highest_step(presentation.treatments.all()))

    def get_last_visit_on(self, presentation):
        visit = self._latest_visit(presentation)
        return visit.seen_on.isoformat() if visit else None

    def get_latest_pain_walking(self, presentation):
        visit = self._latest_visit(presentation)
        return visit.pain_walking if visit else None

    def get_latest_pain_rest(self, presentation):
        visit = self._latest_visit(presentation)
        return visit.pain_rest if visit else None

    def get_recommendation(self, presentation):
        return api_serializers.RecommendationSerializer(presentation.recommendation()).data


class NaivePresentationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = NaivePresentationSerializer
    schema = None  # a yardstick, not part of the API's contract

    def get_queryset(self):
        return selectors.scope(Presentation.objects.order_by("-pk"), self.request.user)


# --- floor --------------------------------------------------------------------------------------

# The token's user and clinics, the page of presentations in those clinics (keyset on id, newest
# first, one extra row to know there is a next page), each with its patient, clinic time zone, and
# its treatments and visits as JSON arrays. Everything the response shows, in one round trip.
FLOOR_SQL = """
WITH caller AS (
    SELECT u.id, u.is_superuser
    FROM api_apitoken t JOIN auth_user u ON u.id = t.user_id
    WHERE t.digest = %(digest)s AND t.revoked_at IS NULL AND t.expires_at > now() AND u.is_active
),
page AS (
    SELECT p.*
    FROM cases_presentation p JOIN cases_patient pt ON pt.id = p.patient_id
    WHERE EXISTS (SELECT 1 FROM caller)
      AND ((SELECT is_superuser FROM caller) OR pt.clinic_id IN (
            SELECT m.clinic_id FROM cases_membership m WHERE m.user_id = (SELECT id FROM caller)))
      AND (%(after)s::bigint IS NULL OR p.id < %(after)s::bigint)
    ORDER BY p.id DESC
    LIMIT %(limit)s
)
SELECT page.id, page.patient_id, pt.mrn, pt.given_name, pt.family_name, pt.birth_date, pt.sex,
       page.foot, page.interspace, page.onset_on, page.first_seen_on, page.symptoms, page.aggravating_factors,
       page.relieving_factors, page.pain_at_rest, page.risk_factors, page.exam_signs, page.imaging,
       page.size_mm::text, page.unusual_size_confirmed, page.icd10_code, page.status, page.notes,
       page.created_at, page.updated_at, c.time_zone,
       (SELECT json_agg(json_build_array(t.id, t.kind, t.started_on, t.ended_on, t.response,
                                         t.response_assessed_on, t.justification) ORDER BY t.started_on, t.id)
          FROM cases_treatment t WHERE t.presentation_id = page.id),
       (SELECT json_agg(json_build_array(v.seen_on, v.pain_walking, v.pain_rest, v.relief_since_previous)
                        ORDER BY v.seen_on, v.id)
          FROM cases_visit v WHERE v.presentation_id = page.id),
       (SELECT 1 FROM caller)
FROM page JOIN cases_patient pt ON pt.id = page.patient_id JOIN cases_clinic c ON c.id = pt.clinic_id
ORDER BY page.id DESC
"""

_day = datetime.date.fromisoformat


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _floor_presentation(row: tuple, today_by_zone: dict) -> dict:
    (pk, patient_id, mrn, given, family, birth, sex, foot, interspace, onset, first_seen, symptoms, aggravating,
     relieving, pain_at_rest, risk, signs, imaging, size, confirmed, icd10, status, notes, created, updated, zone,
     treatment_rows, visit_rows, _) = row  # fmt: skip
    treatments = [
        SimpleNamespace(
            pk=t[0],
            kind=t[1],
            started_on=_day(t[2]),
            ended_on=t[3] and _day(t[3]),
            response=t[4],
            response_assessed_on=t[5] and _day(t[5]),
            justification=t[6],
        )
        for t in treatment_rows or ()
    ]
    visits = [
        SimpleNamespace(seen_on=_day(v[0]), pain_walking=v[1], pain_rest=v[2], relief_since_previous=v[3])
        for v in visit_rows or ()
    ]
    if zone not in today_by_zone:
        today_by_zone[zone] = timezone.localdate(timezone=zoneinfo.ZoneInfo(zone))
    step = ladder.highest_step(treatments)
    latest = visits[-1] if visits else None
    return {
        "id": pk,
        "patient": patient_id,
        "patient_summary": {
            "id": patient_id,
            "mrn": mrn,
            "given_name": given,
            "family_name": family,
            "birth_date": birth.isoformat(),
            "sex": sex,
        },
        "foot": foot,
        "interspace": interspace,
        "onset_on": onset and onset.isoformat(),
        "first_seen_on": first_seen.isoformat(),
        "symptoms": sorted(symptoms),
        "aggravating_factors": sorted(aggravating),
        "relieving_factors": sorted(relieving),
        "pain_at_rest": pain_at_rest,
        "risk_factors": sorted(risk),
        "exam_signs": sorted(signs),
        "imaging": imaging,
        "size_mm": size,
        "unusual_size_confirmed": confirmed,
        "icd10_code": icd10,
        "status": status,
        "notes": notes,
        "current_rung": ladder.rung_of_step(step),
        "current_rung_label": ladder.rung_label(step),
        "last_visit_on": latest and latest.seen_on.isoformat(),
        "latest_pain_walking": latest and latest.pain_walking,
        "latest_pain_rest": latest and latest.pain_rest,
        "treatments": [
            {
                "id": t.pk,
                "kind": t.kind,
                "rung": ladder.rung_of(t.kind),
                "started_on": t.started_on.isoformat(),
                "ended_on": t.ended_on and t.ended_on.isoformat(),
                "response": t.response,
                "response_assessed_on": t.response_assessed_on and t.response_assessed_on.isoformat(),
            }
            for t in treatments
        ],
        "recommendation": api_serializers.recommendation_data(
            ladder.recommend(treatments=treatments, visits=visits, today=today_by_zone[zone], closed=status != "active")
        ),
        "created_at": _stamp(created),
        "updated_at": _stamp(updated),
    }


def floor_presentations(request: HttpRequest) -> HttpResponse:
    """GET ?after=<id>: a page of 50 presentations in the caller's clinics, from one SQL query."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    after = request.GET.get("after")
    if scheme.lower() != "bearer" or not secret or (after is not None and not after.isdecimal()):
        return JsonResponse({"detail": "Give a bearer token and a numeric 'after'."}, status=400)
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, {"digest": token_digest(secret), "after": after, "limit": PAGE_SIZE + 1})
        rows = cursor.fetchall()
    today_by_zone: dict = {}
    results = [_floor_presentation(row, today_by_zone) for row in rows[:PAGE_SIZE]]
    next_url = None
    if len(rows) > PAGE_SIZE:
        next_url = request.build_absolute_uri(f"{request.path}?after={results[-1]['id']}")
    body = orjson.dumps({"next": next_url, "previous": None, "results": results})
    return HttpResponse(body, content_type="application/json")

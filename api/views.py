"""HTTP endpoints of /api/v1/: scope to the caller's clinics, hand writes to the services, shape responses.

Every collection is scoped to the caller's clinics before anything else happens, so another
clinic's record is simply not found (404). Writes carry ETags and honour If-Match; creates honour
Idempotency-Key. Clinical rules are not written here: ``cases`` decides, this layer translates.
Every read is audited once per request (``cases.audit``): a list with the patients of the page it
returned, a record or its timeline or next step as a view, the FHIR bundle as an export. Writes are
audited by the services they call.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, views, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from cases import reports, selectors, services
from cases.audit import AuditAction, audit_record
from cases.models import Complication, Patient, Presentation, Treatment, Visit
from clinic.db_routers import replica_reads

from . import exports, filters
from . import fhir as fhir_export
from . import serializers as api_serializers
from .concurrency import check_if_match, etag_for
from .idempotency import idempotent
from .representations import TREATMENT_FACTS, VISIT_FACTS, attach_facts

WRITE_METHODS = ["get", "post", "put", "patch", "head", "options"]


class ClinicRecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """List, create, retrieve and update one kind of clinic record. Clinical records are never deleted here."""

    http_method_names = WRITE_METHODS

    def base_queryset(self):
        raise NotImplementedError

    def get_queryset(self):
        return selectors.scope(self.base_queryset(), self.request.user)

    def clinic_id_of(self, instance) -> int:
        return selectors.clinic_id_of(instance)

    @property
    def queryset_model(self):
        return self.base_queryset().model

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force)
        except (exceptions.NotFound, Http404) as unknown:
            # DRF answers an unknown ?format= with 404; as a query parameter it is bad input, said as such.
            override = self.settings.URL_FORMAT_OVERRIDE
            if override and override in request.query_params:
                formats = sorted({r.format for r in self.get_renderers() if r.format != "api"})
                message = f"Unknown format; choose one of {', '.join(formats)}."
                raise exceptions.ValidationError({override: [message]}) from unknown
            raise

    def _respond(self, instance, status_code=status.HTTP_200_OK, **headers) -> Response:
        instance = self.get_queryset().get(pk=instance.pk)  # re-read with the list's annotations
        return Response(
            self.get_serializer(instance).data, status=status_code, headers={"ETag": etag_for(instance), **headers}
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self.listed = page if page is not None else queryset
        return page

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit_record(action=AuditAction.LIST, records=self.listed, object_type=self.queryset_model._meta.label_lower)
        return response

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        response = Response(self.get_serializer(instance).data, headers={"ETag": etag_for(instance)})
        audit_record(action=AuditAction.VIEW, record=instance)
        return response

    @idempotent
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = serializer.save()
        location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{instance.pk}/")
        return self._respond(instance, status.HTTP_201_CREATED, Location=location)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        with transaction.atomic():
            instance = self.get_object()
            # Lock the row and compare against its committed version, so two writers holding the
            # same ETag cannot both succeed.
            instance.updated_at = (
                self.queryset_model.objects.select_for_update().values_list("updated_at", flat=True).get(pk=instance.pk)
            )
            check_if_match(request, instance)
            serializer = self.get_serializer(instance, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            instance = serializer.save()
        return self._respond(instance)


@extend_schema_view(
    list=extend_schema(summary="List patients"),
    create=extend_schema(summary="Register a patient"),
    retrieve=extend_schema(summary="Read a patient"),
    update=extend_schema(summary="Replace a patient's details"),
    partial_update=extend_schema(summary="Change a patient's details"),
)
class PatientViewSet(ClinicRecordViewSet):
    """Patients of the caller's clinics. Archived, never deleted."""

    serializer_class = api_serializers.PatientSerializer
    filterset_class = filters.PatientFilter
    ordering_fields = ["mrn", "family_name", "birth_date", "created_at", "id"]

    def base_queryset(self):
        return fhir_export.patient_export_queryset() if self.action == "fhir" else Patient.objects.all()

    @extend_schema(request=None, summary="Archive a patient (clinical records are never deleted)")
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        with transaction.atomic():
            patient = self.get_object()
            patient.updated_at = Patient.objects.select_for_update().values_list("updated_at", flat=True).get(pk=pk)
            check_if_match(request, patient)
            services.patient_archive(patient=patient)
        return self._respond(patient)

    @extend_schema(
        summary="Export the patient's neuroma record as a FHIR R4 Bundle (type collection)",
        responses={
            (200, fhir_export.FHIR_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A FHIR R4 Bundle: Patient, a Condition per presentation, an Encounter per visit, "
                "Observations for pain (LOINC 72514-3) and MOxFQ domain scores, a Procedure per treatment.",
            )
        },
    )
    @action(detail=True, methods=["get"])
    def fhir(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        patient = self.get_object()
        bundle = fhir_export.patient_bundle(patient)
        audit_record(action=AuditAction.EXPORT, record=patient)
        return Response(bundle, content_type=fhir_export.FHIR_CONTENT_TYPE)


class PresentationQueryMixin:
    def base_queryset(self, *, summary: bool = True):
        presentations = Presentation.objects.with_summary() if summary else Presentation.objects.all()
        return presentations.select_related("patient", "patient__clinic").prefetch_related(
            # Only what the recommendation, the treatment summaries and the timeline read: a page of
            # 50 presentations brings a few hundred of these, and unread timestamps cost parsing.
            Prefetch("treatments", queryset=Treatment.objects.order_by("started_on", "pk").only(*TREATMENT_FACTS)),
            Prefetch("visits", queryset=Visit.objects.order_by("seen_on", "pk").only(*VISIT_FACTS)),
        )


class TimelineEventSerializer(serializers.Serializer):
    date = serializers.DateField()
    event = serializers.ChoiceField(
        choices=["visit", "treatment_started", "response_assessed", "treatment_ended", "complication"]
    )
    id = serializers.IntegerField(help_text="The visit, treatment or complication id.")
    summary = serializers.CharField()


class PainPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    pain_walking = serializers.IntegerField()
    pain_rest = serializers.IntegerField()


class TimelineSerializer(serializers.Serializer):
    presentation = serializers.IntegerField()
    events = TimelineEventSerializer(many=True)
    pain_trajectory = PainPointSerializer(many=True)


@extend_schema_view(
    list=extend_schema(summary="List presentations with current rung, latest pain and next step"),
    create=extend_schema(summary="Open a presentation (one foot, one interspace)"),
    retrieve=extend_schema(summary="Read a presentation"),
    update=extend_schema(summary="Replace a presentation"),
    partial_update=extend_schema(summary="Change a presentation"),
)
class PresentationViewSet(PresentationQueryMixin, ClinicRecordViewSet):
    """Neuroma episodes, with what a clinician scans: current rung, latest pain, recommendation."""

    serializer_class = api_serializers.PresentationSerializer
    filterset_class = filters.PresentationFilter
    ordering_fields = ["first_seen_on", "last_visit_on", "current_step", "status", "id"]
    SUMMARY_PARAMETERS = frozenset({"ordering", "rung"})

    def base_queryset(self, *, summary: bool = True):
        # A plain page reads its rung and latest pain from the treatments and visits it prefetches anyway
        # (api/representations.py); ordering or filtering on them needs them in SQL.
        if self.action == "list" and not self.SUMMARY_PARAMETERS & set(self.request.query_params):
            summary = False
        if self.action == "list" and self.paginator is not None:
            # The page's treatments and visits come as plain rows after paging (paginate_queryset): the
            # prefetch built a model instance and a queryset clone per row and presentation, half the page's time.
            presentations = Presentation.objects.with_summary() if summary else Presentation.objects.all()
            return presentations.select_related("patient", "patient__clinic")
        return super().base_queryset(summary=summary)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if self.action == "list" and page is not None:
            attach_facts(page)
        return page

    @extend_schema(
        summary="Every presentation of your clinics as CSV, streamed (for nightly integrations)",
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per presentation.")},
    )
    @action(
        detail=False, methods=["get"], renderer_classes=[*api_settings.DEFAULT_RENDERER_CLASSES, exports.CSVRenderer]
    )
    def export(self, request, format=None):  # format: the router's suffix route (export.json) passes it
        # The list's filters apply; the rows stream in id order whatever the ordering asked for.
        presentations = self.filter_queryset(selectors.scope(Presentation.objects.with_summary(), request.user))
        # Recorded before streaming starts, with every exported patient: one id query, one INSERT.
        audit_record(
            action=AuditAction.EXPORT,
            object_type="cases.presentation",
            patient_ids=presentations.order_by("patient_id").values_list("patient_id", flat=True).distinct(),
        )
        return exports.presentations_csv(presentations)

    @extend_schema(responses=TimelineSerializer, summary="Visits, treatments and complications in date order")
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        presentation = self.get_object()
        treatments = list(presentation.treatments.prefetch_related("complications"))
        visits = list(presentation.visits.all())
        events = [
            {
                "date": v.seen_on,
                "event": "visit",
                "id": v.pk,
                "summary": f"Pain {v.pain_walking}/10 walking, {v.pain_rest}/10 at rest",
            }
            for v in visits
        ]
        for t in treatments:
            label = t.get_kind_display()
            events.append(
                {"date": t.started_on, "event": "treatment_started", "id": t.pk, "summary": f"{label} started"}
            )
            if t.response_assessed_on:
                events.append(
                    {
                        "date": t.response_assessed_on,
                        "event": "response_assessed",
                        "id": t.pk,
                        "summary": f"{label}: {t.get_response_display().lower()}",
                    }
                )
            if t.ended_on:
                events.append({"date": t.ended_on, "event": "treatment_ended", "id": t.pk, "summary": f"{label} ended"})
            events.extend(
                {
                    "date": c.occurred_on,
                    "event": "complication",
                    "id": c.pk,
                    "summary": f"{c.get_kind_display()} after {label.lower()}",
                }
                for c in t.complications.all()
            )
        order = {
            name: i
            for i, name in enumerate(
                ["treatment_started", "visit", "response_assessed", "complication", "treatment_ended"]
            )
        }
        events.sort(key=lambda e: (e["date"], order[e["event"]], e["id"]))
        timeline = {
            "presentation": presentation.pk,
            "events": events,
            "pain_trajectory": [
                {"date": v.seen_on, "pain_walking": v.pain_walking, "pain_rest": v.pain_rest} for v in visits
            ],
        }
        audit_record(action=AuditAction.VIEW, record=presentation)
        return Response(TimelineSerializer(timeline).data)

    @extend_schema(
        responses=api_serializers.RecommendationSerializer, summary="The treatment ladder's recommended next step"
    )
    @action(detail=True, methods=["get"], url_path="next-step")
    def next_step(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        presentation = self.get_object()
        recommendation = self.get_serializer(presentation).data["recommendation"]
        audit_record(action=AuditAction.VIEW, record=presentation)
        return Response(recommendation)


@extend_schema_view(
    list=extend_schema(summary="List visits"),
    create=extend_schema(summary="Record a visit"),
    retrieve=extend_schema(summary="Read a visit"),
    update=extend_schema(summary="Replace a visit"),
    partial_update=extend_schema(summary="Correct a visit"),
)
class VisitViewSet(ClinicRecordViewSet):
    serializer_class = api_serializers.VisitSerializer
    filterset_class = filters.VisitFilter
    ordering_fields = ["seen_on", "id"]

    def base_queryset(self):
        return Visit.objects.select_related("presentation__patient")


@extend_schema_view(
    list=extend_schema(summary="List treatments"),
    create=extend_schema(summary="Start a treatment (the ladder rules apply)"),
    retrieve=extend_schema(summary="Read a treatment"),
    update=extend_schema(summary="Replace a treatment"),
    partial_update=extend_schema(summary="Record a response, an end date or a correction"),
)
class TreatmentViewSet(ClinicRecordViewSet):
    serializer_class = api_serializers.TreatmentSerializer
    filterset_class = filters.TreatmentFilter
    ordering_fields = ["started_on", "id"]

    def base_queryset(self):
        return Treatment.objects.select_related("presentation__patient").prefetch_related(
            Prefetch("complications", queryset=Complication.objects.order_by("occurred_on", "pk"))
        )


@extend_schema_view(
    list=extend_schema(summary="List complications"),
    create=extend_schema(summary="Record a complication of a treatment"),
    retrieve=extend_schema(summary="Read a complication"),
    update=extend_schema(summary="Replace a complication"),
    partial_update=extend_schema(summary="Change a complication (e.g. resolve it)"),
)
class ComplicationViewSet(ClinicRecordViewSet):
    serializer_class = api_serializers.ComplicationSerializer
    filterset_class = filters.ComplicationFilter
    ordering_fields = ["occurred_on", "id"]

    def base_queryset(self):
        return Complication.objects.select_related("treatment__presentation__patient")


class OutcomeReportView(views.APIView):
    """Outcomes per rung and alternative, computed in the database over the caller's clinics."""

    @extend_schema(
        parameters=[api_serializers.OutcomeReportQuerySerializer],
        responses=api_serializers.OutcomeReportSerializer,
        summary="Outcome report: responses, pain change, escalation and complications per rung",
    )
    def get(self, request):
        query = api_serializers.OutcomeReportQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        chosen = query.validated_data
        clinic_ids = [chosen["clinic"]] if "clinic" in chosen else selectors.clinic_ids_for(request.user)
        with replica_reads():  # a report may lag the primary by the replication delay
            rows = reports.outcome_report(
                clinic_ids=clinic_ids,
                date_from=chosen.get("date_from"),
                date_to=chosen.get("date_to"),
                clinician_id=chosen.get("clinician"),
                interspace=chosen.get("interspace"),
                sex=chosen.get("sex"),
                age_band=chosen.get("age_band"),
            )
        filters_applied = {name: str(value) for name, value in chosen.items()}
        # Aggregates over many patients, none identified: recorded as a view of the report, with no patient.
        audit_record(
            action=AuditAction.VIEW,
            object_type="report.outcomes",
            clinic_id=chosen.get("clinic") if "clinic" in chosen else None,
        )
        return Response(api_serializers.OutcomeReportSerializer({"filters": filters_applied, "rows": rows}).data)

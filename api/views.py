"""HTTP endpoints of /api/v1/: scope to the caller's clinics, hand writes to the services, shape responses.

Every collection is scoped to the caller's clinics before anything else happens, so another
clinic's record is simply not found (404). Writes carry ETags and honour If-Match; creates honour
Idempotency-Key. Clinical rules are not written here: ``cases`` decides, this layer translates.
Every read is audited once per request (``cases.audit``): a list with the patients of the page it
returned, a record or its timeline or next step as a view, the FHIR bundle as an export. Writes are
audited by the services they call.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import F, Prefetch, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status, views, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from cases import reports, selectors, services
from cases.audit import AuditAction, audit_record
from cases.followups import links as follow_up_links
from cases.followups import selectors as follow_up_selectors
from cases.followups.models import FollowUp, FollowUpLink
from cases.models import Clinic, Complication, Patient, Presentation, Treatment, Visit
from clinic.db_routers import replica_reads

from . import exports, filters
from . import fhir as fhir_export
from . import serializers as api_serializers
from .concurrency import check_if_match, etag_for
from .idempotency import idempotent
from .renderers import (
    FHIR_JSON_FORMATS,
    FHIRContentNegotiation,
    FHIRJSONRenderer,
    LegacyFHIRJSONRenderer,
    ORJSONRenderer,
)
from .representations import attach_facts, with_fact_rows

WRITE_METHODS = ["get", "post", "put", "patch", "head", "options"]


class UnknownFormatIsBadInput:
    """A view mixin: an unknown ``?format=`` is bad input (400 naming it), not a missing resource."""

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


class ClinicRecordViewSet(
    UnknownFormatIsBadInput,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """List, create, retrieve and update one kind of clinic record. Clinical records are never deleted here."""

    http_method_names = WRITE_METHODS
    filter_backends = [filters.FilterBackend, filters.OrderingFilter]

    def base_queryset(self):
        raise NotImplementedError

    def get_queryset(self):
        return selectors.scope(self.base_queryset(), self.request.user)

    def clinic_id_of(self, instance) -> int:
        return selectors.clinic_id_of(instance)

    @property
    def queryset_model(self):
        return self.base_queryset().model

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
        if not self.reread_created:
            return Response(
                self.get_serializer(self.as_created(instance)).data,
                status=status.HTTP_201_CREATED,
                headers={"ETag": etag_for(instance), "Location": location},
            )
        return self._respond(instance, status.HTTP_201_CREATED, Location=location)

    # Whether a created record is read again before it is shown: needed where the output has annotations
    # (a presentation's summary), not where the service's saved instance is the whole output.
    reread_created = True

    def as_created(self, instance):
        """The service's saved instance, ready to show (``reread_created = False``)."""
        return instance

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        # Nothing below catches an error: it ends the transaction, so the service needs no savepoint of its own.
        with services.single_transaction():
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
            if serializer.unchanged:
                # Nothing was saved (so no new ETag and no history row); the answer still shows the record.
                audit_record(action=AuditAction.VIEW, record=instance)
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
        with services.single_transaction():
            patient = self.get_object()
            patient.updated_at = Patient.objects.select_for_update().values_list("updated_at", flat=True).get(pk=pk)
            check_if_match(request, patient)
            services.patient_archive(patient=patient)
        return self._respond(patient)

    @extend_schema(
        summary="Export the patient's neuroma record as a FHIR R4 Bundle (type collection)",
        description="Served as `application/fhir+json` whether the client asks (Accept) for that, for "
        "`application/json+fhir`, `application/json` or anything; FHIR's `_format` parameter overrides Accept.",
        parameters=[
            OpenApiParameter(
                "_format",
                str,
                enum=sorted(FHIR_JSON_FORMATS),
                description="FHIR's format override: any of these means FHIR JSON; anything else answers 406.",
            )
        ],
        responses={
            (200, fhir_export.FHIR_CONTENT_TYPE): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A FHIR R4 Bundle: Patient, a Condition per presentation, an Encounter per visit, "
                "Observations for pain (LOINC 72514-3) and MOxFQ domain scores, a Procedure per treatment.",
            )
        },
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[FHIRJSONRenderer, LegacyFHIRJSONRenderer, ORJSONRenderer],
        content_negotiation_class=FHIRContentNegotiation,
    )
    def fhir(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        patient = self.get_object()
        bundle = fhir_export.patient_bundle(patient)
        audit_record(action=AuditAction.EXPORT, record=patient)
        return Response(bundle, content_type=fhir_export.FHIR_CONTENT_TYPE)


@extend_schema_view(
    list=extend_schema(summary="List presentations with current rung, latest pain and next step"),
    create=extend_schema(summary="Open a presentation (one foot, one interspace)"),
    retrieve=extend_schema(summary="Read a presentation"),
    update=extend_schema(summary="Replace a presentation"),
    partial_update=extend_schema(summary="Change a presentation"),
)
class PresentationViewSet(ClinicRecordViewSet):
    """Neuroma episodes, with what a clinician scans: current rung, latest pain, recommendation."""

    serializer_class = api_serializers.PresentationSerializer
    filterset_class = filters.PresentationFilter
    # current_step: the name this ordering had before current_rung, kept for the clients that use it.
    ordering_fields = ["first_seen_on", "last_visit_on", "current_rung", "current_step", "status", "id"]
    ordering_keys = {
        "current_rung": "ordering_rung",
        "current_step": "ordering_rung",
        "last_visit_on": "ordering_last_visit",
    }
    SUMMARY_PARAMETERS = frozenset({"ordering", "rung"})

    def base_queryset(self):
        # The summary (rung, latest pain) is computed from the treatments and visits that every
        # representation reads anyway (api/representations.py, attach_facts); ordering or filtering on
        # it needs it in SQL.
        summary = self.action == "list" and bool(self.SUMMARY_PARAMETERS & set(self.request.query_params))
        if summary:
            # The keys the ordering sorts by (ordering_keys): selected, because the next page's cursor is
            # read from each row's own value, and never NULL, so a case with no treatment or no visit yet
            # is reached too (as rung 0, and before every visit date).
            presentations = Presentation.objects.with_summary().annotate(
                ordering_rung=Coalesce(F("current_step"), 0),
                ordering_last_visit=Coalesce(F("last_visit_on"), Value(datetime.date.min)),
            )
        else:
            presentations = Presentation.objects.all()
        if self.action != "list":
            return presentations.select_related("patient__clinic")
        # A page shows the patient's summary and needs the clinic's time zone (its today), not the clinic:
        # the rest of those rows (contact details among them) is neither read nor converted for 50 rows a
        # page. Its treatments and visits come with each row (attach_facts reads them from there).
        presentations = presentations.select_related("patient").defer(*self.LIST_DEFERS)
        return with_fact_rows(presentations.annotate(clinic_time_zone=F("patient__clinic__time_zone")))

    LIST_DEFERS = (
        "patient__phone",
        "patient__email",
        "patient__archived",
        "patient__created_at",
        "patient__updated_at",
    )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            attach_facts(page)  # the recommendation per row, from the treatments and visits read with the page
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
        # Recorded before streaming starts, with every exported patient, in one INSERT: the database gathers
        # the patients' ids, so the export's memory does not grow with them.
        audit_record(action=AuditAction.EXPORT, object_type="cases.presentation", patient_ids=presentations)
        return exports.presentations_csv(presentations)

    @extend_schema(
        responses=api_serializers.TimelineSerializer, summary="Visits, treatments and complications in date order"
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        presentation = self.get_object()
        timeline = selectors.presentation_timeline(presentation)
        audit_record(action=AuditAction.VIEW, record=presentation)
        return Response(api_serializers.TimelineSerializer(timeline).data)

    @extend_schema(
        responses=api_serializers.RecommendationSerializer, summary="The treatment ladder's recommended next step"
    )
    @action(detail=True, methods=["get"], url_path="next-step")
    def next_step(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        presentation = self.get_object()
        recommendation = presentation.recommendation()  # its treatments and visits, on the clinic's today
        audit_record(action=AuditAction.VIEW, record=presentation)
        return Response(api_serializers.recommendation_data(recommendation))


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
    reread_created = False

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
    reread_created = False

    def as_created(self, instance):
        # Nothing can be recorded under a treatment before its own transaction commits.
        instance._prefetched_objects_cache = {"complications": Complication.objects.none()}
        return instance

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
                rung=chosen.get("rung"),
                with_mcid=True,
            )
        filters_applied = {name: str(value) for name, value in chosen.items()}
        # Aggregates over many patients, none identified: recorded as a view of the report, with no patient.
        audit_record(
            action=AuditAction.VIEW,
            object_type="report.outcomes",
            clinic_id=chosen.get("clinic") if "clinic" in chosen else None,
        )
        return Response(api_serializers.OutcomeReportSerializer({"filters": filters_applied, "rows": rows}).data)


# Follow-ups (docs/follow-ups.md)


@extend_schema_view(
    list=extend_schema(summary="List follow-ups: time points with their due dates, windows and statuses"),
    retrieve=extend_schema(summary="Read a follow-up with its answer and the links issued for it"),
)
class FollowUpViewSet(
    UnknownFormatIsBadInput, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The follow-ups the tracker plans from each presentation's treatments; they are never created here.

    Every action goes through the follow-up services, which decide what an open window, an answer or a
    status allows. The actions honour If-Match (the follow-up's ETag). Recording an answer honours
    Idempotency-Key; issuing a link does not, because a replay would have to store the token.
    """

    serializer_class = api_serializers.FollowUpSerializer
    filterset_class = filters.FollowUpFilter
    ordering_fields = ["due_on", "window_closes_on", "id"]
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        clinic_ids = selectors.clinic_ids_for(self.request.user)
        follow_ups = follow_up_selectors.follow_up_list(
            clinics=Clinic.objects.all() if clinic_ids is None else clinic_ids
        )
        return follow_ups.prefetch_related(
            Prefetch("links", queryset=FollowUpLink.objects.order_by("-created_at", "-pk"))
        )

    def clinic_id_of(self, instance) -> int:
        return selectors.clinic_id_of(instance)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self.listed = page if page is not None else queryset
        return page

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        audit_record(action=AuditAction.LIST, records=self.listed, object_type=FollowUp._meta.label_lower)
        return response

    def retrieve(self, request, *args, **kwargs):
        follow_up = self.get_object()
        response = Response(self.get_serializer(follow_up).data, headers={"ETag": etag_for(follow_up)})
        audit_record(action=AuditAction.VIEW, record=follow_up)
        return response

    def _locked(self, request) -> FollowUp:
        """The follow-up in the URL, its row locked, once the client's If-Match names its current version."""
        follow_up = self.get_object()
        follow_up.updated_at = (
            FollowUp.objects.select_for_update().values_list("updated_at", flat=True).get(pk=follow_up.pk)
        )
        check_if_match(request, follow_up)
        return follow_up

    def _body(self, serializer_class, request) -> dict:
        body = serializer_class(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        return dict(body.validated_data)

    def _respond(self, follow_up: FollowUp, status_code=status.HTTP_200_OK) -> Response:
        follow_up = self.get_queryset().get(pk=follow_up.pk)  # re-read with its answer, links and counts
        return Response(self.get_serializer(follow_up).data, status=status_code, headers={"ETag": etag_for(follow_up)})

    @extend_schema(
        request=api_serializers.EmptyBodySerializer,
        responses={201: api_serializers.FollowUpLinkIssuedSerializer},
        summary="Issue a one-time link for the patient (its token is shown in this response only)",
        description="The follow-up must be open and its window open. The link expires at the window's close.",
    )
    @action(detail=True, methods=["post"])
    def link(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        with transaction.atomic():
            follow_up = self._locked(request)
            self._body(api_serializers.EmptyBodySerializer, request)
            link, token = services.follow_up_link_issue(follow_up=follow_up, issued_by=request.user)
        issued = {
            "id": link.pk,
            "follow_up_id": follow_up.pk,
            "token": token,
            "url": follow_up_links.url_for(token),
            "expires_at": link.expires_at,
        }
        # The token is in this body only: never stored in clear, never cached on the way.
        return Response(
            api_serializers.FollowUpLinkIssuedSerializer(issued).data,
            status=status.HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )

    @extend_schema(
        request=api_serializers.FollowUpLinkRevokeSerializer,
        responses=api_serializers.FollowUpSerializer,
        summary="Revoke the follow-up's links (each then opens nothing and says so)",
    )
    @action(detail=True, methods=["post"], url_path="link/revoke")
    def link_revoke(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        with transaction.atomic():
            follow_up = self._locked(request)
            reason = self._body(api_serializers.FollowUpLinkRevokeSerializer, request)["reason"]
            for link in follow_up.links.filter(revoked_at__isnull=True).order_by("pk"):
                services.follow_up_link_revoke(link=link, reason=reason)
        return self._respond(follow_up)

    @extend_schema(
        request=api_serializers.FollowUpAnswerRecordSerializer,
        responses={201: api_serializers.FollowUpSerializer},
        summary="Record the patient's answers in clinic (tablet) or read over the phone",
        description="One answer per follow-up: a second is refused (409) and writes nothing. The window must be open.",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def answer(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        with transaction.atomic():
            follow_up = self._locked(request)
            answers = self._body(api_serializers.FollowUpAnswerRecordSerializer, request)
            services.follow_up_answer_record(follow_up=follow_up, recorded_by=request.user, **answers)
        return self._respond(follow_up, status.HTTP_201_CREATED)

    @extend_schema(
        request=api_serializers.EmptyBodySerializer,
        responses=api_serializers.FollowUpSerializer,
        summary="Send the patient a message with a new link at the next sending run (one-click resend)",
    )
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        with transaction.atomic():
            follow_up = self._locked(request)
            self._body(api_serializers.EmptyBodySerializer, request)
            services.follow_up_resend(follow_up=follow_up)
        return self._respond(follow_up)

    @extend_schema(
        request=api_serializers.EmptyBodySerializer,
        responses=api_serializers.FollowUpSerializer,
        summary="Record that the patient declined this follow-up (no further messages; its links revoked)",
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None, format=None):  # format: the router's suffix routes (….json) pass it
        with transaction.atomic():
            follow_up = self._locked(request)
            self._body(api_serializers.EmptyBodySerializer, request)
            services.follow_up_decline(follow_up=follow_up, recorded_by=request.user)
        return self._respond(follow_up)

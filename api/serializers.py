"""Translate between JSON and the case record. Writes are handed to ``cases.services``.

Field names and enum codes are the domain's (DOMAIN.md §2). Range checks come from the model
fields; ``cases.services`` then runs the model's ``full_clean()`` (cross-field rules and the
treatment ladder) before anything is saved, so the API never re-implements a clinical rule.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases import ladder, reports, selectors, services
from cases.choices import AggravatingFactor, ExamSign, RelievingFactor, RiskFactor, Sex, Symptom, TreatmentKind
from cases.followups.choices import MOXFQ_ITEM_MAX, MOXFQ_ITEMS_PER_DOMAIN, AnswerChannel, GlobalImpression
from cases.followups.models import FollowUp, FollowUpAnswer, FollowUpLink
from cases.models import Clinic, Complication, Patient, Presentation, Treatment, Visit

from .representations import CompiledOutput, attach_facts, has_facts

User = get_user_model()
READ_ONLY_STAMPS = ("id", "created_at", "updated_at")


class JsonTypeMixin:
    """Refuse a JSON value of the wrong type instead of coercing it, as the schema promises.

    DRF is lenient by default: it stores ``0`` as the note ``"0"``, reads ``"5"`` as pain 5 and
    ``true`` as the record with id 1. A client that sends the wrong type has a bug it should hear about.
    """

    json_types: tuple[type, ...] = (str,)
    wrong_type_error = "invalid"

    def check_json_type(self, value) -> None:
        if (isinstance(value, bool) and bool not in self.json_types) or not isinstance(value, self.json_types):
            self.fail(self.wrong_type_error, data_type=type(value).__name__)

    def to_internal_value(self, value):
        self.check_json_type(value)
        return super().to_internal_value(value)


class StrictCharField(JsonTypeMixin, serializers.CharField):
    pass


class StrictEmailField(JsonTypeMixin, serializers.EmailField):
    pass


class StrictSlugField(JsonTypeMixin, serializers.SlugField):
    pass


class StrictDecimalField(JsonTypeMixin, serializers.DecimalField):
    """A decimal as a string (``"2.5"``, as in responses) or a JSON number (``2.5``), as clients send them.

    A number is read from its shortest decimal form (``str(2.5)``), so ``25.1`` is 25.1, not a binary float.
    """

    json_types = (str, int, float)


class StrictIntegerField(JsonTypeMixin, serializers.IntegerField):
    json_types = (int, float)  # 3.0 is the integer 3 in JSON; 3.5 is refused by IntegerField itself


class StrictBooleanField(JsonTypeMixin, serializers.BooleanField):
    json_types = (bool,)


class StrictPrimaryKeyRelatedField(JsonTypeMixin, serializers.PrimaryKeyRelatedField):
    json_types = (int,)
    wrong_type_error = "incorrect_type"


class CodeSetField(serializers.MultipleChoiceField):
    """A set of value-set codes, as a sorted JSON array."""

    def to_internal_value(self, data):
        if not isinstance(data, list):  # a JSON array; an object or a string is iterable too, but not a set of codes
            self.fail("not_a_list", input_type=type(data).__name__)
        return sorted(super().to_internal_value(data))

    def to_representation(self, value):
        return sorted(value or [])


RUNG_SCHEMA = {
    "type": "number",
    "minimum": 1,
    "maximum": 4,
    "description": "Ladder rung: 1 footwear, 2 orthosis, 3 corticosteroid injection, 3.5 an alternative "
    "(alcohol injection, radiofrequency ablation, cryoneurolysis), 4 neurectomy.",
}


@extend_schema_field(RUNG_SCHEMA)
class RungOfStepField(serializers.ReadOnlyField):
    """A ladder position as clients read it (``ladder.rung_of_step``): 1–4, 3.5 for the alternatives."""

    def to_representation(self, step: int) -> int | float | None:
        return ladder.rung_of_step(step)


@extend_schema_field(RUNG_SCHEMA)
class RungOfKindField(serializers.ReadOnlyField):
    """The rung of a treatment kind (``ladder.rung_of``)."""

    def to_representation(self, kind: str) -> int | float:
        return ladder.rung_of(kind)


@extend_schema_field({"type": "string", "example": "3–4 · alternative"})
class RungLabelField(serializers.ReadOnlyField):
    """A ladder position for a person (``ladder.rung_label``): "2 · orthosis", or an em dash before any treatment."""

    # What "no position" is read as, so that it reaches the label (DRF writes null for a None value).
    none_as = 0

    def get_attribute(self, instance):
        step = super().get_attribute(instance)
        return self.none_as if step is None else step

    def to_representation(self, step: int) -> str:
        return ladder.rung_label(step)


def _writable_clinic_ids(request) -> list[int] | None:
    return selectors.clinic_ids_for(request.user, roles=selectors.WRITE_ROLES)


def _scoped(queryset, request):
    clinic_ids = _writable_clinic_ids(request)
    return queryset if clinic_ids is None else queryset.in_clinics(clinic_ids)


class ScopedRelatedField(StrictPrimaryKeyRelatedField):
    """A reference to a record in a clinic where the caller may write; any other id 'does not exist'."""

    def get_queryset(self):
        return _scoped(super().get_queryset(), self.context["request"])


class PresentationToWriteUnder(ScopedRelatedField):
    """The presentation a new visit or treatment is recorded under.

    Inside the create's one transaction (``Idempotency-Key``) it is found in the caller's scope and locked
    in the same query (``services.presentation_for_write``), and the service writes under that lock.
    """

    def to_internal_value(self, value):
        if self.parent.instance is not None:  # a change: the record keeps its presentation (the service's rule)
            return super().to_internal_value(value)
        self.check_json_type(value)
        try:
            return services.presentation_for_write(self.get_queryset(), value)
        except ObjectDoesNotExist:
            self.fail("does_not_exist", pk_value=value)


class ClinicianField(StrictPrimaryKeyRelatedField):
    """A treating clinician (``selectors.treating_clinicians``) of one of the caller's writable clinics; the
    service then checks they work in the record's own clinic."""

    def get_queryset(self):
        return selectors.treating_clinicians(clinic_ids=_writable_clinic_ids(self.context["request"]))


UNKNOWN_FIELD = "Not a field of this record{hint}"
MOVED = "A {record} cannot move to another {parent}: record it under the new {parent} instead."
ECHOED_READ_ONLY = (
    "Read-only properties (id, created_at, updated_at, and those derived from the record) are ignored "
    "when sent back, so a body read with GET may be changed and sent again; any other property is refused."
)


class WriteSerializer(CompiledOutput, serializers.ModelSerializer):
    """Base for writes: one output definition (the declared fields, compiled), strict input, saves by the services.

    Input is strict: a property that names no field is refused (400, naming it) rather than dropped, so a
    misspelt score is never lost; read-only fields echoed back from a GET are ignored. ``parent_field``
    names the record's owner (a visit's presentation, a patient's clinic …): given on create, fixed
    afterwards, so a change naming another owner is refused. Uniqueness is left to the model (one rule,
    one 409). A change that leaves every field as it was saves nothing (``unchanged``): no audit event
    for a write, no history row, no new ETag.
    """

    parent_field: str | None = None
    unchanged = False
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
        models.SlugField: StrictSlugField,
        models.DecimalField: StrictDecimalField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
    }

    def get_validators(self):
        return []

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                writable = [name for name, field in self.fields.items() if not field.read_only]
                raise serializers.ValidationError({name: [_unknown_field(name, writable)] for name in unknown})
        attrs = super().to_internal_value(data)
        parent = self.parent_field
        # Checked like any reference (and required on PUT, as the schema says): the same owner is fine,
        # another one is refused rather than silently kept.
        sent_parent = attrs.pop(parent, None) if parent and self.instance is not None else None
        if sent_parent is not None and sent_parent != getattr(self.instance, parent):
            record = self.Meta.model._meta.verbose_name
            raise serializers.ValidationError({parent: [MOVED.format(record=record, parent=parent)]})
        return attrs

    def update(self, instance, validated_data):
        if all(_same(getattr(instance, name), value) for name, value in validated_data.items()):
            self.unchanged = True
            return instance
        return self.save_change(instance, validated_data)

    def save_change(self, instance, validated_data):
        raise NotImplementedError

    @property
    def user(self):
        return self.context["request"].user


def _unknown_field(name: str, writable: list[str]) -> str:
    close = difflib.get_close_matches(name, writable, n=1)
    return UNKNOWN_FIELD.format(hint=f"; did you mean {close[0]!r}?" if close else ".")


def _same(stored: Any, sent: Any) -> bool:
    if isinstance(sent, list):  # a set of codes, sent and stored in any order
        return sorted(stored or []) == sent
    return stored == sent


class WritableClinicField(StrictPrimaryKeyRelatedField):
    """A clinic where the caller may write; any other id "does not exist", exactly like an unknown one."""

    def get_queryset(self):
        clinic_ids = _writable_clinic_ids(self.context["request"])
        clinics = Clinic.objects.all()
        return clinics if clinic_ids is None else clinics.filter(pk__in=clinic_ids)


# Patients


class PatientSerializer(WriteSerializer):
    parent_field = "clinic"
    clinic = WritableClinicField(
        queryset=Clinic.objects.all(),
        required=False,
        help_text="Required only for users who work in more than one clinic.",
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "clinic",
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "sex",
            "phone",
            "email",
            "archived",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [*READ_ONLY_STAMPS, "archived"]

    def validate(self, attrs):
        if self.instance is None and "clinic" not in attrs:
            allowed = _writable_clinic_ids(self.context["request"])
            if allowed is None or len(allowed) != 1:
                raise serializers.ValidationError({"clinic": ["Give the clinic: you work in more than one."]})
            attrs["clinic"] = Clinic.objects.get(pk=allowed[0])
        return attrs

    def create(self, validated_data):
        return services.patient_create(**validated_data)

    def save_change(self, instance, validated_data):
        return services.patient_update(patient=instance, **validated_data)


# Presentations


class PatientSummarySerializer(CompiledOutput, serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "mrn", "given_name", "family_name", "birth_date", "sex"]


class WorseningFindingSerializer(serializers.Serializer):
    """One measurement behind a worsening flag: rest pain at a visit, or walking pain between two visits."""

    measure = serializers.CharField(help_text="pain_rest or pain_walking.")
    seen_on = serializers.DateField()
    value = serializers.IntegerField()
    previous_seen_on = serializers.DateField(allow_null=True)
    previous_value = serializers.IntegerField(allow_null=True)
    text = serializers.CharField(help_text="As the reason quotes it, e.g. 'rest pain 2/10 at the visit of 8 Nov 2026'.")


class RecommendationSerializer(CompiledOutput, serializers.Serializer):
    """The treatment ladder's recommended next step, with the reason."""

    # Reads a ``ladder.Recommendation``; the list, the detail and next-step all answer it through this.

    action = serializers.ChoiceField(choices=[a.value for a in ladder.Action])
    summary = serializers.CharField()
    reason = serializers.CharField()
    target_rung = RungOfStepField(
        source="target_step", allow_null=True, help_text="The rung to move to, when escalating or considering surgery."
    )
    worsening = serializers.BooleanField(help_text="Rest pain, or walking pain rising between visits.")
    worsening_evidence = WorseningFindingSerializer(
        many=True, help_text="The measurements that flag the case as worsening (empty when it is not)."
    )
    stalled = serializers.BooleanField(help_text="The trial has ended with no response recorded.")
    lost_to_follow_up = serializers.BooleanField(
        help_text="The trial has ended and nobody has seen the patient for LADDER_LOST_TO_FOLLOW_UP_WEEKS: review."
    )
    revision = serializers.BooleanField(
        help_text="After a neurectomy without complete relief: consider revision surgery."
    )
    last_seen_on = serializers.DateField(allow_null=True, help_text="The last visit, treatment start or assessment.")
    trial_ends_on = serializers.DateField(allow_null=True)


def recommendation_data(recommendation: ladder.Recommendation) -> dict[str, Any]:
    """The one JSON form of a recommendation (``RecommendationSerializer``'s fields)."""
    return _RECOMMENDATION.to_representation(recommendation)


_RECOMMENDATION = RecommendationSerializer()


class TreatmentSummarySerializer(CompiledOutput, serializers.ModelSerializer):
    """A treatment as listed with its presentation (read from a model instance or a plain row of facts)."""

    id = serializers.IntegerField(source="pk", read_only=True)
    rung = RungOfKindField(source="kind")

    class Meta:
        model = Treatment
        fields = ["id", "kind", "rung", "started_on", "ended_on", "response", "response_assessed_on"]


class PresentationSerializer(WriteSerializer):
    """A neuroma presentation with what a clinician scans: its patient, current rung, latest pain, treatments
    and the treatment ladder's recommended next step."""

    # The summary, the treatments and the next step are read from ``attach_facts``: a list's page query
    # brings them with each row (``with_fact_rows``), a single record gets them on first output.
    parent_field = "patient"
    patient = ScopedRelatedField(queryset=Patient.objects.all())
    symptoms = CodeSetField(choices=Symptom.choices, required=False)
    aggravating_factors = CodeSetField(choices=AggravatingFactor.choices, required=False)
    relieving_factors = CodeSetField(choices=RelievingFactor.choices, required=False)
    risk_factors = CodeSetField(choices=RiskFactor.choices, required=False)
    exam_signs = CodeSetField(choices=ExamSign.choices, required=False)
    patient_summary = PatientSummarySerializer(source="patient", read_only=True)
    current_rung = RungOfStepField(
        source="current_step", allow_null=True, help_text="Derived from the treatments; null before the first one."
    )
    current_rung_label = RungLabelField(source="current_step")
    last_visit_on = serializers.DateField(read_only=True, allow_null=True)
    latest_pain_walking = serializers.IntegerField(read_only=True, allow_null=True)
    latest_pain_rest = serializers.IntegerField(read_only=True, allow_null=True)
    treatments = TreatmentSummarySerializer(source="treatment_facts", many=True, read_only=True)
    recommendation = RecommendationSerializer(source="next_step", read_only=True)

    class Meta:
        model = Presentation
        fields = [
            "id",
            "patient",
            "patient_summary",
            "foot",
            "interspace",
            "onset_on",
            "first_seen_on",
            "symptoms",
            "aggravating_factors",
            "relieving_factors",
            "pain_at_rest",
            "risk_factors",
            "exam_signs",
            "imaging",
            "size_mm",
            "unusual_size_confirmed",
            "icd10_code",
            "status",
            "notes",
            "current_rung",
            "current_rung_label",
            "last_visit_on",
            "latest_pain_walking",
            "latest_pain_rest",
            "treatments",
            "recommendation",
            "created_at",
            "updated_at",
        ]
        read_only_fields = READ_ONLY_STAMPS

    def to_representation(self, presentation):
        if not has_facts(presentation):
            attach_facts([presentation])
        return super().to_representation(presentation)

    def create(self, validated_data):
        return services.presentation_create(**validated_data)

    def save_change(self, instance, validated_data):
        return services.presentation_update(presentation=instance, **validated_data)


# Visits, treatments, complications


class VisitSerializer(WriteSerializer):
    parent_field = "presentation"
    presentation = PresentationToWriteUnder(queryset=Presentation.objects.all())
    clinician = ClinicianField(queryset=User.objects.all(), required=False, help_text="Defaults to the caller.")

    class Meta:
        model = Visit
        fields = [
            "id",
            "presentation",
            "seen_on",
            "clinician",
            "pain_walking",
            "pain_rest",
            "moxfq_walking_standing",
            "moxfq_pain",
            "moxfq_social",
            "relief_since_previous",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = READ_ONLY_STAMPS

    def create(self, validated_data):
        validated_data.setdefault("clinician", self.user)
        return services.visit_record(**validated_data)

    def save_change(self, instance, validated_data):
        return services.visit_update(visit=instance, **validated_data)


class ComplicationSerializer(WriteSerializer):
    parent_field = "treatment"
    treatment = ScopedRelatedField(queryset=Treatment.objects.all())

    class Meta:
        model = Complication
        fields = [
            "id",
            "treatment",
            "kind",
            "occurred_on",
            "resolved",
            "resolved_on",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = READ_ONLY_STAMPS

    def create(self, validated_data):
        return services.complication_record(**validated_data)

    def save_change(self, instance, validated_data):
        return services.complication_update(complication=instance, **validated_data)


class TreatmentSerializer(WriteSerializer):
    parent_field = "presentation"
    presentation = PresentationToWriteUnder(queryset=Presentation.objects.all())
    clinician = ClinicianField(queryset=User.objects.all(), required=False, help_text="Defaults to the caller.")
    rung = RungOfKindField(source="kind")
    complications = ComplicationSerializer(many=True, read_only=True)

    class Meta:
        model = Treatment
        fields = [
            "id",
            "presentation",
            "kind",
            "rung",
            "orthosis_type",
            "injection_drug",
            "dose_mg",
            "volume_ml",
            "ultrasound_guided",
            "approach",
            "histology_confirmed",
            "unusual_dose_confirmed",
            "started_on",
            "ended_on",
            "clinician",
            "response",
            "response_assessed_on",
            "justification",
            "complications",
            "created_at",
            "updated_at",
        ]
        read_only_fields = READ_ONLY_STAMPS

    def create(self, validated_data):
        validated_data.setdefault("clinician", self.user)
        return services.treatment_start(**validated_data)

    def save_change(self, instance, validated_data):
        return services.treatment_update(treatment=instance, **validated_data)


# The timeline


class TimelineEventSerializer(serializers.Serializer):
    date = serializers.DateField()
    event = serializers.ChoiceField(choices=[kind.value for kind in selectors.TimelineEventKind])
    id = serializers.IntegerField(help_text="The visit, treatment or complication id.")
    summary = serializers.CharField()


class PainPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    pain_walking = serializers.IntegerField()
    pain_rest = serializers.IntegerField()


class TimelineSerializer(serializers.Serializer):
    presentation = serializers.IntegerField(source="presentation_id")
    events = TimelineEventSerializer(many=True)
    pain_trajectory = PainPointSerializer(many=True)


# Reports


class OutcomeReportQuerySerializer(serializers.Serializer):
    """The outcome report's filters, read from the query string."""

    date_from = serializers.DateField(required=False, help_text="Treatments started on or after this date.")
    date_to = serializers.DateField(required=False, help_text="Treatments started on or before this date.")
    clinic = serializers.IntegerField(required=False, min_value=1, help_text="One of your clinics.")
    clinician = serializers.IntegerField(required=False, min_value=1, help_text="The treating clinician's id.")
    interspace = serializers.IntegerField(required=False, min_value=1, max_value=4)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False)
    age_band = serializers.ChoiceField(
        choices=list(reports.AGE_BANDS), required=False, help_text="Age at the treatment's start."
    )
    rung = serializers.ChoiceField(
        choices=ladder.RUNG_CHOICES, required=False, help_text="1–4, 3.5 for the alternatives: only that rung's rows."
    )

    def validate_clinic(self, clinic_id: int) -> int:
        allowed = selectors.clinic_ids_for(self.context["request"].user)
        if allowed is not None and clinic_id not in allowed:
            # The same answer for a clinic that does not exist and one that is not yours.
            raise serializers.ValidationError("Not one of your clinics.")
        return clinic_id

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": ["Must be on or after date_from."]})
        return attrs


class MeasureAttainmentSerializer(serializers.Serializer):
    """One measure at a follow-up time point: how many presentations reached its MCID (DOMAIN.md §6b)."""

    time_point = serializers.ChoiceField(choices=[(point, point) for point in reports.MCID_TIME_POINTS])
    measure = serializers.ChoiceField(
        choices=["pain_walking", "pain_rest", "moxfq_walking_standing", "moxfq_pain", "moxfq_social"]
    )
    n = serializers.IntegerField(help_text="Presentations with a baseline and an answer on this measure.")
    missing = serializers.IntegerField(help_text="Window closed without an answer on this measure, or no baseline.")
    mcid_reached = serializers.IntegerField()
    mcid_rate = serializers.FloatField(allow_null=True, help_text="Of n, 0–1.")
    acceptable_reached = serializers.IntegerField(allow_null=True, help_text="Walking pain only: NRS ≤ 2.")
    acceptable_rate = serializers.FloatField(allow_null=True, help_text="Of n, 0–1.")
    mcid_source = serializers.CharField(help_text="Where the MCID value comes from.")


class OutcomeRowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TreatmentKind.choices)
    rung = RungOfStepField(source="step")
    rung_label = RungLabelField(source="step")
    started = serializers.IntegerField()
    assessed = serializers.IntegerField(help_text="Treatments with a response recorded (complete, partial, none).")
    complete = serializers.IntegerField()
    partial = serializers.IntegerField()
    none = serializers.IntegerField()
    pending = serializers.IntegerField()
    complete_rate = serializers.FloatField(allow_null=True, help_text="Of assessed treatments, 0–1.")
    partial_rate = serializers.FloatField(allow_null=True, help_text="Of assessed treatments, 0–1.")
    none_rate = serializers.FloatField(allow_null=True, help_text="Of assessed treatments, 0–1.")
    pending_rate = serializers.FloatField(allow_null=True, help_text="Of started treatments, 0–1.")
    median_walking_pain_change = serializers.FloatField(
        allow_null=True, help_text="Walking pain at assessment minus at start (NRS points; negative is better)."
    )
    escalated = serializers.IntegerField(help_text="Followed by a treatment on a higher rung.")
    escalation_rate = serializers.FloatField(allow_null=True, help_text="Of started treatments, 0–1.")
    median_days_to_escalation = serializers.FloatField(allow_null=True)
    with_complication = serializers.IntegerField()
    complication_rate = serializers.FloatField(allow_null=True, help_text="Of started treatments, 0–1.")
    against_mcid = MeasureAttainmentSerializer(
        many=True, help_text="MCID and acceptable-state attainment at 6 and 12 months, from the follow-up answers."
    )


class OutcomeReportSerializer(serializers.Serializer):
    filters = serializers.DictField(help_text="The filters applied, as understood.")
    rows = OutcomeRowSerializer(many=True)


# Follow-ups (docs/follow-ups.md): read here, written only through the follow-up services.


class StrictBodySerializer(serializers.Serializer):
    """An action's request body: a property that names no field is refused (400, naming it), as on the records."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                writable = [name for name, field in self.fields.items() if not field.read_only]
                raise serializers.ValidationError({name: [_unknown_field(name, writable)] for name in unknown})
        return super().to_internal_value(data)


class FollowUpAnswerSerializer(CompiledOutput, serializers.ModelSerializer):
    """What the patient answered, and how it reached the record (MOxFQ item answers 0–4, never the wording)."""

    class Meta:
        model = FollowUpAnswer
        fields = [
            "channel",
            "answered_at",
            "answered_on",
            "recorded_by",
            "pain_walking",
            "pain_rest",
            "relief",
            "global_impression",
            "moxfq_items",
            "moxfq_walking_standing",
            "moxfq_pain",
            "moxfq_social",
        ]


class FollowUpLinkSummarySerializer(CompiledOutput, serializers.ModelSerializer):
    """A link issued for the follow-up, without its token (only a digest is stored): why it opens or not."""

    class Meta:
        model = FollowUpLink
        fields = [
            "id",
            "created_at",
            "expires_at",
            "issued_by",
            "revoked_at",
            "revoked_reason",
            "birth_date_attempts",
            "locked_at",
            "confirmed_at",
            "used_at",
        ]


class FollowUpSerializer(CompiledOutput, serializers.ModelSerializer):
    """A planned follow-up: its time point, due date, window and status, its answer, and the links issued for it."""

    patient = serializers.IntegerField(source="presentation.patient_id", read_only=True)
    messages_delivered = serializers.IntegerField(read_only=True, help_text="Messages sent to the patient so far.")
    answer = FollowUpAnswerSerializer(read_only=True, allow_null=True, help_text="Null until answered.")
    links = FollowUpLinkSummarySerializer(many=True, read_only=True, help_text="Newest first.")

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "presentation",
            "patient",
            "treatment",
            "clinician",
            "time_point",
            "due_on",
            "window_opens_on",
            "window_closes_on",
            "status",
            "status_changed_at",
            "next_message_at",
            "messages_sent",
            "messages_delivered",
            "answer",
            "links",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class EmptyBodySerializer(StrictBodySerializer):
    """This action takes no properties: send `{}` or no body."""


class FollowUpLinkIssuedSerializer(serializers.Serializer):
    """A new link: its token is in this response only (the tracker keeps a digest), so hand it on now."""

    id = serializers.IntegerField(help_text="The link's id, as listed under the follow-up's links.")
    follow_up = serializers.IntegerField(source="follow_up_id")
    token = serializers.CharField(help_text="Shown once; the link opens only with it.")
    url = serializers.URLField(help_text="The patient's page (it asks for the birth date first).")
    expires_at = serializers.DateTimeField(help_text="The end of the window's last day in the clinic's zone.")


class FollowUpLinkRevokeSerializer(StrictBodySerializer):
    reason = StrictCharField(max_length=200, help_text="Why, for staff (e.g. 'sent to an old address').")


STAFF_CHANNELS = [(c.value, c.label) for c in AnswerChannel if c != AnswerChannel.LINK]


class FollowUpAnswerRecordSerializer(WriteSerializer):
    """Answers recorded by staff: the patient on a tablet in clinic, or read over the phone.

    The same questions as the patient's page. MOxFQ either as 16 item answers (only where the clinic has
    configured its licensed item texts) or as the three domain scores; never both. Ranges are the answer
    record's own.
    """

    channel = serializers.ChoiceField(choices=STAFF_CHANNELS)
    global_impression = StrictIntegerField(
        min_value=GlobalImpression.VERY_MUCH_IMPROVED,
        max_value=GlobalImpression.VERY_MUCH_WORSE,
        help_text="Patient Global Impression of Change: "
        + ", ".join(f"{value} {label.lower()}" for value, label in GlobalImpression.choices)
        + ".",
    )
    moxfq_items = serializers.ListField(
        child=StrictIntegerField(min_value=0, max_value=MOXFQ_ITEM_MAX, allow_null=True),
        max_length=sum(MOXFQ_ITEMS_PER_DOMAIN.values()),
        required=False,
        allow_null=True,
        help_text="MOxFQ item answers 0–4 (null for one not answered), in the clinic's item order.",
    )

    class Meta:
        model = FollowUpAnswer
        fields = [
            "channel",
            "pain_walking",
            "pain_rest",
            "relief",
            "global_impression",
            "moxfq_items",
            "moxfq_walking_standing",
            "moxfq_pain",
            "moxfq_social",
        ]
        extra_kwargs = {name: {"required": True} for name in ("pain_walking", "pain_rest", "relief")}

"""Translate between JSON and the case record. Writes are handed to ``cases.services``.

Field names and enum codes are the domain's (DOMAIN.md §2). Range checks come from the model
fields; ``cases.services`` then runs the model's ``full_clean()`` (cross-field rules and the
treatment ladder) before anything is saved, so the API never re-implements a clinical rule.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases import ladder, reports, services
from cases.choices import AggravatingFactor, ExamSign, RelievingFactor, RiskFactor, Sex, Symptom, TreatmentKind
from cases.models import Clinic, Complication, Patient, Presentation, Treatment, Visit
from cases.selectors import WRITE_ROLES, clinic_ids_for

from . import representations

User = get_user_model()
READ_ONLY_STAMPS = ("id", "created_at", "updated_at")


class JsonTypeMixin:
    """Refuse a JSON value of the wrong type instead of coercing it, as the schema promises.

    DRF is lenient by default: it stores ``0`` as the note ``"0"``, reads ``"5"`` as pain 5 and
    ``true`` as the record with id 1. A client that sends the wrong type has a bug it should hear about.
    """

    json_types: tuple[type, ...] = (str,)
    wrong_type_error = "invalid"

    def to_internal_value(self, value):
        if (isinstance(value, bool) and bool not in self.json_types) or not isinstance(value, self.json_types):
            self.fail(self.wrong_type_error, data_type=type(value).__name__)
        return super().to_internal_value(value)


class StrictCharField(JsonTypeMixin, serializers.CharField):
    pass


class StrictEmailField(JsonTypeMixin, serializers.EmailField):
    pass


class StrictSlugField(JsonTypeMixin, serializers.SlugField):
    pass


class StrictDecimalField(JsonTypeMixin, serializers.DecimalField):
    """A decimal as a string (``"2.5"``), as in responses: a JSON number would pass through a binary float."""


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


def _writable_clinic_ids(request) -> list[int] | None:
    return clinic_ids_for(request.user, roles=WRITE_ROLES)


def _scoped(queryset, request):
    clinic_ids = _writable_clinic_ids(request)
    return queryset if clinic_ids is None else queryset.in_clinics(clinic_ids)


class ScopedRelatedField(StrictPrimaryKeyRelatedField):
    """A reference to a record in a clinic where the caller may write; any other id 'does not exist'."""

    def get_queryset(self):
        return _scoped(super().get_queryset(), self.context["request"])


class ClinicianField(StrictPrimaryKeyRelatedField):
    """A clinician who works (podiatrist or clinic admin) in one of the caller's writable clinics."""

    def get_queryset(self):
        clinic_ids = _writable_clinic_ids(self.context["request"])
        users = User.objects.filter(is_active=True)
        if clinic_ids is None:
            return users
        return users.filter(memberships__clinic__in=clinic_ids, memberships__role__in=WRITE_ROLES).distinct()


class WriteSerializer(serializers.ModelSerializer):
    """Base for writes: uniqueness is left to the model (one rule, one 409), saving to the services.

    ``parent_field`` names the record's owner (a visit's presentation, a patient's clinic …): it is
    given on create and fixed afterwards, so a record never moves between owners.
    """

    parent_field: str | None = None
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
        attrs = super().to_internal_value(data)
        if self.instance is not None and self.parent_field:
            # Checked like any reference (and required on PUT, as the schema says), then dropped:
            # a record never moves to another owner.
            attrs.pop(self.parent_field, None)
        return attrs

    @property
    def user(self):
        return self.context["request"].user


# Patients


class PatientSerializer(WriteSerializer):
    parent_field = "clinic"
    clinic = StrictPrimaryKeyRelatedField(
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

    def validate_clinic(self, clinic: Clinic) -> Clinic:
        allowed = _writable_clinic_ids(self.context["request"])
        if allowed is not None and clinic.pk not in allowed:
            raise serializers.ValidationError("You cannot add patients to this clinic.", code="does_not_exist")
        return clinic

    def validate(self, attrs):
        if self.instance is None and "clinic" not in attrs:
            allowed = _writable_clinic_ids(self.context["request"])
            if allowed is None or len(allowed) != 1:
                raise serializers.ValidationError({"clinic": ["Give the clinic: you work in more than one."]})
            attrs["clinic"] = Clinic.objects.get(pk=allowed[0])
        return attrs

    def create(self, validated_data):
        return services.patient_create(**validated_data)

    def update(self, instance, validated_data):
        return services.patient_update(patient=instance, **validated_data)


# Presentations


class PatientSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "mrn", "given_name", "family_name", "birth_date", "sex"]


class RecommendationSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[a.value for a in ladder.Action])
    summary = serializers.CharField()
    reason = serializers.CharField()
    target_rung = serializers.IntegerField(allow_null=True, help_text="1–4, when escalating or considering surgery.")
    worsening = serializers.BooleanField(help_text="Rest pain, or walking pain rising between visits.")
    stalled = serializers.BooleanField(help_text="The trial has ended with no response recorded.")
    trial_ends_on = serializers.DateField(allow_null=True)


class TreatmentSummarySerializer(serializers.ModelSerializer):
    """A treatment as listed with its presentation."""

    rung = serializers.SerializerMethodField(help_text="Ladder position: 1–4, 3.5 for the alternatives.")

    class Meta:
        model = Treatment
        fields = ["id", "kind", "rung", "started_on", "ended_on", "response", "response_assessed_on"]

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_rung(self, treatment) -> float:
        return ladder.step_of(treatment.kind) / 10


class PresentationSerializer(WriteSerializer):
    parent_field = "patient"
    patient = ScopedRelatedField(queryset=Patient.objects.all())
    symptoms = CodeSetField(choices=Symptom.choices, required=False)
    aggravating_factors = CodeSetField(choices=AggravatingFactor.choices, required=False)
    relieving_factors = CodeSetField(choices=RelievingFactor.choices, required=False)
    risk_factors = CodeSetField(choices=RiskFactor.choices, required=False)
    exam_signs = CodeSetField(choices=ExamSign.choices, required=False)
    patient_summary = PatientSummarySerializer(source="patient", read_only=True)
    current_rung = serializers.SerializerMethodField(
        help_text="Derived from the treatments: 1–4, 3.5 for alternatives."
    )
    current_rung_label = serializers.SerializerMethodField()
    last_visit_on = serializers.DateField(read_only=True, allow_null=True)
    latest_pain_walking = serializers.IntegerField(read_only=True, allow_null=True)
    latest_pain_rest = serializers.IntegerField(read_only=True, allow_null=True)
    treatments = TreatmentSummarySerializer(many=True, read_only=True)
    recommendation = serializers.SerializerMethodField()

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

    @extend_schema_field(serializers.FloatField(allow_null=True))  # null until a treatment has started
    def get_current_rung(self, presentation) -> float | None:
        step = getattr(presentation, "current_step", None)
        return step / 10 if step else None

    def to_representation(self, presentation):
        # The presentations list is the hottest read: built by hand (api/representations.py), held equal
        # to the declared fields' output by tests/api/test_representations.py.
        return representations.presentation(presentation, today=self.context.get("today"))

    def declared_representation(self, presentation) -> dict:
        """What the declared fields give: the contract ``to_representation`` must match."""
        return super().to_representation(presentation)

    def get_current_rung_label(self, presentation) -> str:
        return ladder.rung_label(getattr(presentation, "current_step", None))

    @extend_schema_field(RecommendationSerializer)
    def get_recommendation(self, presentation):
        today = self.context.get("today") or presentation.patient.clinic.today()
        rec = presentation.recommendation(today=today)
        return RecommendationSerializer(
            {
                "action": rec.action.value,
                "summary": rec.summary,
                "reason": rec.reason,
                "target_rung": rec.target_rung,
                "worsening": rec.worsening,
                "stalled": rec.stalled,
                "trial_ends_on": rec.trial_ends_on,
            }
        ).data

    def create(self, validated_data):
        return services.presentation_create(**validated_data)

    def update(self, instance, validated_data):
        return services.presentation_update(presentation=instance, **validated_data)


# Visits, treatments, complications


class VisitSerializer(WriteSerializer):
    parent_field = "presentation"
    presentation = ScopedRelatedField(queryset=Presentation.objects.all())
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

    def update(self, instance, validated_data):
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

    def update(self, instance, validated_data):
        return services.complication_update(complication=instance, **validated_data)


class TreatmentSerializer(WriteSerializer):
    parent_field = "presentation"
    presentation = ScopedRelatedField(queryset=Presentation.objects.all())
    clinician = ClinicianField(queryset=User.objects.all(), required=False, help_text="Defaults to the caller.")
    rung = serializers.SerializerMethodField(help_text="Ladder position: 1–4, 3.5 for the alternatives.")
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

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_rung(self, treatment) -> float:
        return ladder.step_of(treatment.kind) / 10

    def create(self, validated_data):
        validated_data.setdefault("clinician", self.user)
        return services.treatment_start(**validated_data)

    def update(self, instance, validated_data):
        return services.treatment_update(treatment=instance, **validated_data)


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

    def validate_clinic(self, clinic_id: int) -> int:
        allowed = clinic_ids_for(self.context["request"].user)
        if allowed is not None and clinic_id not in allowed:
            # The same answer for a clinic that does not exist and one that is not yours.
            raise serializers.ValidationError("Not one of your clinics.")
        return clinic_id

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": ["Must be on or after date_from."]})
        return attrs


class OutcomeRowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TreatmentKind.choices)
    rung = serializers.SerializerMethodField(help_text="1–4, 3.5 for the alternatives.")
    rung_label = serializers.CharField(source="rung")
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

    def get_rung(self, row: reports.OutcomeRow) -> float:
        return row.step / 10


class OutcomeReportSerializer(serializers.Serializer):
    filters = serializers.DictField(help_text="The filters applied, as understood.")
    rows = OutcomeRowSerializer(many=True)

"""Visits, treatments (the ladder's rungs), complications, and the outcome facts the report reads."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .. import ladder
from ..choices import (
    ComplicationKind,
    InjectionDrug,
    NeurectomyApproach,
    OrthosisType,
    Relief,
    Response,
    TreatmentKind,
)
from ..validators import injection_warnings
from .base import IMAGE_GUIDED_KINDS, INJECTABLE_KINDS, MOXFQ_SCORE, PAIN_NRS, ClinicScopedQuerySet, Timestamped
from .patient import Presentation, _not_before_birth, _not_future


class Visit(Timestamped):
    CLINIC_PATH = "presentation__patient__clinic"

    presentation = models.ForeignKey(Presentation, on_delete=models.PROTECT, related_name="visits")
    seen_on = models.DateField("visit date")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    pain_walking = models.PositiveSmallIntegerField("pain walking (NRS 0–10)", validators=PAIN_NRS)
    pain_rest = models.PositiveSmallIntegerField("pain at rest (NRS 0–10)", validators=PAIN_NRS)
    moxfq_walking_standing = models.PositiveSmallIntegerField(
        "MOxFQ walking/standing",
        null=True,
        blank=True,
        validators=MOXFQ_SCORE,
        help_text="Domain score 0–100 (100 worst).",
    )
    moxfq_pain = models.PositiveSmallIntegerField(
        "MOxFQ pain", null=True, blank=True, validators=MOXFQ_SCORE, help_text="Domain score 0–100 (100 worst)."
    )
    moxfq_social = models.PositiveSmallIntegerField(
        "MOxFQ social interaction",
        null=True,
        blank=True,
        validators=MOXFQ_SCORE,
        help_text="Domain score 0–100 (100 worst).",
    )
    relief_since_previous = models.CharField(
        max_length=10, choices=Relief.choices, blank=True, help_text="Patient-reported; blank at the first visit."
    )
    notes = models.TextField(blank=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["seen_on", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pain_walking__gte=0, pain_walking__lte=10), name="visit_pain_walking_0_10"
            ),
            models.CheckConstraint(condition=Q(pain_rest__gte=0, pain_rest__lte=10), name="visit_pain_rest_0_10"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 0, f"{name}__lte": 100}),
                    name=f"visit_{name}_0_100",
                )
                for name in ("moxfq_walking_standing", "moxfq_pain", "moxfq_social")
            ],
            models.CheckConstraint(
                condition=Q(relief_since_previous="") | Q(relief_since_previous__in=Relief.values),
                name="visit_relief_valid",
            ),
        ]
        indexes = [models.Index(fields=["presentation", "-seen_on"], name="visit_presentation_seen")]

    def __str__(self) -> str:
        return f"Visit on {ladder.format_day(self.seen_on)}"

    def clean(self):
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.presentation_id:
            patient = self.presentation.patient
            _not_future(errors, patient.clinic, seen_on=self.seen_on)
            if self.seen_on and self.seen_on < self.presentation.first_seen_on:
                errors.setdefault("seen_on", []).append(
                    f"A visit cannot be before the presentation was first seen ({self.presentation.first_seen_on})."
                )
        if errors:
            raise ValidationError(errors)


class Treatment(Timestamped):
    """One rung of the ladder, or an alternative, tried for a presentation."""

    CLINIC_PATH = "presentation__patient__clinic"

    presentation = models.ForeignKey(Presentation, on_delete=models.PROTECT, related_name="treatments")
    kind = models.CharField(max_length=30, choices=TreatmentKind.choices)
    orthosis_type = models.CharField(max_length=30, choices=OrthosisType.choices, blank=True)
    injection_drug = models.CharField(max_length=30, choices=InjectionDrug.choices, blank=True)
    dose_mg = models.DecimalField("dose (mg)", max_digits=5, decimal_places=1, null=True, blank=True)
    volume_ml = models.DecimalField("volume (ml)", max_digits=4, decimal_places=1, null=True, blank=True)
    ultrasound_guided = models.BooleanField(null=True, blank=True)
    approach = models.CharField(max_length=10, choices=NeurectomyApproach.choices, blank=True)
    histology_confirmed = models.BooleanField(null=True, blank=True)
    unusual_dose_confirmed = models.BooleanField(
        default=False, help_text="Tick to confirm a dose or volume outside the usual range is correct."
    )
    started_on = models.DateField("started")
    ended_on = models.DateField("ended", null=True, blank=True)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    response = models.CharField(max_length=10, choices=Response.choices, default=Response.PENDING)
    response_assessed_on = models.DateField("response assessed", null=True, blank=True)
    justification = models.TextField(
        blank=True,
        help_text="Why this treatment departs from the ladder (skipping a rung, neurectomy without failed "
        "conservative care, an injection beyond the interval or yearly limit).",
    )

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["started_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=TreatmentKind.values), name="treatment_kind_valid"),
            models.CheckConstraint(condition=Q(response__in=Response.values), name="treatment_response_valid"),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="treatment_end_not_before_start",
            ),
            models.CheckConstraint(
                condition=Q(response_assessed_on__isnull=True) | Q(response_assessed_on__gte=models.F("started_on")),
                name="treatment_response_not_before_start",
            ),
            models.CheckConstraint(
                condition=Q(response=Response.PENDING, response_assessed_on__isnull=True)
                | (~Q(response=Response.PENDING) & Q(response_assessed_on__isnull=False)),
                name="treatment_response_dated_when_assessed",
            ),
            models.CheckConstraint(
                condition=Q(kind=TreatmentKind.ORTHOSIS) | Q(orthosis_type=""),
                name="treatment_orthosis_type_only_for_orthosis",
            ),
            models.CheckConstraint(
                condition=Q(kind=TreatmentKind.CORTICOSTEROID_INJECTION) | Q(injection_drug=""),
                name="treatment_drug_only_for_steroid_injection",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=INJECTABLE_KINDS) | Q(dose_mg__isnull=True, volume_ml__isnull=True),
                name="treatment_dose_only_for_injections",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=IMAGE_GUIDED_KINDS) | Q(ultrasound_guided__isnull=True),
                name="treatment_guidance_only_for_procedures",
            ),
            models.CheckConstraint(
                condition=Q(kind=TreatmentKind.NEURECTOMY) | Q(approach="", histology_confirmed__isnull=True),
                name="treatment_surgical_details_only_for_neurectomy",
            ),
            models.CheckConstraint(
                condition=Q(dose_mg__isnull=True) | Q(dose_mg__gt=0), name="treatment_dose_mg_positive"
            ),
            models.CheckConstraint(
                condition=Q(volume_ml__isnull=True) | Q(volume_ml__gt=0), name="treatment_volume_ml_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["presentation", "started_on"], name="treatment_presentation_start"),
            models.Index(fields=["kind", "response"], name="treatment_kind_response"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {ladder.format_day(self.started_on)}"

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # What was just saved has been judged, as if loaded: a later response alone must not re-judge it.
        self._loaded_ladder_values = {name: getattr(self, name) for name in self.LADDER_FIELDS}

    @staticmethod
    def step_expression() -> models.Case:
        """The ladder position of ``kind`` as a SQL expression, for annotations and filters."""
        return models.Case(
            *[models.When(kind=kind, then=models.Value(step)) for kind, step in ladder.STEP_BY_KIND.items()],
            output_field=models.IntegerField(),
        )

    @property
    def step(self) -> int:
        return ladder.step_of(self.kind)

    def clean(self):
        super().clean()
        errors: dict[str, list[str]] = {}
        self._clean_kind_details(errors)
        if self.ended_on and self.started_on and self.ended_on < self.started_on:
            errors.setdefault("ended_on", []).append("The end date cannot be before the start date.")
        if self.response_assessed_on and self.started_on and self.response_assessed_on < self.started_on:
            errors.setdefault("response_assessed_on", []).append(
                "The response cannot be assessed before the start date."
            )
        if self.response and self.response != Response.PENDING and not self.response_assessed_on:
            errors.setdefault("response_assessed_on", []).append("Give the date the response was assessed.")
        if self.response == Response.PENDING and self.response_assessed_on:
            errors.setdefault("response", []).append("A response assessed on a date cannot be pending.")
        if self.presentation_id:
            patient = self.presentation.patient
            dates = {
                "started_on": self.started_on,
                "ended_on": self.ended_on,
                "response_assessed_on": self.response_assessed_on,
            }
            _not_future(errors, patient.clinic, **dates)
            _not_before_birth(errors, patient, **dates)
        if self.pk and self.started_on:
            # Moving the start must not leave a recorded complication before its treatment.
            earliest = self.complications.aggregate(earliest=models.Min("occurred_on"))["earliest"]
            if earliest and earliest < self.started_on:
                errors.setdefault("started_on", []).append(
                    f"The start cannot be after a recorded complication ({ladder.format_day(earliest)})."
                )
        if errors:
            raise ValidationError(errors)
        if self.ladder_check_needed():
            violations = self.ladder_violations()
            if violations:
                raise ValidationError([ValidationError(v.message, code=v.rule.value) for v in violations])

    # The ladder judges a treatment when it is started. Recording a response or an end date later
    # must not re-open that judgement against treatments added since.
    LADDER_FIELDS = ("presentation_id", "kind", "started_on", "justification")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_ladder_values = {name: getattr(instance, name, None) for name in cls.LADDER_FIELDS}
        return instance

    def ladder_check_needed(self) -> bool:
        loaded = getattr(self, "_loaded_ladder_values", None)
        if self._state.adding or loaded is None:
            return True
        return any(loaded[name] != getattr(self, name) for name in self.LADDER_FIELDS)

    def _clean_kind_details(self, errors: dict) -> None:
        def require(field_name: str, message: str) -> None:
            if getattr(self, field_name) in (None, ""):
                errors.setdefault(field_name, []).append(message)

        def forbid(field_names: list[str], what: str) -> None:
            for field_name in field_names:
                if getattr(self, field_name) not in (None, ""):
                    errors.setdefault(field_name, []).append(f"Only recorded for {what}.")

        kind = self.kind
        if kind == TreatmentKind.ORTHOSIS:
            require("orthosis_type", "Give the orthosis type.")
        else:
            forbid(["orthosis_type"], "an orthosis")
        if kind == TreatmentKind.CORTICOSTEROID_INJECTION:
            require("injection_drug", "Give the injected drug.")
        else:
            forbid(["injection_drug"], "a corticosteroid injection")
        if kind not in INJECTABLE_KINDS:
            forbid(["dose_mg", "volume_ml"], "injections")
        if kind not in IMAGE_GUIDED_KINDS:
            forbid(["ultrasound_guided"], "injections and ablations")
        if kind == TreatmentKind.NEURECTOMY:
            require("approach", "Give the surgical approach.")
        else:
            forbid(["approach", "histology_confirmed"], "a neurectomy")
        for field_name in ("dose_mg", "volume_ml"):
            value = getattr(self, field_name)
            if value is not None and value <= 0:
                errors.setdefault(field_name, []).append("Must be greater than zero.")
        # A non-positive amount is refused above; confirming it as unusual would not make it valid.
        warnings = injection_warnings(
            kind=kind,
            drug=self.injection_drug,
            dose_mg=self.dose_mg if self.dose_mg is not None and self.dose_mg > 0 else None,
            volume_ml=self.volume_ml if self.volume_ml is not None and self.volume_ml > 0 else None,
        )
        if warnings and not self.unusual_dose_confirmed:
            errors.setdefault("unusual_dose_confirmed", []).extend([*warnings, "Tick to confirm if it is correct."])

    # The presentation's treatments as the writing service read them under its lock (cases.services),
    # for the validation it runs; None: read them here.
    ladder_siblings = None

    def ladder_violations(self, siblings=None) -> list[ladder.Violation]:
        """The ladder rules this treatment breaks, against ``siblings`` or the presentation's stored treatments."""
        if not (self.presentation_id and self.kind in ladder.STEP_BY_KIND and self.started_on):
            return []  # an unknown kind is refused by the field's choices; the ladder cannot place it
        if siblings is None:
            siblings = self.ladder_siblings
        if siblings is None:
            siblings = list(self.presentation.treatments.exclude(pk=self.pk))
        return ladder.treatment_violations(self, siblings)


class Complication(Timestamped):
    CLINIC_PATH = "treatment__presentation__patient__clinic"

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="complications")
    kind = models.CharField(max_length=30, choices=ComplicationKind.choices)
    occurred_on = models.DateField("date")
    resolved = models.BooleanField(default=False)
    resolved_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ComplicationKind.values), name="complication_kind_valid"),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved=True, resolved_on__gte=models.F("occurred_on")),
                name="complication_resolved_on_after_occurred",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {ladder.format_day(self.occurred_on)}"

    def clean(self):
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.resolved_on and not self.resolved:
            errors.setdefault("resolved", []).append("Tick 'resolved' when giving a resolution date.")
        if self.resolved_on and self.occurred_on and self.resolved_on < self.occurred_on:
            errors.setdefault("resolved_on", []).append("A complication cannot resolve before it occurred.")
        if self.kind == ComplicationKind.OTHER and not (self.notes or "").strip():
            errors.setdefault("notes", []).append("Describe the complication when its kind is 'other'.")
        if self.treatment_id:
            clinic = self.treatment.presentation.patient.clinic
            _not_future(errors, clinic, occurred_on=self.occurred_on, resolved_on=self.resolved_on)
            if self.occurred_on and self.occurred_on < self.treatment.started_on:
                errors.setdefault("occurred_on", []).append(
                    f"A complication cannot precede its treatment (started {self.treatment.started_on})."
                )
        if errors:
            raise ValidationError(errors)


class TreatmentOutcome(models.Model):
    """What the outcome report needs to know about one treatment, derived from its presentation's record.

    Walking pain at the start and at the assessment, and the day a higher rung was first started, are
    per-treatment lookups over the presentation's visits and treatments; the report over a whole
    network of clinics reads them stored rather than looking each one up. ``cases.outcomes`` keeps
    them in step with every saved visit or treatment; nobody edits them by hand.
    """

    treatment = models.OneToOneField(Treatment, on_delete=models.CASCADE, primary_key=True, related_name="outcome")
    pain_walking_at_start = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_walking_at_assessment = models.PositiveSmallIntegerField(null=True, blank=True)
    escalated_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Outcome facts of treatment {self.treatment_id}"

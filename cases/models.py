"""The neuroma case record: clinics and their staff, patients, presentations, visits, treatments, complications.

Every hard range and cross-field rule is checked twice: in ``clean()``/field validators, so forms and
the API can report it against the right field, and as a database constraint named after the rule,
so no path (raw SQL, a bulk load, a bug) can write a row that breaks it. Rules that need other rows
(the treatment ladder, dates relative to the patient's birth) live in ``clean()`` and, for the
ladder, in ``cases.ladder``.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from . import ladder
from .choices import (
    ICD10_MORTON,
    AggravatingFactor,
    ComplicationKind,
    ExamSign,
    Foot,
    Imaging,
    InjectionDrug,
    NeurectomyApproach,
    OrthosisType,
    PresentationStatus,
    Relief,
    RelievingFactor,
    Response,
    RiskFactor,
    Role,
    Sex,
    Symptom,
    TreatmentKind,
)
from .fields import ChoiceSetField
from .history import RecordedWritesQuerySet, track_history
from .validators import injection_warnings, neuroma_size_warnings

PAIN_NRS = [MinValueValidator(0), MaxValueValidator(10)]
MOXFQ_SCORE = [MinValueValidator(0), MaxValueValidator(100)]
INJECTABLE_KINDS = [TreatmentKind.CORTICOSTEROID_INJECTION, TreatmentKind.ALCOHOL_INJECTION]
IMAGE_GUIDED_KINDS = [*INJECTABLE_KINDS, TreatmentKind.RADIOFREQUENCY_ABLATION, TreatmentKind.CRYONEUROLYSIS]
icd10_code = RegexValidator(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$", "Enter an ICD-10 code such as G57.6 or G57.61.")


def _time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def _default_time_zone() -> str:
    return settings.CLINIC_DEFAULT_TIME_ZONE


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    time_zone = models.CharField(
        max_length=64,
        choices=_time_zone_choices,
        default=_default_time_zone,
        help_text="Decides what 'today' is for this clinic's records.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def today(self) -> datetime.date:
        return timezone.localdate(timezone=zoneinfo.ZoneInfo(self.time_zone))


class Membership(models.Model):
    """A Django user's role in one clinic; a user may work in several."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "clinic"], name="membership_one_role_per_clinic"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} at {self.clinic}"


class ClinicScopedQuerySet(RecordedWritesQuerySet):
    """Clinical records: scoped by clinic, and never bulk-written around their history (``cases.history``)."""

    def in_clinics(self, clinics) -> ClinicScopedQuerySet:
        """Only rows belonging to the given clinics (ids, instances or a queryset)."""
        return self.filter(**{f"{self.model.CLINIC_PATH}__in": clinics})


class Patient(models.Model):
    CLINIC_PATH = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("medical record number", max_length=32)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, help_text="FHIR administrative gender.")
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    archived = models.BooleanField(default=False, help_text="Archived records are kept, never deleted.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicScopedQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name", "mrn"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "mrn"],
                name="patient_mrn_unique_per_clinic",
                violation_error_message="A patient with this medical record number already exists in this clinic.",
                violation_error_code="unique",
            ),
            models.CheckConstraint(condition=~Q(mrn=""), name="patient_mrn_not_blank"),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
        ]
        indexes = [models.Index(fields=["clinic", "family_name", "given_name"], name="patient_clinic_name")]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def clean(self):
        super().clean()
        entered, self.mrn = self.mrn, (self.mrn or "").strip()
        if entered and not self.mrn:
            # Only spaces: the field's own blank check saw text, so say it here.
            raise ValidationError({"mrn": self._meta.get_field("mrn").error_messages["blank"]})
        if self.birth_date and self.clinic_id and self.birth_date > self.clinic.today():
            raise ValidationError({"birth_date": "The birth date cannot be in the future."})
        if self.pk and self.birth_date:
            # Moving the birth date must not leave an already recorded clinical date before it.
            earliest = _earliest_clinical_date(self)
            if earliest and earliest < self.birth_date:
                raise ValidationError(
                    {"birth_date": f"The birth date cannot be after a recorded clinical date ({earliest.isoformat()})."}
                )


def _not_future(errors: dict, clinic: Clinic, **dates) -> None:
    today = clinic.today()
    for field_name, value in dates.items():
        if value and value > today:
            errors.setdefault(field_name, []).append(f"This date is in the future (today is {today.isoformat()}).")


def _earliest_clinical_date(patient: Patient) -> datetime.date | None:
    # Visits and complications cannot precede their presentation and treatment, so these bound them too.
    dates = Presentation.objects.filter(patient=patient).aggregate(
        onset=models.Min("onset_on"),
        first_seen=models.Min("first_seen_on"),
        started=models.Min("treatments__started_on"),
    )
    return min((day for day in dates.values() if day), default=None)


def _not_before_birth(errors: dict, patient: Patient, **dates) -> None:
    for field_name, value in dates.items():
        if value and patient.birth_date and value < patient.birth_date:
            errors.setdefault(field_name, []).append("This date is before the patient's birth date.")


class PresentationQuerySet(ClinicScopedQuerySet):
    def with_summary(self) -> PresentationQuerySet:
        """Annotate what a clinician scans: current ladder position, last visit and latest pain.

        Subqueries rather than joins, so the annotations never multiply rows and each list costs
        one query whatever its length.
        """
        visits = Visit.objects.filter(presentation=models.OuterRef("pk")).order_by("-seen_on", "-pk")
        return self.annotate(
            current_step=models.Subquery(
                Treatment.objects.filter(presentation=models.OuterRef("pk"))
                .annotate(step=Treatment.step_expression())
                .order_by("-step")
                .values("step")[:1]
            ),
            last_visit_on=models.Subquery(visits.values("seen_on")[:1]),
            latest_pain_walking=models.Subquery(visits.values("pain_walking")[:1]),
            latest_pain_rest=models.Subquery(visits.values("pain_rest")[:1]),
        )


class Presentation(models.Model):
    """One neuroma episode: one foot, one intermetatarsal space. A bilateral case is two presentations."""

    CLINIC_PATH = "patient__clinic"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="presentations")
    foot = models.CharField(max_length=5, choices=Foot.choices)
    interspace = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="The space between metatarsal heads n and n+1 (3 is the classic Morton's site).",
    )
    onset_on = models.DateField("onset", null=True, blank=True)
    first_seen_on = models.DateField("first seen")
    symptoms = ChoiceSetField(value_set=Symptom.choices)
    aggravating_factors = ChoiceSetField(value_set=AggravatingFactor.choices)
    relieving_factors = ChoiceSetField(value_set=RelievingFactor.choices)
    pain_at_rest = models.BooleanField(default=False)
    risk_factors = ChoiceSetField(value_set=RiskFactor.choices)
    exam_signs = ChoiceSetField("examination signs", value_set=ExamSign.choices)
    imaging = models.CharField(max_length=10, choices=Imaging.choices, default=Imaging.NONE)
    size_mm = models.DecimalField(
        "neuroma size (mm)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(40)],
        help_text="Transverse size on imaging, 0–40 mm.",
    )
    unusual_size_confirmed = models.BooleanField(
        default=False, help_text="Tick to confirm a neuroma size over 20 mm is correct."
    )
    icd10_code = models.CharField("ICD-10 code", max_length=8, default=ICD10_MORTON, validators=[icd10_code])
    status = models.CharField(max_length=10, choices=PresentationStatus.choices, default=PresentationStatus.ACTIVE)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PresentationQuerySet.as_manager()

    class Meta:
        ordering = ["-first_seen_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(foot__in=Foot.values), name="presentation_foot_valid"),
            models.CheckConstraint(
                condition=Q(interspace__gte=1, interspace__lte=4), name="presentation_interspace_1_4"
            ),
            models.CheckConstraint(
                condition=Q(size_mm__isnull=True) | Q(size_mm__gte=0, size_mm__lte=40),
                name="presentation_size_mm_0_40",
            ),
            models.CheckConstraint(
                condition=Q(size_mm__isnull=True) | ~Q(imaging=Imaging.NONE),
                name="presentation_size_needs_imaging",
            ),
            models.CheckConstraint(
                condition=Q(onset_on__isnull=True) | Q(onset_on__lte=models.F("first_seen_on")),
                name="presentation_onset_not_after_first_seen",
            ),
            models.CheckConstraint(condition=Q(imaging__in=Imaging.values), name="presentation_imaging_valid"),
            models.CheckConstraint(condition=Q(status__in=PresentationStatus.values), name="presentation_status_valid"),
            models.UniqueConstraint(
                fields=["patient", "foot", "interspace"],
                condition=Q(status=PresentationStatus.ACTIVE),
                name="presentation_one_active_per_site",
                violation_error_message="This patient already has an active presentation for this foot and interspace.",
                violation_error_code="unique",
            ),
        ]
        indexes = [models.Index(fields=["status", "-first_seen_on"], name="presentation_status_seen")]

    def __str__(self) -> str:
        return f"{self.get_foot_display()} foot, interspace {self.interspace}"

    @property
    def clinic(self) -> Clinic:
        return self.patient.clinic

    def clean(self):
        super().clean()
        errors: dict[str, list[str]] = {}
        if self.patient_id:
            _not_future(errors, self.patient.clinic, onset_on=self.onset_on, first_seen_on=self.first_seen_on)
            _not_before_birth(errors, self.patient, onset_on=self.onset_on, first_seen_on=self.first_seen_on)
            if self._state.adding and self.patient.archived:
                errors.setdefault("patient", []).append(
                    "This patient is archived: an archived patient gets no new presentation."
                )
        if self.onset_on and self.first_seen_on and self.onset_on > self.first_seen_on:
            errors.setdefault("onset_on", []).append("Onset cannot be after the date first seen.")
        if self.size_mm is not None and self.imaging == Imaging.NONE:
            errors.setdefault("imaging", []).append("A neuroma size needs the imaging it was measured on.")
        # Only a size inside the hard 0–40 mm range can be confirmed as unusual; the validator refuses the rest.
        size_warnings = neuroma_size_warnings(self.size_mm) if self.size_mm is None or self.size_mm <= 40 else []
        if size_warnings and not self.unusual_size_confirmed:
            errors.setdefault("size_mm", []).extend([*size_warnings, "Tick 'unusual size confirmed' if it is correct."])
        if self.pk and self.first_seen_on:
            # Moving the first-seen date must not leave a recorded visit before it.
            earliest_visit = self.visits.aggregate(earliest=models.Min("seen_on"))["earliest"]
            if earliest_visit and earliest_visit < self.first_seen_on:
                errors.setdefault("first_seen_on", []).append(
                    f"First seen cannot be after a recorded visit ({earliest_visit.isoformat()})."
                )
        if errors:
            raise ValidationError(errors)

    def recommendation(
        self,
        *,
        today: datetime.date | None = None,
        treatments: list[ladder.TreatmentFacts] | None = None,
        visits: list[ladder.VisitFacts] | None = None,
    ) -> ladder.Recommendation:
        """The ladder's next step for this presentation (prefetch treatments and visits for lists).

        A caller that already holds the facts (in date order) passes them instead.
        """
        return ladder.recommend(
            treatments=list(self.treatments.all()) if treatments is None else treatments,
            visits=list(self.visits.all()) if visits is None else visits,
            today=today or self.patient.clinic.today(),
            closed=self.status != PresentationStatus.ACTIVE,
        )


class Visit(models.Model):
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
        return f"Visit on {self.seen_on}"

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


class Treatment(models.Model):
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
        return f"{self.get_kind_display()} from {self.started_on}"

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
                    f"The start cannot be after a recorded complication ({earliest.isoformat()})."
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

    def ladder_violations(self, siblings=None) -> list[ladder.Violation]:
        """The ladder rules this treatment breaks, against ``siblings`` or the presentation's stored treatments."""
        if not (self.presentation_id and self.kind in ladder.STEP_BY_KIND and self.started_on):
            return []  # an unknown kind is refused by the field's choices; the ladder cannot place it
        if siblings is None:
            siblings = list(self.presentation.treatments.exclude(pk=self.pk))
        return ladder.treatment_violations(self, siblings)


class Complication(models.Model):
    CLINIC_PATH = "treatment__presentation__patient__clinic"

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="complications")
    kind = models.CharField(max_length=30, choices=ComplicationKind.choices)
    occurred_on = models.DateField("date")
    resolved = models.BooleanField(default=False)
    resolved_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
        return f"{self.get_kind_display()} on {self.occurred_on}"

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


# Every clinical record keeps its full change history (who, when, which fields), see cases/history.py.
track_history(Membership, Patient, Presentation, Visit, Treatment, Complication)

# The audit trail's model lives in its own module; re-exported so ``from cases.models import AuditEvent`` works.
from .audit_event import AuditEvent  # noqa: E402, F401

# The follow-up loop's models live in their own package; imported here so Django registers them in ``cases``.
from .followups.models import ClinicFollowUpSettings, FollowUp, FollowUpAnswer, FollowUpLink, FollowUpMessage  # noqa: E402, F401

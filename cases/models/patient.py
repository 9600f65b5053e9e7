"""Patients and their presentations (one foot, one interspace), with the date rules shared by the record."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from .. import ladder
from ..choices import (
    ICD10_MORTON,
    AggravatingFactor,
    ExamSign,
    Foot,
    Imaging,
    PresentationStatus,
    RelievingFactor,
    RiskFactor,
    Sex,
    Symptom,
)
from ..fields import ChoiceSetField
from ..validators import neuroma_size_warnings
from .base import ClinicScopedQuerySet, Timestamped, icd10_code
from .clinic import Clinic


class Patient(Timestamped):
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
                recorded = ladder.format_day(earliest)
                raise ValidationError(
                    {"birth_date": f"The birth date cannot be after a recorded clinical date ({recorded})."}
                )


def _not_future(errors: dict, clinic: Clinic, **dates) -> None:
    today = clinic.today()
    for field_name, value in dates.items():
        if value and value > today:
            errors.setdefault(field_name, []).append(
                f"This date is in the future (today is {ladder.format_day(today)})."
            )


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
        from .care import Treatment, Visit  # defined with the care record, which needs Presentation first

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


class Presentation(Timestamped):
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
                    f"First seen cannot be after a recorded visit ({ladder.format_day(earliest_visit)})."
                )
        if errors:
            raise ValidationError(errors)

    def recommendation(
        self,
        *,
        today: datetime.date | None = None,
        treatments: list[ladder.TreatmentFacts] | None = None,
        visits: list[ladder.VisitFacts] | None = None,
        conf: ladder.LadderSettings | None = None,
    ) -> ladder.Recommendation:
        """The ladder's next step for this presentation (prefetch treatments and visits for lists).

        A caller that already holds the facts (in date order) passes them instead, and a caller judging
        many presentations the ladder's settings read once.
        """
        return ladder.recommend(
            treatments=list(self.treatments.all()) if treatments is None else treatments,
            visits=list(self.visits.all()) if visits is None else visits,
            today=today or self.patient.clinic.today(),
            closed=self.status != PresentationStatus.ACTIVE,
            conf=conf,
        )

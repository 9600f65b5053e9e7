"""What every clinical model shares: the scoped queryset, the timestamps, and the field ranges."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from ..audit.history import RecordedWritesQuerySet
from ..choices import TreatmentKind
from .checks import ChecksInPython

PAIN_NRS = [MinValueValidator(0), MaxValueValidator(10)]
MOXFQ_SCORE = [MinValueValidator(0), MaxValueValidator(100)]
INJECTABLE_KINDS = [TreatmentKind.CORTICOSTEROID_INJECTION, TreatmentKind.ALCOHOL_INJECTION]
IMAGE_GUIDED_KINDS = [*INJECTABLE_KINDS, TreatmentKind.RADIOFREQUENCY_ABLATION, TreatmentKind.CRYONEUROLYSIS]
icd10_code = RegexValidator(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$", "Enter an ICD-10 code such as G57.6 or G57.61.")


class Timestamped(ChecksInPython):
    """When a record was created and last saved (the change history says by whom and what changed).

    Validation (``full_clean()``) judges the record's check constraints in Python (``checks``), and skips
    the existence query of each relation the writing service names in ``verified_relations``: a parent it
    has just read and locked, or a clinician it has just checked. The database's foreign keys still hold.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    verified_relations: frozenset[str] = frozenset()

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None) -> None:
        # A relation in verified_relations is a loaded instance the service read in this transaction:
        # ForeignKey.validate would only ask the database again whether it exists.
        super().clean_fields(exclude=[*(exclude or ()), *self.verified_relations])


class ClinicScopedQuerySet(RecordedWritesQuerySet):
    """Clinical records: scoped by clinic, and never bulk-written around their history (``cases.audit.history``)."""

    def in_clinics(self, clinics) -> ClinicScopedQuerySet:
        """Only rows belonging to the given clinics (ids, instances or a queryset)."""
        return self.filter(**{f"{self.model.CLINIC_PATH}__in": clinics})

"""What every clinical model shares: the scoped queryset, the timestamps, and the field ranges."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from ..audit.history import RecordedWritesQuerySet
from ..choices import TreatmentKind

PAIN_NRS = [MinValueValidator(0), MaxValueValidator(10)]
MOXFQ_SCORE = [MinValueValidator(0), MaxValueValidator(100)]
INJECTABLE_KINDS = [TreatmentKind.CORTICOSTEROID_INJECTION, TreatmentKind.ALCOHOL_INJECTION]
IMAGE_GUIDED_KINDS = [*INJECTABLE_KINDS, TreatmentKind.RADIOFREQUENCY_ABLATION, TreatmentKind.CRYONEUROLYSIS]
icd10_code = RegexValidator(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$", "Enter an ICD-10 code such as G57.6 or G57.61.")


class Timestamped(models.Model):
    """When a record was created and last saved (the change history says by whom and what changed)."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ClinicScopedQuerySet(RecordedWritesQuerySet):
    """Clinical records: scoped by clinic, and never bulk-written around their history (``cases.audit.history``)."""

    def in_clinics(self, clinics) -> ClinicScopedQuerySet:
        """Only rows belonging to the given clinics (ids, instances or a queryset)."""
        return self.filter(**{f"{self.model.CLINIC_PATH}__in": clinics})

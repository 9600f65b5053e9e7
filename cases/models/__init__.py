"""The neuroma case record: clinics and their staff, patients, presentations, visits, treatments, complications.

Every hard range and cross-field rule is checked twice: in ``clean()``/field validators, so forms and
the API can report it against the right field, and as a database constraint named after the rule,
so no path (raw SQL, a bulk load, a bug) can write a row that breaks it. Rules that need other rows
(the treatment ladder, dates relative to the patient's birth) live in ``clean()`` and, for the
ladder, in ``cases.ladder``.

The models live in one module per seam (``clinic``, ``patient``, ``care``, and ``base`` for what they
share); this package is their one import path, ``cases.models``.
"""

from ..audit.history import track_history
from ..audit.models import AuditEvent
from ..followups.models import (  # the follow-up loop's models live with it; imported so Django registers them
    ClinicFollowUpSettings,
    FollowUp,
    FollowUpAnswer,
    FollowUpLink,
    FollowUpMessage,
)
from .base import IMAGE_GUIDED_KINDS, INJECTABLE_KINDS, MOXFQ_SCORE, PAIN_NRS, ClinicScopedQuerySet, Timestamped
from .care import Complication, Treatment, TreatmentOutcome, Visit
from .clinic import Clinic, Membership, _default_time_zone, _time_zone_choices
from .patient import Patient, Presentation, PresentationQuerySet

# Every clinical record keeps its full change history (who, when, which fields), see cases/audit/history.py.
track_history(Membership, Patient, Presentation, Visit, Treatment, Complication)

__all__ = [
    "IMAGE_GUIDED_KINDS",
    "INJECTABLE_KINDS",
    "MOXFQ_SCORE",
    "PAIN_NRS",
    "AuditEvent",
    "Clinic",
    "ClinicFollowUpSettings",
    "ClinicScopedQuerySet",
    "Complication",
    "FollowUp",
    "FollowUpAnswer",
    "FollowUpLink",
    "FollowUpMessage",
    "Membership",
    "Patient",
    "Presentation",
    "PresentationQuerySet",
    "Timestamped",
    "Treatment",
    "TreatmentOutcome",
    "Visit",
    "_default_time_zone",
    "_time_zone_choices",
]

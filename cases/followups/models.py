"""The follow-up loop's records: per-clinic settings, planned follow-ups, patient links, answers, messages.

``FollowUp`` is the plan (derived from treatments by ``cases.services.follow_up_plan``; its status
moves only through ``transitions.move`` or a bulk move filtered by ``transitions.sources_of``).
``FollowUpAnswer`` is clinical data like a visit's: change history, audit events, and the same kind of
named database constraints. A link stores only the SHA-256 digest of its token, so a copy of the
database never yields a working link. Messages hold no address and no clinical detail.

This module imports nothing from ``cases.models`` (which imports it to register the models).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from ..audit.history import RecordedWritesQuerySet, track_history
from ..choices import Relief
from .choices import AnswerChannel, FollowUpStatus, GlobalImpression, MessageChannel, MessageKind, TimePoint

PAIN_NRS = [MinValueValidator(0), MaxValueValidator(10)]
MOXFQ_SCORE = [MinValueValidator(0), MaxValueValidator(100)]


class ClinicFollowUpSettings(models.Model):
    """A clinic's own follow-up settings; an empty field falls back to ``settings.FOLLOW_UP``."""

    clinic = models.OneToOneField("cases.Clinic", on_delete=models.CASCADE, related_name="follow_up_settings")
    window_opens_days_before = models.PositiveSmallIntegerField(null=True, blank=True)
    window_closes_days_after = models.PositiveSmallIntegerField(null=True, blank=True)
    reminder_every_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Days between reminders."
    )
    reminder_cap = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Reminders after the first message."
    )
    moxfq_items_file = models.CharField(
        "MOxFQ item texts file",
        max_length=500,
        blank=True,
        help_text="Path on the server to the clinic's licensed MOxFQ item texts (JSON). Empty: MOxFQ is not asked.",
    )
    thresholds = models.JSONField(
        blank=True,
        default=dict,
        help_text='Overrides of settings.FOLLOW_UP_MCID per measure, e.g. {"pain_walking": {"points": 3, '
        '"source": "…"}}.',
    )

    class Meta:
        verbose_name = "clinic follow-up settings"
        verbose_name_plural = "clinic follow-up settings"

    def __str__(self) -> str:
        return f"Follow-up settings of clinic {self.clinic_id}"

    def overrides(self) -> dict:
        """The fields set here, under the names ``settings.FOLLOW_UP`` uses."""
        return {
            "WINDOW_OPENS_DAYS_BEFORE": self.window_opens_days_before,
            "WINDOW_CLOSES_DAYS_AFTER": self.window_closes_days_after,
            "REMINDER_EVERY_DAYS": self.reminder_every_days,
            "REMINDER_CAP": self.reminder_cap,
        }


class FollowUpQuerySet(models.QuerySet):
    def in_clinics(self, clinics) -> FollowUpQuerySet:
        return self.filter(**{f"{self.model.CLINIC_PATH}__in": clinics})


class FollowUp(models.Model):
    """One time point at which the patient is asked how they are, with its window and status."""

    CLINIC_PATH = "presentation__patient__clinic"

    presentation = models.ForeignKey("cases.Presentation", on_delete=models.PROTECT, related_name="follow_ups")
    treatment = models.ForeignKey(
        "cases.Treatment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="follow_ups",
        help_text="The treatment this follows; empty for the baseline.",
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The treatment's clinician (the first visit's for the baseline), for completion per clinician.",
    )
    time_point = models.CharField(max_length=15, choices=TimePoint.choices)
    due_on = models.DateField("due")
    window_opens_on = models.DateField("window opens")
    window_closes_on = models.DateField("window closes")
    status = models.CharField(max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.SCHEDULED)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # What the sending run needs, kept on the row so one indexed query finds every message due.
    next_message_at = models.DateTimeField(null=True, blank=True, db_index=True)
    messages_sent = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=FollowUpStatus.values), name="followup_status_valid"),
            models.CheckConstraint(condition=Q(time_point__in=TimePoint.values), name="followup_time_point_valid"),
            models.CheckConstraint(
                condition=Q(window_opens_on__lte=models.F("due_on"), window_closes_on__gte=models.F("due_on")),
                name="followup_window_around_due_date",
            ),
            models.CheckConstraint(
                condition=Q(time_point=TimePoint.BASELINE, treatment__isnull=True)
                | (~Q(time_point=TimePoint.BASELINE) & Q(treatment__isnull=False)),
                name="followup_treatment_unless_baseline",
            ),
            models.UniqueConstraint(
                fields=["presentation", "treatment", "time_point"],
                condition=~Q(status=FollowUpStatus.CANCELLED) & Q(treatment__isnull=False),
                name="followup_one_per_treatment_time_point",
            ),
            models.UniqueConstraint(
                fields=["presentation"],
                condition=~Q(status=FollowUpStatus.CANCELLED) & Q(time_point=TimePoint.BASELINE),
                name="followup_one_baseline_per_presentation",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "window_closes_on"], name="followup_status_window"),
            models.Index(fields=["time_point", "due_on"], name="followup_time_point_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_time_point_display()} follow-up due {self.due_on}"


class FollowUpLink(models.Model):
    """A one-time link for one follow-up: only the token's digest is stored; no PHI in the token or URL."""

    CLINIC_PATH = "follow_up__presentation__patient__clinic"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.PROTECT, related_name="links")
    token_digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex.")
    expires_at = models.DateTimeField(help_text="The end of the follow-up window's last day, in the clinic's zone.")
    created_at = models.DateTimeField(auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when the sending run issued it.",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=200, blank=True)
    birth_date_attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong birth dates entered.")
    locked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the wrong birth dates reached the limit; the link then opens nothing.",
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True, help_text="When the answer was submitted through it.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(locked_at__isnull=True) | Q(birth_date_attempts__gt=0),
                name="followuplink_locked_after_attempts",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoked_reason=""), name="followuplink_revoked_with_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Link for follow-up {self.follow_up_id}"


class FollowUpAnswerQuerySet(RecordedWritesQuerySet):
    """Clinical records: never bulk-written around their change history (``cases.audit.history``)."""

    def in_clinics(self, clinics) -> FollowUpAnswerQuerySet:
        return self.filter(**{f"{self.model.CLINIC_PATH}__in": clinics})


class FollowUpAnswer(models.Model):
    """What the patient answered at one follow-up (one answer per follow-up: a replay writes nothing)."""

    CLINIC_PATH = "follow_up__presentation__patient__clinic"

    follow_up = models.OneToOneField(FollowUp, on_delete=models.PROTECT, related_name="answer")
    channel = models.CharField(max_length=20, choices=AnswerChannel.choices)
    answered_at = models.DateTimeField()
    answered_on = models.DateField(help_text="The clinic's date when it was answered (completion counts by it).")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The staff member who recorded it; empty when the patient answered through the link.",
    )
    link = models.ForeignKey(FollowUpLink, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    pain_walking = models.PositiveSmallIntegerField("pain walking (NRS 0–10)", validators=PAIN_NRS)
    pain_rest = models.PositiveSmallIntegerField("pain at rest (NRS 0–10)", validators=PAIN_NRS)
    relief = models.CharField("relief since treatment", max_length=10, choices=Relief.choices)
    global_impression = models.PositiveSmallIntegerField(
        "global impression of change", choices=GlobalImpression.choices
    )
    moxfq_items = models.JSONField(
        "MOxFQ item answers",
        null=True,
        blank=True,
        help_text="Item answers 0–4 (null for an unanswered item), in the clinic's item order; never the wording.",
    )
    moxfq_walking_standing = models.DecimalField(
        "MOxFQ walking/standing", max_digits=4, decimal_places=1, null=True, blank=True, validators=MOXFQ_SCORE
    )
    moxfq_pain = models.DecimalField(
        "MOxFQ pain", max_digits=4, decimal_places=1, null=True, blank=True, validators=MOXFQ_SCORE
    )
    moxfq_social = models.DecimalField(
        "MOxFQ social interaction", max_digits=4, decimal_places=1, null=True, blank=True, validators=MOXFQ_SCORE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FollowUpAnswerQuerySet.as_manager()

    class Meta:
        ordering = ["answered_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pain_walking__gte=0, pain_walking__lte=10), name="followupanswer_pain_walking_0_10"
            ),
            models.CheckConstraint(
                condition=Q(pain_rest__gte=0, pain_rest__lte=10), name="followupanswer_pain_rest_0_10"
            ),
            models.CheckConstraint(condition=Q(relief__in=Relief.values), name="followupanswer_relief_valid"),
            models.CheckConstraint(
                condition=Q(global_impression__gte=1, global_impression__lte=7),
                name="followupanswer_global_impression_1_7",
            ),
            models.CheckConstraint(condition=Q(channel__in=AnswerChannel.values), name="followupanswer_channel_valid"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__gte": 0, f"{name}__lte": 100}),
                    name=f"followupanswer_{name}_0_100",
                )
                for name in ("moxfq_walking_standing", "moxfq_pain", "moxfq_social")
            ],
            models.CheckConstraint(
                condition=Q(channel=AnswerChannel.LINK, link__isnull=False, recorded_by__isnull=True)
                | (~Q(channel=AnswerChannel.LINK) & Q(recorded_by__isnull=False)),
                name="followupanswer_link_or_staff",
            ),
        ]

    def __str__(self) -> str:
        return f"Answer to follow-up {self.follow_up_id}"


class FollowUpMessage(models.Model):
    """One attempt to send a follow-up's link: sent (``sent_at``) or failed (``error``), never both."""

    CLINIC_PATH = "follow_up__presentation__patient__clinic"

    follow_up = models.ForeignKey(FollowUp, on_delete=models.PROTECT, related_name="messages")
    link = models.ForeignKey(FollowUpLink, on_delete=models.PROTECT, null=True, blank=True, related_name="messages")
    channel = models.CharField(max_length=5, choices=MessageChannel.choices)
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    attempted_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="Why sending failed (no address, no content).")

    class Meta:
        ordering = ["attempted_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=MessageChannel.values), name="followupmessage_channel_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=MessageKind.values), name="followupmessage_kind_valid"),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=False, error="", link__isnull=False)
                | (Q(sent_at__isnull=True) & ~Q(error="")),
                name="followupmessage_sent_or_failed",
            ),
        ]
        indexes = [models.Index(fields=["follow_up", "sent_at"], name="followupmessage_sent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for follow-up {self.follow_up_id}"


# Answers are clinical data: every saved version kept, like a visit's (cases/audit/history.py).
track_history(FollowUpAnswer)

"""The value sets of the follow-up loop, as the codes stored in the database (DOMAIN.md §6 and §6a)."""

from django.db import models


class TimePoint(models.TextChoices):
    """When a follow-up asks (DOMAIN.md §6a defaults): each is reported apart, never merged."""

    BASELINE = "baseline", "Baseline"
    END_OF_TRIAL = "end_of_trial", "End of trial"
    WEEK_6 = "week_6", "6 weeks"
    MONTH_6 = "month_6", "6 months"
    MONTH_12 = "month_12", "12 months"


class FollowUpStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    COMPLETED = "completed", "Completed"
    OVERDUE = "overdue", "Overdue"
    MISSED = "missed", "Missed"
    DECLINED = "declined", "Declined"
    CANCELLED = "cancelled", "Cancelled"


class AnswerChannel(models.TextChoices):
    """How an answer reached the record."""

    LINK = "link", "Patient via link"
    IN_CLINIC_TABLET = "in_clinic_tablet", "In clinic (tablet)"
    PHONE = "phone", "Read over the phone"


class MessageChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class MessageKind(models.TextChoices):
    FIRST = "first", "First message"
    REMINDER = "reminder", "Reminder"


class GlobalImpression(models.IntegerChoices):
    """Patient Global Impression of Change: seven points, free to use (DOMAIN.md §6a)."""

    VERY_MUCH_IMPROVED = 1, "Very much improved"
    MUCH_IMPROVED = 2, "Much improved"
    MINIMALLY_IMPROVED = 3, "Minimally improved"
    NO_CHANGE = 4, "No change"
    MINIMALLY_WORSE = 5, "Minimally worse"
    MUCH_WORSE = 6, "Much worse"
    VERY_MUCH_WORSE = 7, "Very much worse"


class MoxfqDomain(models.TextChoices):
    """The three MOxFQ domains with their local codes (no LOINC code exists, DOMAIN.md §6)."""

    WALKING_STANDING = "walking-standing", "Walking/standing"
    PAIN = "pain", "Pain"
    SOCIAL_INTERACTION = "social-interaction", "Social interaction"


# Items per domain (Dawson 2006); never the 8/4/4 split a public scorer uses.
MOXFQ_ITEMS_PER_DOMAIN: dict[str, int] = {
    MoxfqDomain.WALKING_STANDING: 7,
    MoxfqDomain.PAIN: 5,
    MoxfqDomain.SOCIAL_INTERACTION: 4,
}
MOXFQ_ITEM_MAX = 4

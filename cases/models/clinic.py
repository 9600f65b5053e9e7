"""Clinics, with the time zone that decides their "today", and their staff's roles."""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ..choices import Role


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
        return self.today_in(self.time_zone)

    @staticmethod
    def today_in(time_zone: str) -> datetime.date:
        """The date in a clinic's time zone, for a caller that read the zone without the clinic."""
        return timezone.localdate(timezone=zoneinfo.ZoneInfo(time_zone))


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

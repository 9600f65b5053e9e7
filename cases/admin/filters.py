"""The admin's list filters: the ladder position, the current response, the interspace, and the audit trail's
patient and user."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Subquery

from .. import ladder
from ..choices import Response
from ..models import Treatment

User = get_user_model()


class RungFilter(admin.SimpleListFilter):
    """The current rung (1–4, 3.5 for an alternative): the highest rung among the presentation's treatments."""

    title = "current rung"
    parameter_name = "rung"
    NONE_YET = "none"

    def lookups(self, request, model_admin):
        return [(self.NONE_YET, "None yet"), *ladder.RUNG_CHOICES]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE_YET:
            return queryset.filter(current_step__isnull=True)
        try:
            return queryset.filter(current_step=ladder.step_for_rung(value))
        except ValueError:
            return queryset


class CurrentResponseFilter(admin.SimpleListFilter):
    """The response to the current treatment, which is what decides the next step.

    The current treatment is the one ``cases.ladder.recommend`` judges: highest rung, then latest start.
    A response recorded on an earlier rung is history, so it does not match.
    """

    title = "current treatment's response"
    parameter_name = "current_response"

    def lookups(self, request, model_admin):
        return Response.choices

    def queryset(self, request, queryset):
        if self.value() not in Response.values:
            return queryset
        current = (
            Treatment.objects.filter(presentation=OuterRef("pk"))
            .annotate(step=Treatment.step_expression())
            .order_by("-step", "-started_on", "pk")
        )
        return queryset.annotate(current_response=Subquery(current.values("response")[:1])).filter(
            current_response=self.value()
        )


class InterspaceFilter(admin.SimpleListFilter):
    title = "interspace"
    parameter_name = "interspace"

    def lookups(self, request, model_admin):
        return [("1", "1st"), ("2", "2nd"), ("3", "3rd (Morton's)"), ("4", "4th")]

    def queryset(self, request, queryset):
        if self.value() in {"1", "2", "3", "4"}:
            return queryset.filter(interspace=int(self.value()))
        return queryset


class PatientFilter(admin.SimpleListFilter):
    """Events that touched one patient (``?patient=<id>``): views and changes of their records, and lists
    and exports that included them. Reached from the patient's page ("access report")."""

    title = "patient"
    parameter_name = "patient"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, f"Patient #{value}")] if value and value.isdigit() else []

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.touching_patient(int(value)) if value and value.isdigit() else queryset


class ActorFilter(admin.SimpleListFilter):
    """The staff who appear in the events this admin may see (not every user of the system)."""

    title = "user"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        actor_ids = model_admin.get_queryset(request).exclude(actor=None).values("actor")
        return [
            (str(user.pk), user.get_username()) for user in User.objects.filter(pk__in=actor_ids).order_by("username")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(actor_id=int(value)) if value and value.isdigit() else queryset

"""Query filters for the collections, on the fields integrations search by (django-filter)."""

import django_filters as filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters as drf_ordering
from rest_framework.settings import api_settings

from cases import ladder
from cases.choices import ComplicationKind, Foot, PresentationStatus, Response, Sex, TreatmentKind
from cases.followups.choices import FollowUpStatus, TimePoint
from cases.followups.models import FollowUp
from cases.models import Complication, Patient, Presentation, Treatment, Visit


class YesNoField(forms.NullBooleanField):
    """true/false (or 1/0); anything else is refused rather than silently ignored, which would widen the list."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return None
        answer = {"true": True, "1": True, "false": False, "0": False}.get(str(value).lower())
        if answer is None:
            raise forms.ValidationError("Use true or false.", code="invalid")
        return answer


class YesNoFilter(filters.BooleanFilter):
    field_class = YesNoField


class OrderingFilter(drf_ordering.OrderingFilter):
    """DRF's ``?ordering=``, with each field that may be empty sorted by a key that never is.

    The cursor pagination reads its ordering from here, and a page's next cursor asks for the rows past
    the last one's value: a row whose value is NULL is past nothing, so it would never be reached. A view
    names such fields in ``ordering_keys`` (public name → an annotation that fills the gap) and annotates
    those keys; the public names, the schema and the validation stay DRF's. Ties are broken by id.
    """

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        keys = getattr(view, "ordering_keys", {})
        terms = [
            ("-" if term.startswith("-") else "") + keys.get(term.lstrip("-"), term.lstrip("-")) for term in ordering
        ]
        # Rows that tie on the asked-for field come in id order, so that the cursor's offset within a tie
        # counts the same rows from one page to the next (PostgreSQL promises no order among ties).
        if not {"pk", "id"} & {term.lstrip("-") for term in terms}:
            terms.append("-pk" if terms[0].startswith("-") else "pk")
        return terms


class FilterBackend(drf_filters.DjangoFilterBackend):
    """django-filter, left out when the request names no filter at all (a plain page, the commonest request).

    Binding and validating a form whose every field is empty filters nothing, and costs a form per request.
    Any other parameter (a filter, an empty one, a misspelt one) goes through django-filter as before.
    """

    NOT_FILTERS = frozenset({"cursor", "page_size", api_settings.ORDERING_PARAM, api_settings.URL_FORMAT_OVERRIDE})

    def filter_queryset(self, request, queryset, view):
        if self.NOT_FILTERS.issuperset(request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)


# The largest id a 64-bit primary key can hold: larger numbers crash the SQLite driver instead of matching nothing.
MAX_ID = 2**63 - 1


class IdFilter(filters.NumberFilter):
    """A record's id: a whole number from 1 to MAX_ID, else 400."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)

    def get_max_validator(self):
        return None  # max_value above is the bound


NO_TREATMENT = "0"


class RungField(forms.CharField):
    """A public rung number (1, 2, 3, 3.5, 4, as ``ladder.step_for_rung`` reads it), or 0 for no treatment yet.

    Cleans to the ladder position it names, or None for "no treatment yet".
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return ""
        if value.strip() == NO_TREATMENT:
            return None
        try:
            return ladder.step_for_rung(value)
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from None


@extend_schema_field(
    {
        "type": "number",
        "enum": [0, *ladder.STEP_BY_RUNG],
        "description": "Current rung: 1, 2, 3, 3.5 (an alternative), 4; 0 for no treatment yet.",
    }
)
class RungFilter(filters.Filter):
    field_class = RungField

    def filter(self, queryset, value):
        if value == "":
            return queryset
        # Presentations annotated with_summary (the view asks for it when ?rung= is given).
        if value is None:
            return queryset.filter(current_step__isnull=True)
        return queryset.filter(current_step=value)


class PatientFilter(filters.FilterSet):
    mrn = filters.CharFilter(help_text="Exact medical record number.")
    name = filters.CharFilter(method="filter_name", help_text="Part of the given or family name.")
    birth_date = filters.DateFromToRangeFilter()
    sex = filters.ChoiceFilter(choices=Sex.choices)
    archived = YesNoFilter()

    class Meta:
        model = Patient
        fields = ["mrn", "sex", "archived", "clinic"]

    def filter_name(self, queryset, name, value):
        return queryset.filter(Q(given_name__icontains=value) | Q(family_name__icontains=value))


class PresentationFilter(filters.FilterSet):
    patient = IdFilter()
    mrn = filters.CharFilter(field_name="patient__mrn", help_text="The patient's medical record number.")
    foot = filters.ChoiceFilter(choices=Foot.choices)
    interspace = filters.NumberFilter(min_value=1, max_value=4)
    status = filters.ChoiceFilter(choices=PresentationStatus.choices)
    first_seen_on = filters.DateFromToRangeFilter()
    rung = RungFilter()
    clinician = IdFilter(
        method="filter_clinician", help_text="Presentations with a visit or treatment by this clinician."
    )

    class Meta:
        model = Presentation
        fields = ["patient", "foot", "interspace", "status"]

    def filter_clinician(self, queryset, name, value):
        return queryset.filter(
            Exists(Visit.objects.filter(presentation=OuterRef("pk"), clinician=value))
            | Exists(Treatment.objects.filter(presentation=OuterRef("pk"), clinician=value))
        )


class VisitFilter(filters.FilterSet):
    presentation = IdFilter()
    seen_on = filters.DateFromToRangeFilter()
    clinician = IdFilter()
    mrn = filters.CharFilter(field_name="presentation__patient__mrn")

    class Meta:
        model = Visit
        fields = ["presentation", "clinician"]


class TreatmentFilter(filters.FilterSet):
    presentation = IdFilter()
    kind = filters.MultipleChoiceFilter(choices=TreatmentKind.choices)
    response = filters.MultipleChoiceFilter(choices=Response.choices)
    started_on = filters.DateFromToRangeFilter()
    clinician = IdFilter()
    mrn = filters.CharFilter(field_name="presentation__patient__mrn")

    class Meta:
        model = Treatment
        fields = ["presentation", "kind", "response", "clinician"]


class ComplicationFilter(filters.FilterSet):
    treatment = IdFilter()
    kind = filters.ChoiceFilter(choices=ComplicationKind.choices)
    resolved = YesNoFilter()
    occurred_on = filters.DateFromToRangeFilter()

    class Meta:
        model = Complication
        fields = ["treatment", "kind", "resolved"]


class FollowUpFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=FollowUpStatus.choices, help_text="One or more statuses (repeat the parameter)."
    )
    due_on = filters.DateFromToRangeFilter(help_text="Due on or after `due_on_after`, on or before `due_on_before`.")
    time_point = filters.MultipleChoiceFilter(choices=TimePoint.choices)
    presentation = IdFilter()
    patient = IdFilter(field_name="presentation__patient")
    clinician = IdFilter(help_text="The treating clinician the follow-up counts for.")

    class Meta:
        model = FollowUp
        fields = ["status", "time_point", "presentation", "clinician"]

"""The one-screen follow-up visit's forms: the visit, the current treatment's response and, optionally, the next
treatment. Plain forms carrying each field's range to the browser; the rules themselves (ranges, dates, the
ladder) are the models' and the services', applied when the view saves through ``cases.services``."""

from __future__ import annotations

from django import forms

from ..choices import InjectionDrug, OrthosisType, Relief, Response, TreatmentKind
from ..forms import ClinicianChoiceField

DATE_INPUT = {"type": "date"}


def _date_field(label: str, *, required: bool, max_day, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateInput(attrs={**DATE_INPUT, "max": max_day.isoformat()}, format="%Y-%m-%d"),
    )


def _score(label: str, low: int, high: int, *, required: bool, help_text: str = "") -> forms.IntegerField:
    # min_value/max_value render as the input's min and max, so the browser knows the range before submitting.
    return forms.IntegerField(label=label, min_value=low, max_value=high, required=required, help_text=help_text)


def _blank_first(choices) -> list[tuple[str, str]]:
    return [("", "—"), *choices]


class VisitForm(forms.Form):
    """The visit itself: today by default, the signed-in clinician, the pain scores and MOxFQ domains."""

    def __init__(self, *args, clinicians, today, last_visit=None, **kwargs):
        super().__init__(*args, **kwargs)

        def last(name: str) -> str:
            if last_visit is None or getattr(last_visit, name) in (None, ""):
                return ""
            return f"Last visit: {getattr(last_visit, name)}."

        self.fields["seen_on"] = _date_field("Visit date", required=True, max_day=today)
        self.fields["clinician"] = ClinicianChoiceField(queryset=clinicians, label="Clinician")
        self.fields["pain_walking"] = _score(
            "Walking pain (NRS 0–10)", 0, 10, required=True, help_text=last("pain_walking")
        )
        self.fields["pain_rest"] = _score("Rest pain (NRS 0–10)", 0, 10, required=True, help_text=last("pain_rest"))
        self.fields["moxfq_walking_standing"] = _score(
            "MOxFQ walking/standing (0–100)", 0, 100, required=False, help_text=last("moxfq_walking_standing")
        )
        self.fields["moxfq_pain"] = _score("MOxFQ pain (0–100)", 0, 100, required=False, help_text=last("moxfq_pain"))
        self.fields["moxfq_social"] = _score(
            "MOxFQ social interaction (0–100)", 0, 100, required=False, help_text=last("moxfq_social")
        )
        self.fields["relief_since_previous"] = forms.ChoiceField(
            label="Relief since the previous visit", choices=_blank_first(Relief.choices), required=False
        )
        self.fields["notes"] = forms.CharField(
            label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
        )

    def service_values(self) -> dict:
        """The visit's fields for ``services.visit_record`` (the clinician is passed on its own)."""
        values = {name: value for name, value in self.cleaned_data.items() if name != "clinician"}
        return values


class ResponseForm(forms.Form):
    """The current treatment's response, with the day it was assessed (the visit's day when left blank)."""

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["response"] = forms.ChoiceField(label="Response", choices=Response.choices)
        self.fields["response_assessed_on"] = _date_field(
            "Assessed on", required=False, max_day=today, help_text="Leave blank to use the visit date."
        )


class NextTreatmentForm(forms.Form):
    """An optional next treatment: left blank, none is started."""

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"] = forms.ChoiceField(
            label="Next treatment", choices=_blank_first(TreatmentKind.choices), required=False
        )
        self.fields["started_on"] = _date_field(
            "Starts on", required=False, max_day=today, help_text="Leave blank to start it on the visit date."
        )
        self.fields["orthosis_type"] = forms.ChoiceField(
            label="Orthosis type", choices=_blank_first(OrthosisType.choices), required=False
        )
        self.fields["injection_drug"] = forms.ChoiceField(
            label="Injection drug", choices=_blank_first(InjectionDrug.choices), required=False
        )
        self.fields["dose_mg"] = forms.DecimalField(
            label="Dose (mg)", required=False, min_value=0, max_digits=5, decimal_places=1
        )
        self.fields["volume_ml"] = forms.DecimalField(
            label="Volume (ml)", required=False, min_value=0, max_digits=4, decimal_places=1
        )
        self.fields["unusual_dose_confirmed"] = forms.BooleanField(
            label="Confirm an unusual dose or volume", required=False
        )
        self.fields["ultrasound_guided"] = forms.NullBooleanField(label="Ultrasound guided", required=False)
        self.fields["justification"] = forms.CharField(
            label="Justification",
            required=False,
            help_text="Why this treatment departs from the ladder, if it does.",
            widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        )

    @property
    def wanted(self) -> bool:
        return bool(self.is_bound and self.is_valid() and self.cleaned_data.get("kind"))

    def service_values(self) -> dict:
        """The details given (blank ones left out: each kind takes only its own), for ``services.treatment_start``."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in ("kind", "started_on") and value not in (None, "", False)
        }

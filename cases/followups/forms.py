"""The patient page's two forms: confirm the birth date, then answer the follow-up."""

from __future__ import annotations

from django import forms

from ..choices import Relief
from .choices import GlobalImpression
from .scoring import MoxfqForm


class BirthDateForm(forms.Form):
    birth_date = forms.DateField(
        label="Your date of birth",
        input_formats=["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"],
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        help_text="Day, month and year, for example 31/01/1980.",
        error_messages={"required": "Enter your date of birth.", "invalid": "Enter a date such as 31/01/1980."},
    )


def _nrs(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=10,
        help_text="0 is no pain, 10 the worst pain you can imagine.",
        widget=forms.NumberInput(attrs={"min": 0, "max": 10, "step": 1, "inputmode": "numeric"}),
        error_messages={"required": "Give a number from 0 to 10."},
    )


class AnswerForm(forms.Form):
    """NRS pain walking and at rest, relief since the treatment, PGIC, and MOxFQ if the clinic configured it."""

    pain_walking = _nrs("Pain when walking, over the last week")
    pain_rest = _nrs("Pain at rest, over the last week")
    relief = forms.ChoiceField(
        label="Relief since the treatment",
        choices=Relief.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how much relief you have had."},
    )
    global_impression = forms.TypedChoiceField(
        label="Since the treatment, how would you describe the change in your foot?",
        choices=GlobalImpression.choices,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the answer that fits best."},
    )

    def __init__(self, *args, moxfq: MoxfqForm | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.moxfq = moxfq
        self.moxfq_names: list[str] = []
        if moxfq is not None:
            choices = list(enumerate(moxfq.response_labels))
            for number, item in enumerate(moxfq.items, start=1):
                name = f"moxfq_{number}"
                # Optional: an unanswered item leaves its domain unscored, as the scoring rule says.
                self.fields[name] = forms.TypedChoiceField(
                    label=item.text,
                    choices=choices,
                    coerce=int,
                    required=False,
                    empty_value=None,
                    widget=forms.RadioSelect,
                )
                self.moxfq_names.append(name)

    @property
    def moxfq_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.moxfq_names]

    def answers(self) -> dict:
        """The cleaned answers as ``cases.services.follow_up_answer_record`` takes them."""
        data = {name: self.cleaned_data[name] for name in ("pain_walking", "pain_rest", "relief", "global_impression")}
        if self.moxfq is not None:
            data["moxfq_items"] = [self.cleaned_data.get(name) for name in self.moxfq_names]
        return data

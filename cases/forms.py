"""Admin inline formsets that judge a whole submission, where each form alone sees only the stored rows.

A model's ``clean()`` compares a treatment with the treatments already in the database. When a
clinician adds several rows in one submission (two injections a week apart, two active
presentations of the same site), each row passes on its own; these formsets also compare the rows
of the submission with one another, using the same rules (``cases.ladder`` and the model's
constraint message), so a rule is still written once.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.forms import BaseInlineFormSet, ModelChoiceField, ModelForm

from . import ladder
from .choices import PresentationStatus
from .models import Presentation


def _kept_forms(formset: BaseInlineFormSet) -> list[ModelForm]:
    """The valid forms whose rows will exist after saving: not deleted, and not an untouched blank row."""
    kept = []
    for form in formset.forms:
        if formset.can_delete and formset._should_delete_form(form):
            continue
        if form.instance.pk is None and not form.has_changed():
            continue
        # An invalid row already carries its errors and blocks the save, so it is neither judged nor used
        # as a sibling (its half-cleaned values could not be compared).
        if form.is_valid():
            kept.append(form)
    return kept


class TreatmentInlineFormSet(BaseInlineFormSet):
    """Treatments of one presentation: each new or re-dated treatment is judged against the whole submission."""

    def clean(self) -> None:
        super().clean()
        forms = _kept_forms(self)
        treatments = [form.instance for form in forms]
        for form in forms:
            treatment = form.instance
            # Same semantics as Treatment.clean(): recording a response or end date never re-opens the ladder.
            if not treatment.ladder_check_needed():
                continue
            violations = ladder.treatment_violations(treatment, treatments)
            if violations:
                form.add_error(None, [ValidationError(v.message, code=v.rule.value) for v in violations])


def _one_active_per_site_message() -> str:
    constraint = next(c for c in Presentation._meta.constraints if c.name == "presentation_one_active_per_site")
    return str(constraint.violation_error_message)


class PresentationInlineFormSet(BaseInlineFormSet):
    """A patient's presentations: the database allows one active presentation per foot and interspace."""

    def clean(self) -> None:
        super().clean()
        seen: set[tuple[str, int]] = set()
        for form in _kept_forms(self):
            presentation = form.instance
            if presentation.status != PresentationStatus.ACTIVE:
                continue
            site = (presentation.foot, presentation.interspace)
            if site in seen:
                form.add_error(None, ValidationError(_one_active_per_site_message(), code="unique"))
            seen.add(site)


class ClinicianChoiceField(ModelChoiceField):
    """Lists clinicians by name, which is how colleagues know each other, rather than by login."""

    def label_from_instance(self, user) -> str:
        return user.get_full_name() or user.get_username()


def with_validator_bounds(form_field: forms.Field | None, db_field: models.Field) -> forms.Field | None:
    """A number input that carries its model field's range as ``min``/``max`` (pain 0–10, MOxFQ 0–100, …).

    Django's model fields keep a Min/MaxValueValidator to themselves, so the browser would accept 11 on a
    0–10 scale and only the round trip would refuse it. The range stays written once, in the model's
    validators; the server still judges every value (full_clean), this only lets the browser say so first.
    """
    if not isinstance(form_field, forms.IntegerField):  # DecimalField and FloatField are IntegerFields too
        return form_field

    def limits(kind):
        values = [v.limit_value for v in db_field.validators if isinstance(v, kind)]
        return [value() if callable(value) else value for value in values]

    if lows := limits(MinValueValidator):
        form_field.widget.attrs["min"] = max(lows)
    if highs := limits(MaxValueValidator):
        form_field.widget.attrs["max"] = min(highs)
    return form_field


class FirstErrorFocusForm(ModelForm):
    """A refused submission opens at its first field in error: that input gets ``autofocus``.

    The browser focuses, and so scrolls to, the first autofocus element on the page, so with the main
    form and every inline row marking its own first error, the page's first error wins. No script is
    needed, which the strict Content-Security-Policy would refuse inline anyway.
    """

    def full_clean(self) -> None:
        super().full_clean()
        for name, field in self.fields.items():  # in the order the page shows them
            if name in self._errors:
                field.widget.attrs["autofocus"] = True
                break

"""Model fields specific to the clinical record."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models


class ChoiceSetField(models.JSONField):
    """A set of codes from one value set (symptoms, exam signs, …), stored as a sorted JSON array.

    A JSON array works the same on SQLite and PostgreSQL, keeps the codes readable in the database
    and in exports, and is edited as a group of checkboxes in forms.
    """

    description = "A set of codes from a value set"

    def __init__(self, *args, value_set=(), **kwargs):
        self.value_set = [(str(value), str(label)) for value, label in value_set]
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["value_set"] = self.value_set
        if kwargs.get("default") is list:
            del kwargs["default"]
        # blank defaults to True here, unlike on Field, so only blank=False needs recording.
        if self.blank:
            kwargs.pop("blank", None)
        else:
            kwargs["blank"] = False
        return name, path, args, kwargs

    def validate(self, value, model_instance):
        super().validate(value, model_instance)
        if not isinstance(value, list | tuple):
            raise ValidationError("Expected a list of codes.", code="invalid")
        allowed = {code for code, _ in self.value_set}
        # A non-string (a JSON object or array from an API client) is unknown, not a crash on hashing it.
        unknown = sorted(str(code) for code in value if not isinstance(code, str) or code not in allowed)
        if unknown:
            raise ValidationError(
                "Unknown code(s): %(unknown)s. Allowed: %(allowed)s.",
                code="invalid_choice",
                params={"unknown": ", ".join(unknown), "allowed": ", ".join(sorted(allowed))},
            )

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, list | tuple | set):
            value = sorted(set(value))
            setattr(model_instance, self.attname, value)
        return value

    def formfield(self, **kwargs):
        return forms.MultipleChoiceField(
            choices=self.value_set,
            required=not self.blank,
            widget=forms.CheckboxSelectMultiple,
            label=kwargs.get("label", self.verbose_name.capitalize()),
            help_text=self.help_text,
        )

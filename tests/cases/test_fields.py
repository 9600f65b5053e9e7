"""ChoiceSetField: a set of value-set codes that refuses unknown codes, is stored sorted, and edits as checkboxes."""

import io

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.forms import CheckboxSelectMultiple, MultipleChoiceField, modelform_factory
from django.utils.module_loading import import_string
from simple_history.models import HistoricalChanges

from cases.bulk import bulk_create_clinical
from cases.choices import ExamSign, Symptom
from cases.fields import ChoiceSetField
from cases.models import Presentation
from tests.factories import PatientFactory, PresentationFactory

CHOICE_SET_FIELDS = [
    field
    for model in apps.get_app_config("cases").get_models()
    if not issubclass(model, HistoricalChanges)  # the history tables copy each field; one record is enough
    for field in model._meta.get_fields()
    if isinstance(field, ChoiceSetField)
]


def symptoms_field() -> ChoiceSetField:
    return Presentation._meta.get_field("symptoms")


def test_the_presentation_records_every_value_set_as_a_choice_set():
    assert sorted(field.name for field in CHOICE_SET_FIELDS) == [
        "aggravating_factors",
        "exam_signs",
        "relieving_factors",
        "risk_factors",
        "symptoms",
    ]


# Validation


def test_unknown_codes_are_refused_with_a_message_naming_them():
    with pytest.raises(ValidationError) as caught:
        symptoms_field().clean(["burning", "itching", "aching"], None)
    (message,) = caught.value.messages
    assert message.startswith("Unknown code(s): aching, itching. Allowed: ")
    assert "stone_sensation" in message
    assert caught.value.error_list[0].code == "invalid_choice"


def test_a_code_from_another_value_set_is_unknown():
    with pytest.raises(ValidationError, match="Unknown code"):
        symptoms_field().clean([ExamSign.MULDER_CLICK], None)


@pytest.mark.parametrize("value", [[{"code": "burning"}], [["burning"]], [3]])
def test_codes_that_are_not_strings_are_refused_not_crashed_on(value):
    with pytest.raises(ValidationError, match="Unknown code"):
        symptoms_field().clean(value, None)


@pytest.mark.parametrize("value", ["burning", {"burning": True}, 7])
def test_a_value_that_is_not_a_list_is_refused(value):
    with pytest.raises(ValidationError, match=r"Expected a list of codes\."):
        symptoms_field().clean(value, None)


def test_every_code_of_the_value_set_is_accepted():
    assert symptoms_field().clean(list(Symptom.values), None) == list(Symptom.values)


def test_an_empty_set_is_allowed():
    assert symptoms_field().clean([], None) == []


@pytest.mark.django_db
def test_unknown_codes_are_refused_by_full_clean_against_their_field():
    presentation = PresentationFactory()
    presentation.exam_signs = ["mulder_click", "tinel_sign"]
    with pytest.raises(ValidationError) as caught:
        presentation.full_clean()
    assert list(caught.value.message_dict) == ["exam_signs"]
    assert "tinel_sign" in caught.value.message_dict["exam_signs"][0]


# Storage


@pytest.mark.django_db
def test_codes_are_stored_sorted_and_without_duplicates():
    presentation = PresentationFactory(symptoms=["tingling", "burning", "tingling", "numbness"])
    assert presentation.symptoms == ["burning", "numbness", "tingling"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT symptoms FROM cases_presentation WHERE id = %s", [presentation.pk])
        (stored,) = cursor.fetchone()
    assert Presentation._meta.get_field("symptoms").from_db_value(stored, None, connection) == [
        "burning",
        "numbness",
        "tingling",
    ]
    assert Presentation.objects.get(pk=presentation.pk).symptoms == ["burning", "numbness", "tingling"]


@pytest.mark.django_db
def test_codes_saved_by_bulk_create_are_sorted_too():
    (presentation,) = bulk_create_clinical(
        Presentation, [PresentationFactory.build(patient=PatientFactory(), symptoms=["tingling", "burning"])]
    )
    assert Presentation.objects.get(pk=presentation.pk).symptoms == ["burning", "tingling"]


@pytest.mark.django_db
def test_an_unset_choice_set_is_stored_as_an_empty_list():
    presentation = PresentationFactory()
    assert Presentation.objects.get(pk=presentation.pk).risk_factors == []


# Forms


def test_the_form_field_is_a_group_of_checkboxes_over_the_value_set():
    form_field = symptoms_field().formfield()
    assert isinstance(form_field, MultipleChoiceField)
    assert isinstance(form_field.widget, CheckboxSelectMultiple)
    assert list(form_field.choices) == [(code, str(label)) for code, label in Symptom.choices]
    assert form_field.required is False
    assert form_field.label == "Symptoms"


def test_the_form_renders_one_checkbox_per_code_with_stored_codes_ticked():
    form_class = modelform_factory(Presentation, fields=["exam_signs"])
    html = str(form_class(initial={"exam_signs": ["mulder_click"]})["exam_signs"])
    assert html.count('type="checkbox"') == len(ExamSign.values)
    for code in ExamSign.values:
        assert f'value="{code}"' in html
    assert html.count("checked") == 1
    assert "Mulder&#x27;s click" in html


def test_a_submitted_form_cleans_to_the_list_of_ticked_codes():
    form_class = modelform_factory(Presentation, fields=["symptoms"])
    form = form_class(data={"symptoms": ["tingling", "burning"]})
    form.is_valid()
    assert form.cleaned_data["symptoms"] == ["tingling", "burning"]


def test_a_submitted_form_refuses_a_code_outside_the_value_set():
    form_class = modelform_factory(Presentation, fields=["symptoms"])
    form = form_class(data={"symptoms": ["burning", "itching"]})
    form.is_valid()
    assert "itching" in form.errors["symptoms"][0]


def test_a_required_choice_set_makes_a_required_form_field():
    field = ChoiceSetField(value_set=Symptom.choices, blank=False)
    field.set_attributes_from_name("symptoms")
    assert field.formfield().required is True


# Migrations


@pytest.mark.parametrize("field", CHOICE_SET_FIELDS, ids=lambda field: field.name)
def test_deconstruct_rebuilds_an_identical_field(field):
    _, path, args, kwargs = field.deconstruct()
    rebuilt = import_string(path)(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)
    assert rebuilt.value_set == field.value_set
    assert rebuilt.blank == field.blank
    assert rebuilt.get_default() == []


def test_deconstruct_keeps_the_stored_codes_plain_strings():
    _, _, _, kwargs = symptoms_field().deconstruct()
    assert all(type(code) is str and type(label) is str for code, label in kwargs["value_set"])
    assert "default" not in kwargs
    assert "blank" not in kwargs


@pytest.mark.parametrize("blank", [True, False])
def test_deconstruct_round_trips_the_blank_option(blank):
    field = ChoiceSetField(value_set=Symptom.choices, blank=blank)
    _, path, args, kwargs = field.deconstruct()
    assert import_string(path)(*args, **kwargs).blank is blank


@pytest.mark.django_db
def test_the_migrations_match_the_models():
    # A value-set change without its migration, or a deconstruct that drifts, shows up here.
    output = io.StringIO()
    call_command("makemigrations", "cases", check=True, dry_run=True, stdout=output)
    assert "No changes detected" in output.getvalue()

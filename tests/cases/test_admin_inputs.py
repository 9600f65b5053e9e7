"""The admin's number inputs carry their ranges, and a refused submission opens at its first error."""

import datetime
import re

import pytest

from ..factories import PatientFactory, PresentationFactory
from .test_admin import change_page

pytestmark = pytest.mark.django_db


def input_tag(html: str, name: str) -> str:
    (tag,) = re.findall(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    return tag


@pytest.fixture
def presentation(clinic):
    patient = PatientFactory(clinic=clinic)
    return PresentationFactory(patient=patient, first_seen_on=datetime.date(2026, 1, 5), imaging="ultrasound")


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("visits-0-pain_walking", "0", "10"),
        ("visits-0-pain_rest", "0", "10"),
        ("visits-0-moxfq_walking_standing", "0", "100"),
        ("visits-0-moxfq_pain", "0", "100"),
        ("visits-0-moxfq_social", "0", "100"),
        ("visits-__prefix__-pain_walking", "0", "10"),  # the row "Add another visit" copies
        ("interspace", "1", "4"),
        ("size_mm", "0", "40"),
    ],
)
def test_number_inputs_carry_the_range_of_their_scale(as_podiatrist, presentation, name, low, high):
    html = as_podiatrist.get(f"/admin/cases/presentation/{presentation.pk}/change/").content.decode()
    tag = input_tag(html, name)
    assert f'min="{low}"' in tag
    assert f'max="{high}"' in tag


def test_an_unrefused_page_focuses_nothing(as_podiatrist, presentation):
    html = as_podiatrist.get(f"/admin/cases/presentation/{presentation.pk}/change/").content.decode()
    assert "autofocus" not in html


def test_a_refused_submission_opens_at_its_first_error_only(as_podiatrist, presentation):
    page = change_page(as_podiatrist, presentation)
    row = page.add_row("visits", seen_on=datetime.date(2026, 2, 2), pain_walking=11, pain_rest=12)

    html = page.post().content.decode()

    assert "Please correct the errors below." in html
    assert "autofocus" in input_tag(html, f"visits-{row}-pain_walking")
    assert "autofocus" not in input_tag(html, f"visits-{row}-pain_rest")
    assert html.count("autofocus") == 1

"""The benchmark network generator: exact sizes, rule-abiding histories, stored report facts that match a save's."""

import datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from bench import network
from cases import outcomes
from cases.bulk import bulk_create_clinical
from cases.models import Complication, Patient, Presentation, Treatment, TreatmentOutcome, Visit

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 2)


@pytest.fixture
def generated():
    return network.generate(presentations=120, clinics=3, seed=7, today=TODAY, long_follow_ups=1)


def test_it_loads_exactly_the_presentations_asked_for_spread_over_the_clinics(generated):
    assert Presentation.objects.count() == generated.created["presentations"] == 120
    assert Patient.objects.values("clinic").distinct().count() == 3
    assert generated.created["visits"] == Visit.objects.count()
    assert generated.created["treatments"] == Treatment.objects.count()


def test_a_million_presentations_worth_of_visits_and_treatments_needs_at_least_five_per_presentation(generated):
    # The default 200,000 presentations must bring at least 1,000,000 visits and treatments together.
    assert (Visit.objects.count() + Treatment.objects.count()) / Presentation.objects.count() >= 5


def test_every_generated_row_passes_the_models_rules(generated):
    for model in (Patient, Presentation, Visit, Complication):
        for row in model.objects.all():
            row.full_clean()
    for treatment in Treatment.objects.all():
        treatment.full_clean()
        siblings = list(Treatment.objects.filter(presentation_id=treatment.presentation_id).exclude(pk=treatment.pk))
        assert treatment.ladder_violations(siblings) == [], treatment


def test_the_stored_report_facts_are_those_a_save_would_store(generated):
    stored = {row.pk: row for row in TreatmentOutcome.objects.all()}
    assert len(stored) == Treatment.objects.count()
    for presentation_id in Presentation.objects.values_list("pk", flat=True):
        outcomes.outcome_facts_refresh(presentation_id=presentation_id)
    for row in TreatmentOutcome.objects.all():
        before = stored[row.pk]
        assert (before.pain_walking_at_start, before.pain_walking_at_assessment, before.escalated_on) == (
            row.pain_walking_at_start,
            row.pain_walking_at_assessment,
            row.escalated_on,
        )


def test_a_long_follow_up_has_a_hundred_weekly_visits(generated):
    longest = max(Presentation.objects.all(), key=lambda p: p.visits.count())
    assert longest.visits.count() == network.LONG_FOLLOW_UP_VISITS


def test_the_database_still_refuses_a_bulk_loaded_row_that_breaks_a_range(generated):
    presentation = Presentation.objects.first()
    visit = Visit(
        presentation=presentation, clinician_id=Visit.objects.first().clinician_id, seen_on=TODAY, pain_walking=11
    )
    visit.pain_rest = 0
    with pytest.raises(IntegrityError):
        bulk_create_clinical(Visit, [visit])


def test_generating_into_a_network_that_has_patients_is_refused(generated):
    with pytest.raises(CommandError, match="already has patients"):
        call_command("generate_network", presentations=10, clinics=3, today=TODAY.isoformat(), stdout=StringIO())


def test_the_command_reports_what_it_created():
    out = StringIO()
    call_command("generate_network", presentations=15, clinics=2, today="2026-03-02", no_progress=True, stdout=out)
    assert "Created 2 clinics" in out.getvalue() and "15 presentations" in out.getvalue()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"presentations": "many"}, "--presentations must be a whole number"),
        ({"presentations": 0}, "--presentations must be between"),
        ({"today": "2999-01-01"}, "cannot be in the future"),
        ({"today": "yesterday"}, "--today must be a date"),
    ],
)
def test_bad_options_are_refused_with_a_specific_message(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_network", stdout=StringIO(), **options)
    assert not Patient.objects.exists()

"""Re-planning from treatments through the services: create, re-date, cancel, and never lose an answer."""

import datetime

import pytest

from cases import services
from cases.followups.models import FollowUp
from tests.followups.conftest import case_with_procedure

pytestmark = pytest.mark.django_db
WEEK = datetime.timedelta(weeks=1)


def open_plan(presentation):
    return {
        (f.time_point, f.treatment_id): f
        for f in FollowUp.objects.filter(presentation=presentation).exclude(status="cancelled")
    }


def answer(follow_up, clinician, **values):
    return services.follow_up_answer_record(
        follow_up=follow_up,
        channel="phone",
        recorded_by=clinician,
        **{"pain_walking": 3, "pain_rest": 1, "relief": "partial", "global_impression": 2, **values},
    )


def test_starting_a_procedure_plans_6_weeks_6_months_and_12_months_from_its_start(clinic, clinician):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    plan = open_plan(presentation)
    # The baseline's window (first visit six weeks ago) had closed before it was planned: never asked.
    assert sorted(time_point for time_point, _ in plan) == ["month_12", "month_6", "week_6"]
    week_6 = plan[("week_6", treatment.pk)]
    assert week_6.due_on == treatment.started_on + 6 * WEEK == clinic.today()
    assert (week_6.status, week_6.clinician) == ("scheduled", clinician)


def test_a_new_presentation_plans_its_baseline_at_the_first_visit(clinic, clinician):
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=0)
    baseline = open_plan(presentation)[("baseline", None)]
    assert baseline.due_on == presentation.first_seen_on
    assert baseline.clinician == clinician  # the first treatment's, as no visit is recorded yet


def test_planning_again_changes_nothing(clinic, clinician):
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=6)
    before = {key: (f.pk, f.due_on, f.status) for key, f in open_plan(presentation).items()}
    services.follow_up_plan(presentation=presentation)
    assert {key: (f.pk, f.due_on, f.status) for key, f in open_plan(presentation).items()} == before


def test_moving_a_treatments_start_re_dates_the_unanswered_and_keeps_the_answered(clinic, clinician):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    week_6 = open_plan(presentation)[("week_6", treatment.pk)]
    answered = answer(week_6, clinician)
    month_6_before = open_plan(presentation)[("month_6", treatment.pk)]

    services.treatment_update(treatment=treatment, started_on=treatment.started_on + WEEK)

    plan = open_plan(presentation)
    week_6.refresh_from_db()
    assert (week_6.status, week_6.due_on) == ("completed", clinic.today())  # the answer and its dates stand
    assert week_6.answer == answered
    month_6 = plan[("month_6", treatment.pk)]
    assert month_6.pk == month_6_before.pk
    assert month_6.due_on == month_6_before.due_on + WEEK
    assert month_6.window_closes_on == month_6_before.window_closes_on + WEEK


def test_re_dating_a_sent_follow_up_revokes_its_links_and_asks_afresh(clinic, clinician):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    week_6 = open_plan(presentation)[("week_6", treatment.pk)]
    link, _ = services.follow_up_link_issue(follow_up=week_6)
    services.treatment_update(treatment=treatment, started_on=treatment.started_on + WEEK)
    week_6.refresh_from_db()
    link.refresh_from_db()
    assert (week_6.status, week_6.messages_sent, week_6.due_on) == ("scheduled", 0, clinic.today() + WEEK)
    assert link.revoked_reason == "The follow-up was re-dated."


def test_correcting_the_kind_cancels_the_procedures_time_points_and_plans_the_trials_end(clinic, clinician):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    week_6 = open_plan(presentation)[("week_6", treatment.pk)]
    answer(week_6, clinician)

    services.treatment_update(treatment=treatment, kind="orthosis", orthosis_type="metatarsal_pad")

    statuses = dict(FollowUp.objects.filter(presentation=presentation).values_list("time_point", "status"))
    assert statuses == {
        "week_6": "completed",
        "month_6": "cancelled",
        "month_12": "cancelled",
        "end_of_trial": "scheduled",
    }  # 6-week trial: due today


def test_closing_the_presentation_cancels_the_open_follow_ups_and_keeps_the_answered(clinic, clinician):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    answer(open_plan(presentation)[("week_6", treatment.pk)], clinician)
    services.presentation_update(presentation=presentation, status="closed")
    statuses = dict(FollowUp.objects.filter(presentation=presentation).values_list("time_point", "status"))
    assert statuses == {"week_6": "completed", "month_6": "cancelled", "month_12": "cancelled"}


def test_a_resolved_presentation_keeps_its_6_and_12_month_follow_ups(clinic, clinician):
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=6, kind="neurectomy")
    services.presentation_update(presentation=presentation, status="resolved")
    assert sorted(f.status for f in open_plan(presentation).values()) == ["scheduled", "scheduled", "scheduled"]


def test_a_treatment_entered_long_after_the_fact_plans_only_what_can_still_be_asked(clinic, clinician):
    presentation, _treatment = case_with_procedure(clinic, clinician, weeks_ago=60)
    assert open_plan(presentation) == {}


def test_an_ended_trial_is_re_dated_to_the_day_it_ended(clinic, clinician):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=2, kind="footwear_modification")
    end_of_trial = open_plan(presentation)[("end_of_trial", treatment.pk)]
    assert end_of_trial.due_on == treatment.started_on + 6 * WEEK
    services.treatment_update(treatment=treatment, ended_on=clinic.today())
    end_of_trial.refresh_from_db()
    assert end_of_trial.due_on == clinic.today()


def test_a_clinics_own_window_is_used_when_it_has_one(clinic, clinician):
    from cases.followups.models import ClinicFollowUpSettings

    ClinicFollowUpSettings.objects.create(clinic=clinic, window_opens_days_before=2, window_closes_days_after=10)
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    week_6 = open_plan(presentation)[("week_6", treatment.pk)]
    assert (week_6.window_opens_on, week_6.window_closes_on) == (
        clinic.today() - datetime.timedelta(days=2),
        clinic.today() + datetime.timedelta(days=10),
    )


def test_a_treatments_new_clinician_takes_over_its_unanswered_follow_ups_and_the_answered_keep_theirs(
    clinic, clinician, other_clinician
):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    week_6 = open_plan(presentation)[("week_6", treatment.pk)]
    answer(week_6, clinician)

    services.treatment_update(treatment=treatment, clinician=other_clinician)

    plan = open_plan(presentation)
    assert plan[("week_6", treatment.pk)].clinician == clinician  # answered: as it was
    assert plan[("month_6", treatment.pk)].clinician == other_clinician
    assert plan[("month_12", treatment.pk)].clinician == other_clinician


def test_without_a_visit_the_baseline_follows_the_first_treatments_clinician(clinic, clinician, other_clinician):
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=0)

    services.treatment_update(treatment=treatment, clinician=other_clinician)

    assert open_plan(presentation)[("baseline", None)].clinician == other_clinician

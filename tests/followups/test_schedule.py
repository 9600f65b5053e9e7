"""Planning from plain facts: baseline, end of each conservative trial, 6 weeks / 6 / 12 months after a procedure."""

from dataclasses import dataclass

from cases.followups.schedule import ScheduleSettings, plan
from cases.ladder import LadderSettings
from tests.followups.conftest import D

CONF = ScheduleSettings(window_opens_days_before=7, window_closes_days_after=28)


@dataclass
class T:
    pk: int
    kind: str
    started_on: object
    ended_on: object = None


FIRST_VISIT = D(2026, 1, 5)


def planned(treatments, first_visit_on=FIRST_VISIT):
    return [
        (p.time_point, p.treatment_id, p.due_on)
        for p in plan(first_visit_on=first_visit_on, treatments=treatments, conf=CONF)
    ]


def test_baseline_is_due_at_the_first_visit_with_its_window():
    (baseline,) = plan(first_visit_on=D(2026, 1, 5), treatments=[], conf=CONF)
    assert (baseline.time_point, baseline.treatment_id) == ("baseline", None)
    assert (baseline.window_opens_on, baseline.due_on, baseline.window_closes_on) == (
        D(2025, 12, 29),
        D(2026, 1, 5),
        D(2026, 2, 2),
    )


def test_each_conservative_rung_is_asked_at_the_end_of_its_trial():
    trials = LadderSettings.from_settings().trial_weeks
    assert trials["footwear_modification"] == 6 and trials["corticosteroid_injection"] == 4
    assert planned([T(1, "footwear_modification", D(2026, 1, 5)), T(2, "corticosteroid_injection", D(2026, 3, 2))]) == [
        ("baseline", None, D(2026, 1, 5)),
        ("end_of_trial", 1, D(2026, 2, 16)),
        ("end_of_trial", 2, D(2026, 3, 30)),
    ]


def test_a_trial_that_ended_early_is_asked_on_the_day_it_ended():
    assert planned([T(1, "orthosis", D(2026, 1, 5), ended_on=D(2026, 1, 20))])[1] == ("end_of_trial", 1, D(2026, 1, 20))


def test_an_alternative_or_a_neurectomy_is_asked_at_6_weeks_6_months_and_12_months():
    assert planned([T(7, "neurectomy", D(2026, 8, 31))], first_visit_on=D(2026, 8, 31))[1:] == [
        ("week_6", 7, D(2026, 10, 12)),
        ("month_6", 7, D(2027, 2, 28)),  # 31 August + 6 months: the end of February
        ("month_12", 7, D(2027, 8, 31)),
    ]
    assert [p[0] for p in planned([T(8, "cryoneurolysis", D(2026, 1, 5))])] == [
        "baseline",
        "week_6",
        "month_6",
        "month_12",
    ]


def test_the_plan_is_anchored_on_treatment_starts_so_moving_a_start_moves_its_follow_ups():
    before = planned([T(1, "radiofrequency_ablation", D(2026, 1, 5))])
    after = planned([T(1, "radiofrequency_ablation", D(2026, 1, 12))])
    assert [due for _, _, due in after[1:]] == [D(2026, 2, 23), D(2026, 7, 12), D(2027, 1, 12)]
    assert before[0] == after[0]  # the baseline follows the first visit, not the treatment


def test_a_clinic_window_overrides_the_default():
    conf = ScheduleSettings.from_settings({"WINDOW_OPENS_DAYS_BEFORE": 3, "WINDOW_CLOSES_DAYS_AFTER": None})
    assert (conf.window_opens_days_before, conf.window_closes_days_after) == (3, 28)


def test_six_months_after_the_31st_of_august_is_the_last_day_of_february():
    neurectomy = T(pk=9, kind="neurectomy", started_on=D(2027, 8, 31))

    due = {time_point: due_on for time_point, treatment, due_on in planned([neurectomy]) if treatment == 9}

    assert (due["month_6"], due["month_12"]) == (D(2028, 2, 29), D(2028, 8, 31))

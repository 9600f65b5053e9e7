"""The treatment-ladder rules, tested as pure functions on plain facts (no database)."""

import datetime
import itertools
from dataclasses import dataclass

import pytest

from cases import ladder
from cases.ladder import Action, LadderSettings, Rule

D = datetime.date
_ids = itertools.count(1)

CONF = LadderSettings(
    trial_weeks={
        "footwear_modification": 6,
        "orthosis": 6,
        "corticosteroid_injection": 4,
        "alcohol_injection": 4,
        "radiofrequency_ablation": 4,
        "cryoneurolysis": 4,
        "neurectomy": 6,
    },
    injection_min_interval_weeks=4,
    injection_max_per_12_months=3,
    worsening_pain_rise=2,
)


@dataclass
class T:
    kind: str
    started_on: datetime.date
    response: str = "pending"
    response_assessed_on: datetime.date | None = None
    ended_on: datetime.date | None = None
    justification: str = ""
    pk: int | None = None

    def __post_init__(self):
        if self.pk is None:
            self.pk = next(_ids)


@dataclass
class V:
    seen_on: datetime.date
    pain_walking: int
    pain_rest: int = 0
    relief_since_previous: str = ""


def rules(candidate, others):
    return [v.rule for v in ladder.treatment_violations(candidate, others, conf=CONF)]


def injection(day, **kw):
    return T("corticosteroid_injection", day, **kw)


# Rule 1: the order of the rungs


def test_rungs_are_ordered_with_alternatives_between_injection_and_neurectomy():
    order = sorted(ladder.STEP_BY_KIND, key=ladder.step_of)
    assert order[:3] == ["footwear_modification", "orthosis", "corticosteroid_injection"]
    assert order[-1] == "neurectomy"
    assert {ladder.step_of(k) for k in order[3:6]} == {ladder.ALTERNATIVE}
    assert ladder.INJECTION < ladder.ALTERNATIVE < ladder.NEURECTOMY


# Rule 2: skipping rungs, and neurectomy's prerequisites


def test_first_treatment_on_rung_one_needs_no_justification():
    assert rules(T("footwear_modification", D(2026, 1, 5)), []) == []


def test_one_rung_up_needs_no_justification():
    history = [T("footwear_modification", D(2026, 1, 5))]
    assert rules(T("orthosis", D(2026, 2, 20)), history) == []


def test_starting_two_rungs_above_the_highest_tried_is_refused():
    history = [T("footwear_modification", D(2026, 1, 5))]
    assert rules(injection(D(2026, 2, 20)), history) == [Rule.RUNG_SKIPPED]


def test_starting_on_rung_two_with_nothing_tried_skips_a_rung():
    assert rules(T("orthosis", D(2026, 1, 5)), []) == [Rule.RUNG_SKIPPED]


def test_alternative_after_orthosis_skips_the_injection_rung():
    history = [T("footwear_modification", D(2026, 1, 5)), T("orthosis", D(2026, 2, 20))]
    assert rules(T("cryoneurolysis", D(2026, 4, 1)), history) == [Rule.RUNG_SKIPPED]


def test_alternative_after_injection_is_the_next_step():
    history = [T("footwear_modification", D(2026, 1, 5)), T("orthosis", D(2026, 2, 20)), injection(D(2026, 4, 1))]
    assert rules(T("radiofrequency_ablation", D(2026, 5, 10)), history) == []


def test_treatments_started_later_do_not_count_as_tried():
    later = T("orthosis", D(2026, 3, 1))
    assert rules(injection(D(2026, 2, 1)), [later]) == [Rule.RUNG_SKIPPED]


def test_a_justification_allows_skipping_a_rung():
    candidate = injection(D(2026, 1, 5), justification="Large neuroma on MRI, patient declines orthoses.")
    assert rules(candidate, []) == []


def test_a_blank_justification_is_no_justification():
    assert rules(injection(D(2026, 1, 5), justification="   \n"), []) == [Rule.RUNG_SKIPPED]


def test_neurectomy_without_any_failed_conservative_treatment_is_refused():
    history = [
        T("footwear_modification", D(2025, 9, 1), response="complete", response_assessed_on=D(2025, 10, 20)),
        T("orthosis", D(2025, 10, 20)),
        injection(D(2025, 12, 1)),
    ]
    assert rules(T("neurectomy", D(2026, 2, 1)), history) == [Rule.NEURECTOMY_WITHOUT_CONSERVATIVE_FAILURE]


@pytest.mark.parametrize("response", ["partial", "none"])
def test_neurectomy_after_a_conservative_treatment_with_partial_or_no_relief_is_allowed(response):
    history = [
        T("footwear_modification", D(2025, 9, 1)),
        T("orthosis", D(2025, 10, 20)),
        injection(D(2025, 12, 1), response=response, response_assessed_on=D(2026, 1, 1)),
    ]
    assert rules(T("neurectomy", D(2026, 2, 1)), history) == []


def test_neurectomy_with_no_history_breaks_both_rules():
    assert rules(T("neurectomy", D(2026, 2, 1)), []) == [
        Rule.RUNG_SKIPPED,
        Rule.NEURECTOMY_WITHOUT_CONSERVATIVE_FAILURE,
    ]


def test_justified_neurectomy_with_no_history_is_allowed():
    candidate = T("neurectomy", D(2026, 2, 1), justification="12 mm neuroma on MRI; patient's informed choice.")
    assert rules(candidate, []) == []


def test_messages_say_which_rule_and_how_to_override():
    (violation,) = ladder.treatment_violations(injection(D(2026, 1, 5)), [], conf=CONF)
    assert "skips a rung" in violation.message
    assert "justification" in violation.message


# Rule 3: corticosteroid injection interval and yearly limit


def _ladder_to_injection():
    return [T("footwear_modification", D(2025, 1, 6)), T("orthosis", D(2025, 2, 20))]


def test_injection_27_days_after_the_last_is_refused_by_the_interval():
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1))]
    assert rules(injection(D(2025, 4, 28)), history) == [Rule.INJECTION_INTERVAL]


def test_injection_exactly_four_weeks_after_the_last_is_allowed():
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1))]
    assert rules(injection(D(2025, 4, 29)), history) == []


def test_interval_applies_to_a_backdated_injection_before_an_existing_one():
    history = [*_ladder_to_injection(), injection(D(2025, 6, 1)), injection(D(2025, 4, 1))]
    assert rules(injection(D(2025, 5, 20)), history) == [Rule.INJECTION_INTERVAL]


def test_fourth_injection_within_twelve_months_is_refused():
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1)), injection(D(2025, 6, 1)), injection(D(2025, 8, 1))]
    violations = ladder.treatment_violations(injection(D(2026, 3, 31)), history, conf=CONF)
    assert [v.rule for v in violations] == [Rule.INJECTION_YEARLY_LIMIT]
    assert "At most 3" in violations[0].message
    assert "2025-04-01" in violations[0].message


def test_fourth_injection_twelve_months_after_the_first_is_allowed():
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1)), injection(D(2025, 6, 1)), injection(D(2025, 8, 1))]
    assert rules(injection(D(2026, 4, 1)), history) == []


def test_yearly_limit_counts_windows_that_start_before_the_new_injection():
    # Three injections before it in the preceding 12 months, none after: the window 2025-06-01 … counts.
    history = [*_ladder_to_injection(), injection(D(2025, 6, 1)), injection(D(2025, 9, 1)), injection(D(2025, 12, 1))]
    assert rules(injection(D(2026, 5, 31)), history) == [Rule.INJECTION_YEARLY_LIMIT]
    assert rules(injection(D(2026, 6, 1)), history) == []


def test_both_injection_limits_are_reported_together():
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1)), injection(D(2025, 5, 1)), injection(D(2025, 6, 1))]
    assert rules(injection(D(2025, 6, 10)), history) == [Rule.INJECTION_INTERVAL, Rule.INJECTION_YEARLY_LIMIT]


def test_justified_fourth_injection_is_allowed():
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1)), injection(D(2025, 6, 1)), injection(D(2025, 8, 1))]
    assert rules(injection(D(2025, 10, 1), justification="Awaiting surgery date; symptomatic relief."), history) == []


def test_injection_limits_follow_the_settings():
    strict = LadderSettings(**{**CONF.__dict__, "injection_min_interval_weeks": 8, "injection_max_per_12_months": 2})
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1))]
    assert [v.rule for v in ladder.treatment_violations(injection(D(2025, 5, 20)), history, conf=strict)] == [
        Rule.INJECTION_INTERVAL
    ]
    history.append(injection(D(2025, 6, 1)))
    assert [v.rule for v in ladder.treatment_violations(injection(D(2025, 9, 1)), history, conf=strict)] == [
        Rule.INJECTION_YEARLY_LIMIT
    ]


def test_alcohol_injections_are_not_counted_as_corticosteroid_injections():
    history = [*_ladder_to_injection(), injection(D(2025, 4, 1)), T("alcohol_injection", D(2025, 5, 15))]
    assert rules(injection(D(2025, 6, 1)), history) == []


def test_the_candidate_is_not_compared_with_its_own_stored_row():
    stored = injection(D(2025, 4, 1), pk=999)
    edited = injection(D(2025, 4, 3), pk=999)
    assert rules(edited, [*_ladder_to_injection(), stored]) == []


def test_twelve_month_window_handles_leap_day():
    assert ladder._add_months(D(2024, 2, 29), 12) == D(2025, 2, 28)


# Rule 5: current rung derives from treatments


def test_current_rung_is_the_highest_tried():
    treatments = [T("orthosis", D(2026, 2, 1)), T("footwear_modification", D(2026, 3, 1))]
    assert ladder.highest_step(treatments) == ladder.ORTHOSIS
    assert ladder.highest_step([]) is None


def test_skipped_rungs_lists_each_treatment_started_more_than_one_rung_up():
    footwear = T("footwear_modification", D(2026, 1, 5))
    jumped = injection(D(2026, 2, 1), justification="x")
    neurectomy = T("neurectomy", D(2026, 4, 1), justification="y")
    assert ladder.skipped_rungs([neurectomy, footwear, jumped]) == [jumped]


# Rule 4: recommendations


TODAY = D(2026, 3, 1)


def recommend(treatments=(), visits=(), today=TODAY, closed=False):
    return ladder.recommend(treatments=list(treatments), visits=list(visits), today=today, closed=closed, conf=CONF)


def test_no_treatment_yet_recommends_starting_footwear_modification():
    rec = recommend()
    assert (rec.action, rec.target_rung) == (Action.ESCALATE, 1)


def test_within_the_trial_recommends_staying():
    rec = recommend([T("footwear_modification", D(2026, 2, 1))], today=D(2026, 3, 14))
    assert rec.action == Action.STAY
    assert rec.trial_ends_on == D(2026, 3, 15)
    assert "2026-03-15" in rec.reason


def test_trial_over_with_no_response_is_stalled():
    rec = recommend([T("footwear_modification", D(2026, 1, 5))], today=D(2026, 2, 16))
    assert rec.action == Action.STAY
    assert rec.stalled
    assert "no response has been recorded" in rec.reason


@pytest.mark.parametrize(
    ("kind", "target"),
    [("footwear_modification", 2), ("orthosis", 3)],
)
def test_partial_or_no_relief_below_the_injection_rung_escalates_one_rung(kind, target):
    rec = recommend([T(kind, D(2026, 1, 5), response="none", response_assessed_on=D(2026, 2, 16))])
    assert (rec.action, rec.target_rung) == (Action.ESCALATE, target)


@pytest.mark.parametrize("kind", ["corticosteroid_injection", "alcohol_injection", "cryoneurolysis"])
def test_failed_injection_or_alternative_recommends_considering_surgery(kind):
    treatments = [
        T("footwear_modification", D(2025, 9, 1)),
        T("orthosis", D(2025, 10, 20)),
        T(kind, D(2025, 12, 1), response="partial", response_assessed_on=D(2026, 1, 5)),
    ]
    rec = recommend(treatments)
    assert rec.action == Action.CONSIDER_SURGERY
    assert rec.target_rung == 4


def test_failed_neurectomy_suggests_review_for_stump_neuroma():
    rec = recommend(
        [T("neurectomy", D(2025, 10, 1), response="none", response_assessed_on=D(2025, 12, 1), justification="x")]
    )
    assert rec.action == Action.CONSIDER_SURGERY
    assert "stump" in rec.reason


def test_complete_relief_confirmed_at_a_later_visit_recommends_discharge():
    treatment = T("orthosis", D(2026, 1, 5), response="complete", response_assessed_on=D(2026, 2, 16))
    visits = [
        V(D(2026, 1, 5), 6),
        V(D(2026, 2, 16), 1, relief_since_previous="complete"),
        V(D(2026, 3, 1), 0, relief_since_previous="complete"),
    ]
    assert recommend([treatment], visits).action == Action.DISCHARGE


def test_complete_relief_without_a_later_confirming_visit_stays():
    treatment = T("orthosis", D(2026, 1, 5), response="complete", response_assessed_on=D(2026, 2, 16))
    rec = recommend([treatment], [V(D(2026, 2, 16), 0, relief_since_previous="complete")])
    assert rec.action == Action.STAY
    assert "confirm" in rec.reason


def test_rest_pain_flags_a_worsening_case_and_escalates_before_the_trial_ends():
    visits = [V(D(2026, 2, 1), 5), V(D(2026, 2, 15), 6, pain_rest=3)]
    rec = recommend([T("footwear_modification", D(2026, 2, 1))], visits, today=D(2026, 2, 15))
    assert rec.worsening
    assert (rec.action, rec.target_rung) == (Action.ESCALATE, 2)
    assert "Worsening" in rec.reason


def test_walking_pain_rising_by_two_points_is_worsening():
    assert ladder.is_worsening([V(D(2026, 1, 1), 4), V(D(2026, 2, 1), 6)], conf=CONF)
    assert not ladder.is_worsening([V(D(2026, 1, 1), 4), V(D(2026, 2, 1), 5)], conf=CONF)
    assert not ladder.is_worsening([], conf=CONF)


def test_closed_presentation_is_discharged():
    assert recommend([T("orthosis", D(2026, 1, 5))], closed=True).action == Action.DISCHARGE


def test_recommendation_summary_reads_as_the_action():
    rec = recommend([T("footwear_modification", D(2026, 1, 5), response="none", response_assessed_on=D(2026, 2, 16))])
    assert rec.summary == "Escalate to 2 · orthosis"

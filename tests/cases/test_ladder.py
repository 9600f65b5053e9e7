"""The treatment-ladder rules, tested as pure functions on plain facts (no database)."""

import dataclasses
import datetime
import itertools
import re
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
    # Dates a person reads are in the clinic's locale (en-gb: "1 Apr 2025"), as on every page.
    assert "between 1 Apr 2025 and 31 Mar 2026" in violations[0].message


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


def test_twelve_months_from_a_leap_day_end_on_the_28th_of_february():
    given = [*_ladder_to_injection(), injection(D(2024, 2, 29)), injection(D(2024, 6, 1)), injection(D(2024, 10, 1))]

    assert rules(injection(D(2025, 2, 27)), given) == [ladder.Rule.INJECTION_YEARLY_LIMIT]
    assert rules(injection(D(2025, 2, 28)), given) == []


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


# Rule 4: recommendations. Each reason is what a clinician reads to decide: it cites the dates and
# measurements behind it, in the clinic's locale (en-gb: "8 Nov 2026"), and never contradicts itself.


TODAY = D(2026, 3, 1)


def recommend(treatments=(), visits=(), today=TODAY, closed=False):
    return ladder.recommend(treatments=list(treatments), visits=list(visits), today=today, closed=closed, conf=CONF)


def _up_to_injection(response="partial"):
    return [
        T("footwear_modification", D(2025, 9, 1), response="partial", response_assessed_on=D(2025, 10, 13)),
        T("orthosis", D(2025, 10, 20), response="partial", response_assessed_on=D(2025, 12, 1)),
        injection(D(2025, 12, 1), response=response, response_assessed_on=D(2026, 1, 5)),
    ]


def test_no_treatment_yet_recommends_starting_footwear_modification():
    rec = recommend()
    assert (rec.action, rec.target_rung) == (Action.ESCALATE, 1)
    assert rec.reason == (
        "No treatment recorded yet: start with 1 · footwear modification (wide toe box, low heel, soft sole)."
    )


def test_within_the_trial_recommends_staying_until_the_trials_end_date():
    rec = recommend([T("footwear_modification", D(2026, 2, 1))], today=D(2026, 3, 14))
    assert (rec.action, rec.summary) == (Action.STAY, "Stay on the current rung")
    assert rec.trial_ends_on == D(2026, 3, 15)
    assert rec.reason == "The footwear modification trial (6 weeks) runs until 15 Mar 2026: judge the response then."


def test_trial_over_with_no_response_is_stalled_and_says_since_when():
    rec = recommend([T("footwear_modification", D(2026, 1, 5))], today=D(2026, 2, 16))
    assert (rec.action, rec.stalled, rec.lost_to_follow_up) == (Action.STAY, True, False)
    assert rec.reason == (
        "The footwear modification trial ended on 16 Feb 2026 and no response has been recorded: assess and record it."
    )


def test_no_relief_below_the_injection_rung_escalates_one_rung_citing_the_assessment_and_trial_end():
    rec = recommend([T("footwear_modification", D(2026, 1, 5), response="none", response_assessed_on=D(2026, 2, 16))])
    assert (rec.action, rec.target_rung, rec.summary) == (Action.ESCALATE, 2, "Escalate to 2 · orthosis")
    assert rec.reason == (
        "No relief from footwear modification (assessed on 16 Feb 2026; its 6-week trial ended on 16 Feb 2026). "
        "Escalate to 2 · orthosis."
    )


@pytest.mark.parametrize(("kind", "target"), [("footwear_modification", 2), ("orthosis", 3)])
def test_partial_relief_after_the_trial_is_not_enough_and_escalates_one_rung(kind, target):
    rec = recommend([T(kind, D(2026, 1, 5), response="partial", response_assessed_on=D(2026, 2, 16))])
    assert (rec.action, rec.target_rung) == (Action.ESCALATE, target)
    label = "footwear modification" if kind == "footwear_modification" else "orthosis"
    assert rec.reason == (
        f"Only partial relief from {label} (assessed on 16 Feb 2026; its 6-week trial ended on 16 Feb 2026): "
        f"partial relief does not end the ladder. Escalate to {ladder.rung_label(ladder.step_for_rung(target))}."
    )


def test_partial_relief_from_an_injection_says_conservative_care_has_not_given_complete_relief():
    rec = recommend(_up_to_injection("partial"))
    assert (rec.action, rec.target_rung, rec.summary) == (Action.CONSIDER_SURGERY, 4, "Consider surgery")
    assert rec.reason == (
        "Only partial relief from corticosteroid injection (assessed on 5 Jan 2026; its 4-week trial ended on "
        "29 Dec 2025): conservative care has not given complete relief. Consider neurectomy, or an alternative "
        "(alcohol injection, radiofrequency ablation or cryoneurolysis)."
    )
    assert "not relieved" not in rec.reason


@pytest.mark.parametrize("kind", ["alcohol_injection", "cryoneurolysis"])
def test_a_failed_alternative_recommends_neurectomy_and_not_another_alternative(kind):
    treatments = [*_up_to_injection(), T(kind, D(2026, 1, 12), response="none", response_assessed_on=D(2026, 2, 9))]
    rec = recommend(treatments)
    assert (rec.action, rec.target_rung, rec.revision) == (Action.CONSIDER_SURGERY, 4, False)
    assert rec.reason.endswith("conservative care has not given complete relief. Consider neurectomy.")


@pytest.mark.parametrize(("response", "said"), [("none", "No relief"), ("partial", "Only partial relief")])
def test_after_a_neurectomy_without_complete_relief_it_recommends_revision_surgery(response, said):
    rec = recommend(
        [T("neurectomy", D(2025, 10, 1), response=response, response_assessed_on=D(2025, 12, 1), justification="x")]
    )
    assert (rec.action, rec.target_rung, rec.revision) == (Action.CONSIDER_SURGERY, 4, True)
    assert rec.summary == "Consider revision surgery (recurrent or stump neuroma?)"
    assert rec.reason == (
        f"{said} from neurectomy (assessed on 1 Dec 2025; its 6-week post-operative review ended on 12 Nov 2025). "
        "Review for a recurrent or stump neuroma (imaging) and consider revision surgery."
    )


def test_complete_relief_confirmed_at_a_later_visit_recommends_discharge_naming_that_visit():
    treatment = T("orthosis", D(2026, 1, 5), response="complete", response_assessed_on=D(2026, 2, 16))
    visits = [
        V(D(2026, 1, 5), 6),
        V(D(2026, 2, 16), 1, relief_since_previous="complete"),
        V(D(2026, 3, 1), 0, relief_since_previous="complete"),
    ]
    rec = recommend([treatment], visits)
    assert rec.action == Action.DISCHARGE
    assert (
        rec.reason == "Complete relief from orthosis (assessed on 16 Feb 2026), confirmed at the visit of 1 Mar 2026."
    )


def test_complete_relief_without_a_later_confirming_visit_stays():
    treatment = T("orthosis", D(2026, 1, 5), response="complete", response_assessed_on=D(2026, 2, 16))
    rec = recommend([treatment], [V(D(2026, 2, 16), 0, relief_since_previous="complete")])
    assert rec.action == Action.STAY
    assert rec.reason == (
        "Complete relief from orthosis recorded (assessed on 16 Feb 2026), not yet confirmed at a later visit: "
        "confirm it at a follow-up visit before discharge."
    )


def test_a_trial_that_ended_thirteen_months_ago_with_no_visit_since_is_lost_to_follow_up():
    footwear = T("footwear_modification", D(2025, 1, 6))
    rec = recommend([footwear], [V(D(2025, 1, 6), 5)], today=D(2026, 3, 16))
    assert (rec.action, rec.lost_to_follow_up, rec.stalled) == (Action.REVIEW, True, True)
    assert rec.summary == "Review: lost to follow-up"
    assert (rec.trial_ends_on, rec.last_seen_on) == (D(2025, 2, 17), D(2025, 1, 6))
    assert rec.reason == (
        "Lost to follow-up: nobody has seen the patient since 6 Jan 2025 (62 weeks ago; a case is lost to "
        "follow-up after 26 weeks without contact). The footwear modification trial ended on 17 Feb 2025 and no "
        "response has been recorded. Review the case and contact the patient before deciding the next step."
    )
    assert "Stay" not in rec.summary


def test_lost_to_follow_up_starts_after_the_configured_weeks_without_contact():
    footwear = T("footwear_modification", D(2025, 1, 6))
    last_seen = D(2025, 3, 3)
    visits = [V(last_seen, 5)]
    just_before = last_seen + datetime.timedelta(weeks=26, days=-1)
    assert recommend([footwear], visits, today=just_before).action == Action.STAY
    assert recommend([footwear], visits, today=last_seen + datetime.timedelta(weeks=26)).lost_to_follow_up
    shorter = dataclasses.replace(CONF, lost_to_follow_up_weeks=8)
    rec = ladder.recommend(treatments=[footwear], visits=visits, today=D(2025, 4, 28), conf=shorter)
    assert rec.lost_to_follow_up


def test_a_case_still_within_its_trial_is_never_lost_to_follow_up():
    neurectomy = T("neurectomy", D(2025, 1, 6), justification="large neuroma on MRI")
    long_review = dataclasses.replace(CONF, trial_weeks={**CONF.trial_weeks, "neurectomy": 60})
    rec = ladder.recommend(treatments=[neurectomy], visits=[], today=D(2026, 1, 5), conf=long_review)
    assert (rec.action, rec.lost_to_follow_up) == (Action.STAY, False)


def test_unconfirmed_complete_relief_long_ago_is_lost_to_follow_up_and_names_the_last_response():
    treatment = T("orthosis", D(2025, 1, 5), response="complete", response_assessed_on=D(2025, 2, 16))
    rec = recommend([treatment], [V(D(2025, 2, 16), 0, relief_since_previous="complete")])
    assert rec.action == Action.REVIEW
    assert "the last response recorded was complete relief (assessed on 16 Feb 2025)" in rec.reason


def test_a_confirmed_discharge_is_not_held_back_as_lost_to_follow_up():
    treatment = T("orthosis", D(2025, 1, 5), response="complete", response_assessed_on=D(2025, 2, 16))
    visits = [V(D(2025, 2, 16), 0), V(D(2025, 3, 16), 0, relief_since_previous="complete")]
    assert recommend([treatment], visits).action == Action.DISCHARGE


def test_rest_pain_escalates_before_the_trial_ends_and_cites_the_visit():
    visits = [V(D(2026, 2, 1), 5), V(D(2026, 2, 15), 6, pain_rest=3)]
    rec = recommend([T("footwear_modification", D(2026, 2, 1))], visits, today=D(2026, 2, 15))
    assert (rec.action, rec.target_rung, rec.worsening) == (Action.ESCALATE, 2, True)
    assert rec.summary == "Escalate to 2 · orthosis (worsening)"
    assert rec.reason == (
        "Worsening during the footwear modification trial (6 weeks, until 15 Mar 2026): rest pain 3/10 at the visit "
        "of 15 Feb 2026. Escalate to 2 · orthosis."
    )


def test_rising_walking_pain_cites_both_readings_and_their_dates():
    visits = [V(D(2026, 2, 1), 4), V(D(2026, 2, 15), 7)]
    rec = recommend([T("footwear_modification", D(2026, 2, 1))], visits, today=D(2026, 2, 15))
    assert rec.worsening_text == "walking pain 4 → 7 between 1 Feb 2026 and 15 Feb 2026"
    assert "walking pain 4 → 7 between 1 Feb 2026 and 15 Feb 2026. Escalate to 2 · orthosis." in rec.reason


def test_worsening_evidence_names_each_measurement_that_triggered_it():
    both = ladder.worsening_evidence([V(D(2026, 10, 1), 4), V(D(2026, 11, 8), 7, pain_rest=2)], conf=CONF)
    assert [finding.text for finding in both] == [
        "rest pain 2/10 at the visit of 8 Nov 2026",
        "walking pain 4 → 7 between 1 Oct 2026 and 8 Nov 2026",
    ]
    assert both[1] == ladder.WorseningFinding(ladder.Measure.PAIN_WALKING, D(2026, 11, 8), 7, D(2026, 10, 1), 4)


def test_walking_pain_rising_by_two_points_is_worsening():
    assert ladder.worsening_evidence([V(D(2026, 1, 1), 4), V(D(2026, 2, 1), 6)], conf=CONF)
    assert not ladder.worsening_evidence([V(D(2026, 1, 1), 4), V(D(2026, 2, 1), 5)], conf=CONF)
    assert not ladder.worsening_evidence([], conf=CONF)
    assert ladder.worsening_evidence([V(D(2026, 1, 1), 4, pain_rest=2), V(D(2026, 2, 1), 5)], conf=CONF) == ()


def test_failed_rung_with_worsening_cites_both():
    treatment = T("footwear_modification", D(2026, 1, 5), response="none", response_assessed_on=D(2026, 2, 16))
    rec = recommend([treatment], [V(D(2026, 2, 16), 5, pain_rest=1)])
    assert rec.reason == (
        "No relief from footwear modification (assessed on 16 Feb 2026; its 6-week trial ended on 16 Feb 2026); "
        "worsening since: rest pain 1/10 at the visit of 16 Feb 2026. Escalate to 2 · orthosis."
    )


def test_complete_relief_with_rest_pain_since_asks_for_a_review_before_discharge():
    treatment = T("orthosis", D(2026, 1, 5), response="complete", response_assessed_on=D(2026, 2, 16))
    rec = recommend([treatment], [V(D(2026, 2, 23), 2, pain_rest=2)])
    assert (rec.action, rec.summary) == (Action.STAY, "Stay on the current rung (worsening)")
    assert rec.reason.endswith(
        "but worsening since: rest pain 2/10 at the visit of 23 Feb 2026. Review before discharge."
    )


def test_closed_presentation_is_discharged():
    assert recommend([T("orthosis", D(2026, 1, 5))], closed=True).action == Action.DISCHARGE


@pytest.mark.parametrize(
    ("treatments", "today"),
    [
        ((), TODAY),
        ((T("footwear_modification", D(2026, 2, 1)),), D(2026, 2, 10)),
        ((T("footwear_modification", D(2025, 1, 6)),), TODAY),
        (tuple(_up_to_injection("none")), TODAY),
    ],
)
def test_reasons_show_days_in_the_clinics_locale_never_iso(treatments, today):
    reason = recommend(treatments, [V(D(2026, 2, 1), 3)], today=today).reason
    assert not re.search(r"\d{4}-\d{2}-\d{2}", reason), reason


def test_target_rung_is_the_public_rung_number():
    assert recommend().target_rung == 1
    assert recommend(_up_to_injection()).target_rung == 4
    assert recommend([T("orthosis", D(2026, 2, 1))], today=D(2026, 2, 10)).target_rung is None

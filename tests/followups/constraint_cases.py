"""Ways to break each follow-up constraint with raw SQL; tests/cases/test_constraints.py runs them with the rest."""

import datetime

from tests.factories import TreatmentFactory

from .factories import FollowUpAnswerFactory, FollowUpFactory, FollowUpLinkFactory, FollowUpMessageFactory

D = datetime.date


def _after_treatment(**fields):
    treatment = TreatmentFactory(kind="neurectomy", approach="dorsal")
    return FollowUpFactory(presentation=treatment.presentation, treatment=treatment, time_point="month_6", **fields)


def _second_open_follow_up_of_a_treatment():
    first = _after_treatment()
    second = FollowUpFactory(
        presentation=first.presentation, treatment=first.treatment, time_point="month_6", status="cancelled"
    )
    return second, {"status": "scheduled"}


def _second_open_baseline():
    first = FollowUpFactory()
    second = FollowUpFactory(presentation=first.presentation, status="cancelled")
    return second, {"status": "missed"}


FOLLOW_UP_VIOLATIONS = {
    "followup_status_valid": [lambda: (FollowUpFactory(), {"status": "pending"})],
    "followup_time_point_valid": [lambda: (FollowUpFactory(), {"time_point": "month_3"})],
    "followup_window_around_due_date": [
        lambda: (FollowUpFactory(due_on=D(2026, 3, 1)), {"window_opens_on": D(2026, 3, 2)}),
        lambda: (FollowUpFactory(due_on=D(2026, 3, 1)), {"window_closes_on": D(2026, 2, 28)}),
    ],
    "followup_treatment_unless_baseline": [
        lambda: (FollowUpFactory(), {"time_point": "week_6"}),
        lambda: (_after_treatment(), {"treatment": None}),
    ],
    "followup_one_per_treatment_time_point": [_second_open_follow_up_of_a_treatment],
    "followup_one_baseline_per_presentation": [_second_open_baseline],
    "followuplink_locked_after_attempts": [
        lambda: (FollowUpLinkFactory(), {"locked_at": datetime.datetime.now(datetime.UTC)})
    ],
    "followuplink_revoked_with_reason": [
        lambda: (FollowUpLinkFactory(), {"revoked_at": datetime.datetime.now(datetime.UTC)})
    ],
    "followupanswer_pain_walking_0_10": [lambda: (FollowUpAnswerFactory(), {"pain_walking": 11})],
    "followupanswer_pain_rest_0_10": [lambda: (FollowUpAnswerFactory(), {"pain_rest": 11})],
    "followupanswer_relief_valid": [lambda: (FollowUpAnswerFactory(), {"relief": "some"})],
    "followupanswer_global_impression_1_7": [
        lambda: (FollowUpAnswerFactory(), {"global_impression": 0}),
        lambda: (FollowUpAnswerFactory(), {"global_impression": 8}),
    ],
    "followupanswer_channel_valid": [lambda: (FollowUpAnswerFactory(), {"channel": "post"})],
    "followupanswer_moxfq_walking_standing_0_100": [lambda: (FollowUpAnswerFactory(), {"moxfq_walking_standing": 101})],
    "followupanswer_moxfq_pain_0_100": [lambda: (FollowUpAnswerFactory(), {"moxfq_pain": 101})],
    "followupanswer_moxfq_social_0_100": [lambda: (FollowUpAnswerFactory(), {"moxfq_social": 101})],
    "followupanswer_link_or_staff": [
        lambda: (FollowUpAnswerFactory(), {"recorded_by": None}),
        lambda: (FollowUpAnswerFactory(), {"channel": "link"}),
    ],
    "followupmessage_channel_valid": [lambda: (FollowUpMessageFactory(), {"channel": "fax"})],
    "followupmessage_kind_valid": [lambda: (FollowUpMessageFactory(), {"kind": "final"})],
    "followupmessage_sent_or_failed": [
        lambda: (FollowUpMessageFactory(), {"error": "SMTPServerDisconnected"}),
        lambda: (FollowUpMessageFactory(), {"sent_at": None}),
        lambda: (FollowUpMessageFactory(), {"link": None}),
    ],
}

"""The outcome report's MCID attainment (cases.reports, with_mcid=True): the follow-up loop's one definition, per kind,
with n and missing, under the report's filters and scope; and staff dating an answer they took earlier."""

import datetime

import pytest
from django.utils import timezone

from cases import services
from cases.followups.choices import TimePoint
from cases.followups.models import ClinicFollowUpSettings, FollowUpAnswer
from cases.followups.reports import outcomes_against_mcid
from cases.reports import outcome_report

from .conftest import case_with_procedure

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
ALCOHOL = "alcohol_injection"


def answered_case(clinic, clinician, *, before=7, after=2, weeks_ago=60, **patient):
    """An alcohol injection ``weeks_ago`` weeks ago: walking pain ``before`` at the first visit, ``after`` at 6 months,
    the 12-month window closed unanswered."""
    presentation, treatment = case_with_procedure(clinic, clinician, weeks_ago=weeks_ago, kind=ALCOHOL, **patient)
    services.visit_record(
        presentation=presentation, clinician=clinician, seen_on=treatment.started_on, pain_walking=before, pain_rest=3
    )
    services.follow_up_plan(presentation=presentation, today=treatment.started_on)
    month_6 = presentation.follow_ups.get(time_point=TimePoint.MONTH_6)
    answered_at = datetime.datetime.combine(month_6.due_on, datetime.time(10), tzinfo=datetime.UTC)
    services.follow_up_answer_record(
        follow_up=month_6, channel="phone", recorded_by=clinician, answered_at=answered_at,
        pain_walking=after, pain_rest=1, relief="partial", global_impression=2,
    )  # fmt: skip
    return presentation, treatment


def attainment(row, time_point, measure):
    return next(entry for entry in row.against_mcid if (entry.time_point, entry.measure) == (time_point, measure))


def row_of(report, kind=ALCOHOL):
    return next(row for row in report if row.kind == kind)


def test_each_kind_gets_the_share_reaching_the_mcid_and_the_acceptable_state_with_n_and_missing(clinic, clinician):
    answered_case(clinic, clinician, before=7, after=2)
    answered_case(clinic, clinician, before=6, after=5)

    row = row_of(outcome_report(clinic_ids=[clinic.pk], with_mcid=True))

    walking_6 = attainment(row, "month_6", "pain_walking")
    assert (walking_6.n, walking_6.missing, walking_6.mcid_reached, walking_6.acceptable_reached) == (2, 0, 1, 1)
    assert (walking_6.mcid_rate, walking_6.acceptable_rate) == (0.5, 0.5)
    assert "Farrar 2001" in walking_6.mcid_source
    walking_12 = attainment(row, "month_12", "pain_walking")
    assert (walking_12.n, walking_12.missing, walking_12.mcid_rate) == (0, 2, None)
    moxfq = attainment(row, "month_6", "moxfq_pain")
    assert (moxfq.n, moxfq.missing, moxfq.acceptable_reached) == (0, 2, None)  # no MOxFQ at baseline or after
    neurectomy = row_of(outcome_report(clinic_ids=[clinic.pk], with_mcid=True), "neurectomy")
    assert len(neurectomy.against_mcid) == 10 and all(entry.n == 0 for entry in neurectomy.against_mcid)


def test_the_figures_are_the_follow_up_loops_own(clinic, clinician):
    answered_case(clinic, clinician, before=8, after=3)
    answered_case(clinic, clinician, before=4, after=3)

    row = row_of(outcome_report(clinic_ids=[clinic.pk], with_mcid=True))
    direct = outcomes_against_mcid(clinics=[clinic.pk], today=timezone.localdate())

    for source in direct:
        entry = attainment(row, source.time_point, source.measure)
        assert (entry.n, entry.missing, entry.mcid_reached, entry.acceptable_reached) == (
            source.n, source.missing, source.mcid_reached, source.acceptable_reached,
        )  # fmt: skip


def test_the_report_filters_and_clinic_scope_apply_to_the_attainment(clinic, clinician, other_clinic):
    _, treatment = answered_case(clinic, clinician)
    other_clinician = clinician.__class__.objects.create(username="other-dr")
    other_clinic.memberships.create(user=other_clinician, role="podiatrist")
    answered_case(other_clinic, other_clinician)

    own = attainment(row_of(outcome_report(clinic_ids=[clinic.pk], with_mcid=True)), "month_6", "pain_walking")
    everyone = attainment(row_of(outcome_report(clinic_ids=None, with_mcid=True)), "month_6", "pain_walking")
    later = outcome_report(clinic_ids=[clinic.pk], with_mcid=True, date_from=treatment.started_on + DAY)

    assert (own.n, everyone.n) == (1, 2)
    assert attainment(row_of(later), "month_6", "pain_walking").n == 0


def test_one_clinics_report_uses_its_own_thresholds(clinic, clinician):
    answered_case(clinic, clinician, before=7, after=2)
    ClinicFollowUpSettings.objects.create(
        clinic=clinic, thresholds={"pain_walking": {"points": 6, "percent": 90, "source": "Clinic audit 2026"}}
    )

    entry = attainment(row_of(outcome_report(clinic_ids=[clinic.pk], with_mcid=True)), "month_6", "pain_walking")

    assert (entry.mcid_reached, entry.mcid_source) == (0, "Clinic audit 2026")


def test_without_with_mcid_the_report_is_unchanged(clinic, clinician):
    answered_case(clinic, clinician)

    assert all(row.against_mcid is None for row in outcome_report(clinic_ids=[clinic.pk]))


# Dating an answer taken earlier (what the demo and a transcribed paper form use)


@pytest.mark.parametrize(
    ("offset", "channel", "message"),
    [
        (datetime.timedelta(days=1), "phone", "cannot be dated in the future"),
        (-datetime.timedelta(days=60), "phone", "window opens on"),
        (-datetime.timedelta(hours=1), "link", "dated when it is given"),
    ],
)
def test_an_earlier_answer_must_be_in_the_window_not_in_the_future_and_never_through_the_link(
    clinic, clinician, offset, channel, message
):
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=7)
    follow_up = presentation.follow_ups.get(time_point=TimePoint.WEEK_6)

    with pytest.raises(Exception, match=message):
        services.follow_up_answer_record(
            follow_up=follow_up, channel=channel, recorded_by=clinician, answered_at=timezone.now() + offset,
            pain_walking=2, pain_rest=0, relief="partial", global_impression=2,
        )  # fmt: skip

    assert not FollowUpAnswer.objects.exists()

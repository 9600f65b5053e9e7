"""Completion per time point beside the BOFAS figures, the overdue list, and outcomes against the MCID."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from cases import services
from cases.followups.models import ClinicFollowUpSettings, FollowUp
from cases.followups.reports import (
    BOFAS_COMPLETION_PERCENT,
    change_from_baseline,
    completion_rates,
    outcomes_against_mcid,
    thresholds_for,
)
from cases.followups.selectors import overdue_list
from tests.factories import MembershipFactory, PresentationFactory, TreatmentFactory, UserFactory, VisitFactory
from tests.followups.conftest import D, case_with_procedure
from tests.followups.factories import FollowUpAnswerFactory, FollowUpFactory, FollowUpMessageFactory

pytestmark = pytest.mark.django_db
TODAY = D(2026, 12, 1)


def closed_follow_up(presentation, time_point, *, status, answered_on=None, clinician=None, treatment=None):
    if time_point != "baseline" and treatment is None:
        treatment = TreatmentFactory(presentation=presentation, kind="neurectomy", approach="dorsal")
    follow_up = FollowUpFactory(
        presentation=presentation,
        treatment=treatment,
        time_point=time_point,
        due_on=D(2026, 6, 1),
        status=status,
        clinician=clinician,
    )
    if answered_on:
        FollowUpAnswerFactory(follow_up=follow_up, answered_on=answered_on)
    return follow_up


def test_completion_counts_each_time_point_apart_over_closed_windows(clinic, other_clinic):
    window_closes = D(2026, 6, 29)
    for status, answered_on in [
        ("completed", D(2026, 6, 2)),
        ("missed", None),
        ("declined", None),
        ("cancelled", None),
    ]:
        closed_follow_up(
            PresentationFactory(patient__clinic=clinic), "baseline", status=status, answered_on=answered_on
        )
    for status, answered_on in [
        ("completed", window_closes),
        ("completed", window_closes + datetime.timedelta(days=1)),
    ]:
        closed_follow_up(PresentationFactory(patient__clinic=clinic), "month_6", status=status, answered_on=answered_on)
    closed_follow_up(PresentationFactory(patient__clinic=other_clinic), "month_6", status="missed")
    # Still open: not in the denominator.
    FollowUpFactory(presentation=PresentationFactory(patient__clinic=clinic), due_on=TODAY)

    rows = completion_rates(clinics=[clinic], due_from=D(2026, 1, 1), due_to=D(2026, 12, 31), today=TODAY)
    assert [(r.time_point, r.closed, r.completed, r.percent, r.bofas_percent) for r in rows] == [
        ("baseline", 3, 1, 33.3, 52.5),  # cancelled is never counted; declined and missed are
        ("month_6", 2, 1, 50.0, 27.2),  # answered after the window closed: not completed in the window
    ]
    assert BOFAS_COMPLETION_PERCENT["month_12"] == 15.7


def test_completion_per_clinician(clinic):
    first, second = UserFactory(), UserFactory()
    closed_follow_up(
        PresentationFactory(patient__clinic=clinic),
        "baseline",
        status="completed",
        answered_on=D(2026, 6, 1),
        clinician=first,
    )
    closed_follow_up(PresentationFactory(patient__clinic=clinic), "baseline", status="missed", clinician=second)
    rows = completion_rates(
        clinics=[clinic], due_from=D(2026, 1, 1), due_to=D(2026, 12, 31), today=TODAY, per_clinician=True
    )
    assert {(r.clinician_id, r.closed, r.completed) for r in rows} == {(first.pk, 1, 1), (second.pk, 1, 0)}


def test_the_overdue_list_shows_open_unanswered_follow_ups_with_their_reminders(clinic, clinician):
    presentation, _treatment = case_with_procedure(clinic, clinician, weeks_ago=7)
    week_6 = FollowUp.objects.get(presentation=presentation, time_point="week_6")
    FollowUpMessageFactory(follow_up=week_6, kind="first")
    FollowUpMessageFactory(follow_up=week_6, kind="reminder")
    FollowUpMessageFactory(follow_up=week_6, kind="reminder", sent_at=None, link=None, error="SMTPServerDisconnected")
    case_with_procedure(clinic, clinician, weeks_ago=5)  # due next week: not overdue yet
    (row,) = overdue_list(clinics=[clinic], today=clinic.today())
    assert (row.pk, row.reminders_sent) == (week_6.pk, 1)
    assert overdue_list(clinics=[], today=clinic.today()).count() == 0


def test_resend_makes_an_overdue_follow_up_due_now(clinic, clinician):
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=7)
    week_6 = FollowUp.objects.get(presentation=presentation, time_point="week_6")
    services.follow_up_resend(follow_up=week_6)
    week_6.refresh_from_db()
    assert week_6.next_message_at <= timezone.now()


def _answered(presentation, time_point, treatment=None, **values):
    follow_up = FollowUpFactory(
        presentation=presentation, treatment=treatment, time_point=time_point, due_on=D(2026, 6, 1), status="completed"
    )
    return FollowUpAnswerFactory(follow_up=follow_up, **values)


def test_outcomes_count_presentations_reaching_the_mcid_and_the_acceptable_state(clinic):
    cases = [
        # (baseline, 6 months) walking pain: a fall of 5 (MCID, acceptable), 1 of 3 (33 %: MCID), 1 of 6 (neither)
        (7, 2),
        (3, 2),
        (6, 5),
    ]
    for before, after in cases:
        presentation = PresentationFactory(patient__clinic=clinic)
        VisitFactory(presentation=presentation, pain_walking=9)  # the baseline answer wins over the visit
        treatment = TreatmentFactory(presentation=presentation, kind="neurectomy", approach="dorsal")
        _answered(presentation, "baseline", pain_walking=before)
        _answered(presentation, "month_6", treatment=treatment, pain_walking=after)
    unanswered = PresentationFactory(patient__clinic=clinic)
    FollowUpFactory(
        presentation=unanswered,
        treatment=TreatmentFactory(presentation=unanswered, kind="neurectomy", approach="dorsal"),
        time_point="month_6",
        due_on=D(2026, 6, 1),
        status="missed",
    )
    rows = {(r.kind, r.time_point, r.measure): r for r in outcomes_against_mcid(clinics=[clinic], today=TODAY)}
    walking = rows[("neurectomy", "month_6", "pain_walking")]
    assert (walking.rung, walking.n, walking.missing, walking.mcid_reached, walking.acceptable_reached) == (
        4,
        3,
        1,
        2,
        2,
    )
    assert (walking.mcid_percent, walking.acceptable_percent) == (66.7, 66.7)
    assert "Farrar 2001" in walking.mcid_source
    social = rows[("neurectomy", "month_6", "moxfq_social")]
    assert (social.n, social.missing, social.acceptable_reached) == (0, 4, None)
    assert "moxfq_index" not in thresholds_for()  # no published MCID: left unset


def test_a_clinic_may_override_a_threshold_and_its_source(clinic):
    settings_row = ClinicFollowUpSettings.objects.create(
        clinic=clinic, thresholds={"pain_walking": {"points": 3, "percent": None, "source": "Clinic audit 2026"}}
    )
    threshold = thresholds_for(settings_row)["pain_walking"]
    assert (threshold.points, threshold.percent, threshold.source) == (Decimal(3), None, "Clinic audit 2026")
    assert not threshold.reached(3, 1)  # 2 points is no longer enough
    assert thresholds_for(settings_row)["moxfq_pain"].points == 12


def test_change_from_baseline_for_one_presentation(clinic):
    presentation = PresentationFactory(patient__clinic=clinic)
    VisitFactory(presentation=presentation, pain_walking=8, pain_rest=2, moxfq_pain=70)
    treatment = TreatmentFactory(presentation=presentation, kind="cryoneurolysis")
    _answered(presentation, "week_6", treatment=treatment, pain_walking=4, pain_rest=2, moxfq_pain=Decimal("60.0"))
    changes = {c.measure: c for c in change_from_baseline(presentation=presentation)}
    assert (
        changes["pain_walking"].change,
        changes["pain_walking"].mcid_reached,
        changes["pain_walking"].acceptable,
    ) == (
        -4,
        True,
        False,
    )
    assert (changes["pain_rest"].change, changes["pain_rest"].mcid_reached) == (0, False)
    assert (changes["moxfq_pain"].change, changes["moxfq_pain"].mcid_reached) == (Decimal("-10.0"), False)  # MCID 12


def test_the_follow_up_list_is_scoped_to_the_clinic_and_filtered(clinic, other_clinic, clinician):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cases.followups.selectors import follow_up_list

    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=6)
    MembershipFactory(user=clinician, clinic=other_clinic)  # the same podiatrist also works there
    case_with_procedure(other_clinic, clinician, weeks_ago=6)
    mine = follow_up_list(clinics=[clinic])
    assert {f.presentation_id for f in mine} == {presentation.pk}
    assert [f.time_point for f in follow_up_list(clinics=[clinic], due_to=clinic.today())] == ["week_6"]
    assert follow_up_list(clinics=[clinic], statuses=["completed"]).count() == 0
    with CaptureQueriesContext(connection) as queries:
        rows = list(follow_up_list(clinics=[clinic], patient_id=presentation.patient_id))
        [(f.presentation.patient.mrn, f.treatment and f.treatment.kind, f.messages_delivered) for f in rows]
    assert len(rows) == 3 and len(queries) == 1

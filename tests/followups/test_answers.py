"""Answers recorded by staff: the channel kept, audited, in the change history, refused cleanly when wrong."""

import pytest
from django.core.exceptions import ValidationError

from cases import services
from cases.audit import AuditEvent
from cases.followups.models import FollowUp, FollowUpAnswer
from tests.followups.conftest import case_with_procedure

pytestmark = pytest.mark.django_db
VALUES = {"pain_walking": 2, "pain_rest": 0, "relief": "partial", "global_impression": 2}


@pytest.fixture
def week_6(clinic, clinician):
    presentation, _treatment = case_with_procedure(clinic, clinician, weeks_ago=6)
    return FollowUp.objects.get(presentation=presentation, time_point="week_6")


def test_an_in_clinic_answer_records_its_channel_and_who_recorded_it(week_6, clinician):
    answer = services.follow_up_answer_record(
        follow_up=week_6, channel="in_clinic_tablet", recorded_by=clinician, **VALUES
    )
    week_6.refresh_from_db()
    assert (answer.channel, answer.recorded_by, week_6.status, week_6.next_message_at) == (
        "in_clinic_tablet",
        clinician,
        "completed",
        None,
    )
    event = AuditEvent.objects.get(object_type="cases.followupanswer", object_id=str(answer.pk))
    assert (event.action, event.actor, event.patient_id) == ("create", clinician, week_6.presentation.patient_id)
    assert answer.history.count() == 1


def test_a_second_answer_is_refused_and_writes_nothing(week_6, clinician):
    services.follow_up_answer_record(follow_up=week_6, channel="phone", recorded_by=clinician, **VALUES)
    with pytest.raises(ValidationError) as refused:
        services.follow_up_answer_record(follow_up=week_6, channel="phone", recorded_by=clinician, **VALUES)
    assert refused.value.message_dict == {"follow_up": ["This follow-up has already been answered."]}
    assert FollowUpAnswer.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"), [("pain_walking", 11), ("pain_rest", -1), ("relief", "some"), ("global_impression", 8)]
)
def test_an_out_of_range_answer_names_its_field_and_writes_nothing(week_6, clinician, field, value):
    with pytest.raises(ValidationError) as refused:
        services.follow_up_answer_record(
            follow_up=week_6, channel="phone", recorded_by=clinician, **{**VALUES, field: value}
        )
    assert list(refused.value.message_dict) == [field]
    week_6.refresh_from_db()
    assert (FollowUpAnswer.objects.count(), week_6.status) == (0, "scheduled")


def test_staff_must_say_who_recorded_the_answer(week_6):
    with pytest.raises(ValidationError) as refused:
        services.follow_up_answer_record(follow_up=week_6, channel="phone", **VALUES)
    assert "recorded_by" in refused.value.message_dict


def test_a_missed_follow_up_cannot_be_answered(week_6, clinician):
    week_6.status = "missed"
    week_6.save()
    with pytest.raises(ValidationError, match="missed"):
        services.follow_up_answer_record(follow_up=week_6, channel="phone", recorded_by=clinician, **VALUES)


def test_moxfq_items_are_refused_when_the_clinic_has_no_licensed_texts(week_6, clinician):
    with pytest.raises(ValidationError) as refused:
        services.follow_up_answer_record(
            follow_up=week_6, channel="phone", recorded_by=clinician, moxfq_items=[0] * 16, **VALUES
        )
    assert refused.value.message_dict == {
        "moxfq_items": ["This clinic has not configured its licensed MOxFQ item texts."]
    }


def test_moxfq_items_are_scored_against_the_clinics_form(week_6, clinician, moxfq_file):
    items = [2] * 7 + [4] * 5 + [0, 0, 0, None]
    answer = services.follow_up_answer_record(
        follow_up=week_6, channel="phone", recorded_by=clinician, moxfq_items=items, **VALUES
    )
    assert (str(answer.moxfq_walking_standing), str(answer.moxfq_pain), answer.moxfq_social) == ("50.0", "100.0", None)


def test_a_clinician_may_enter_the_domain_scores_instead(week_6, clinician):
    answer = services.follow_up_answer_record(
        follow_up=week_6, channel="phone", recorded_by=clinician, moxfq_pain=40, **VALUES
    )
    assert answer.moxfq_pain == 40 and answer.moxfq_items is None


def test_declining_stops_the_messages_and_is_final(week_6, clinician):
    services.follow_up_decline(follow_up=week_6, recorded_by=clinician)
    week_6.refresh_from_db()
    assert (week_6.status, week_6.next_message_at) == ("declined", None)
    with pytest.raises(ValidationError, match="declined"):
        services.follow_up_answer_record(follow_up=week_6, channel="phone", recorded_by=clinician, **VALUES)


def test_a_follow_up_whose_window_has_not_opened_cannot_be_answered_or_linked_yet(clinic, clinician):
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=6)
    month_6 = FollowUp.objects.get(presentation=presentation, time_point="month_6")
    with pytest.raises(ValidationError, match="window opens on"):
        services.follow_up_answer_record(follow_up=month_6, channel="phone", recorded_by=clinician, **VALUES)
    with pytest.raises(ValidationError, match="window opens on"):
        services.follow_up_link_issue(follow_up=month_6)
    assert FollowUpAnswer.objects.count() == 0


def test_a_link_on_a_cancelled_follow_up_opens_nothing(week_6, clinician):
    from django.utils import timezone

    from cases.followups.links import LinkState, link_state

    link, _ = services.follow_up_link_issue(follow_up=week_6)
    week_6.status = "cancelled"  # as if a path forgot to revoke its links
    week_6.save()
    link.refresh_from_db()
    assert link_state(link, now=timezone.now()) == LinkState.REVOKED

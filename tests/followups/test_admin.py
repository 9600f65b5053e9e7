"""The follow-ups' admin: scoped pages per role, actions through the services (audited), the overdue list with its
resend, the completion table, and nothing written on bad input."""

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.audit import AuditAction, AuditEvent
from cases.followups import links
from cases.followups.choices import FollowUpStatus, TimePoint
from cases.followups.models import FollowUp, FollowUpAnswer, FollowUpLink

from .conftest import case_with_procedure
from .factories import FollowUpAnswerFactory, FollowUpFactory, FollowUpMessageFactory

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
LIST = "/admin/cases/followup/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def overdue_follow_up(clinic, clinician, **patient) -> FollowUp:
    """The 6-week follow-up of an alcohol injection started 7 weeks ago: a week past due, its window open."""
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=7, **patient)
    follow_up = presentation.follow_ups.get(time_point=TimePoint.WEEK_6)
    assert follow_up.status == FollowUpStatus.OVERDUE
    return follow_up


@pytest.fixture
def own(clinic, clinician):
    return overdue_follow_up(clinic, clinician, mrn="OWN-1", given_name="Imelda", family_name="Ashcombe")


@pytest.fixture
def foreign(other_clinic, other_podiatrist):
    return overdue_follow_up(other_clinic, other_podiatrist, mrn="FOR-1", given_name="Zeno", family_name="Brackwater")


def events(action, object_type="cases.followup"):
    return AuditEvent.objects.filter(action=action, object_type=object_type)


# Pages per role


@pytest.mark.parametrize("role", ["clinician", "clinic_admin", "reviewer"])
def test_every_member_lists_their_clinics_follow_ups_and_never_anothers(request, role, own, foreign):
    response = client_for(request.getfixturevalue(role)).get(LIST)

    assert response.status_code == 200
    assert b"OWN-1" in response.content and b"Ashcombe" in response.content
    assert b"FOR-1" not in response.content and b"Brackwater" not in response.content
    event = events(AuditAction.LIST).get()
    assert event.patient_ids == [own.presentation.patient_id]


def test_the_list_is_newest_due_first_and_filters_by_status_and_time_point(clinic, clinician, own):
    client = client_for(clinician)

    rows = client.get(LIST).context["cl"].result_list
    overdue = client.get(LIST, {"status__exact": "overdue"}).context["cl"].result_list
    week_6 = client.get(LIST, {"time_point__exact": "week_6"}).context["cl"].result_list

    # The alcohol injection's 12 months, 6 months, then 6 weeks.
    assert [row.time_point for row in rows] == [TimePoint.MONTH_12, TimePoint.MONTH_6, TimePoint.WEEK_6]
    assert [row.pk for row in overdue] == [own.pk]
    assert [row.pk for row in week_6] == [own.pk]


def test_the_change_page_is_read_only_and_audited_with_the_actions_for_writers_only(clinician, reviewer, own):
    page = client_for(clinician).get(f"{LIST}{own.pk}/change/")
    read_only = client_for(reviewer).get(f"{LIST}{own.pk}/change/")

    assert page.status_code == read_only.status_code == 200
    assert b'name="_save"' not in page.content
    assert f"{LIST}{own.pk}/link/".encode() in page.content
    assert f"{LIST}{own.pk}/link/".encode() not in read_only.content
    assert events(AuditAction.VIEW).filter(object_id=str(own.pk)).count() == 2
    assert client_for(clinician).post(f"{LIST}{own.pk}/change/", {}).status_code == 403


ACTIONS = ["link", "revoke", "resend", "decline", "answer"]


@pytest.mark.parametrize("action", ACTIONS)
def test_another_clinics_follow_up_answers_exactly_like_a_missing_one(clinician, foreign, action):
    client = client_for(clinician)
    before = FollowUp.objects.values().get(pk=foreign.pk)

    for method in ("get", "post"):
        seen = getattr(client, method)(f"{LIST}{foreign.pk}/{action}/", {"reason": "x"})
        missing = getattr(client, method)(f"{LIST}987654/{action}/", {"reason": "x"})
        assert (seen.status_code, seen.headers.get("Location")) == (
            missing.status_code,
            missing.headers.get("Location"),
        )
        assert b"Brackwater" not in seen.content
    change = client.get(f"{LIST}{foreign.pk}/change/")
    assert (change.status_code, change.headers["Location"]) == (302, "/admin/")
    assert FollowUp.objects.values().get(pk=foreign.pk) == before
    assert not FollowUpLink.objects.filter(follow_up=foreign).exists()


@pytest.mark.parametrize("action", ["link", "resend", "decline"])
def test_a_reviewer_is_refused_every_action_and_nothing_changes(reviewer, own, action):
    before = FollowUp.objects.values().get(pk=own.pk)

    response = client_for(reviewer).post(f"{LIST}{own.pk}/{action}/")

    assert response.status_code == 403
    assert FollowUp.objects.values().get(pk=own.pk) == before
    assert not FollowUpLink.objects.filter(follow_up=own).exists()


# Actions


def test_issuing_a_link_shows_it_once_with_a_qr_code_and_the_link_opens_the_patient_page(clinician, own):
    response = client_for(clinician).post(f"{LIST}{own.pk}/link/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    body = response.content.decode()
    token = re.search(r"/follow-up/([A-Za-z0-9_-]+)/", body).group(1)
    link = FollowUpLink.objects.get(follow_up=own)
    assert link.token_digest == links.digest(token) and link.issued_by == clinician
    assert '<img src="data:image/svg+xml' in body
    assert "Imelda" not in body.split('id="follow-up-link"')[1]  # the printed part names nobody
    assert events(AuditAction.CREATE, "cases.followuplink").filter(object_id=str(link.pk)).exists()
    assert Client().get(f"/follow-up/{token}/").status_code == 200
    # Shown once: the change page lists the link, never its token.
    assert token.encode() not in client_for(clinician).get(f"{LIST}{own.pk}/change/").content


def test_a_link_is_not_issued_for_an_answered_follow_up(clinician, own):
    services.follow_up_answer_record(
        follow_up=own, channel="phone", recorded_by=clinician, pain_walking=2, pain_rest=0, relief="partial",
        global_impression=2,
    )  # fmt: skip

    response = client_for(clinician).post(f"{LIST}{own.pk}/link/", follow=True)

    assert "already been answered" in response.content.decode()
    assert not FollowUpLink.objects.filter(follow_up=own).exists()


def test_revoking_a_link_needs_a_reason_and_then_the_link_opens_nothing(clinician, own):
    link, token = services.follow_up_link_issue(follow_up=own, issued_by=clinician)
    client = client_for(clinician)

    refused = client.post(f"{LIST}{own.pk}/revoke/", {"link": link.pk, "reason": "  "}, follow=True)
    assert "Say why the link is revoked." in refused.content.decode()
    assert FollowUpLink.objects.get(pk=link.pk).revoked_at is None

    client.post(f"{LIST}{own.pk}/revoke/", {"link": link.pk, "reason": "Given to the wrong person."})

    link.refresh_from_db()
    assert link.revoked_reason == "Given to the wrong person."
    assert Client().get(f"/follow-up/{token}/").status_code == 410


def test_a_link_of_another_follow_up_cannot_be_revoked_through_this_one(clinician, clinic, own):
    other = overdue_follow_up(clinic, clinician, mrn="OWN-2")
    link, _ = services.follow_up_link_issue(follow_up=other, issued_by=clinician)

    client_for(clinician).post(f"{LIST}{own.pk}/revoke/", {"link": link.pk, "reason": "Wrong."})

    assert FollowUpLink.objects.get(pk=link.pk).revoked_at is None


def test_a_locked_link_shows_staff_why(clinician, own):
    link, _ = services.follow_up_link_issue(follow_up=own, issued_by=clinician)
    for _ in range(5):
        services.follow_up_link_confirm(link=link, birth_date=datetime.date(1900, 1, 1))

    page = client_for(clinician).get(f"{LIST}{own.pk}/change/").content.decode()

    assert "too many wrong birth dates" in page
    assert "locked" in page


def test_resend_from_the_overdue_list_is_one_click_through_the_service(clinician, own):
    FollowUpMessageFactory(follow_up=own, kind="reminder")
    client = client_for(clinician)

    overdue = client.get(f"{LIST}overdue/")
    assert [entry["follow_up"].pk for entry in overdue.context["rows"]] == [own.pk]
    assert overdue.context["rows"][0]["follow_up"].reminders_sent == 1
    before = timezone.now()

    response = client.post(f"{LIST}{own.pk}/resend/", {"back": "overdue"})

    assert (response.status_code, response["Location"]) == (302, f"{LIST}overdue/")
    own.refresh_from_db()
    assert own.next_message_at >= before
    assert events(AuditAction.UPDATE).filter(object_id=str(own.pk)).exists()
    assert events(AuditAction.LIST).filter(patient_ids=[own.presentation.patient_id]).exists()


def test_the_overdue_list_leaves_out_answered_and_other_clinics_follow_ups(clinician, clinic, own, foreign):
    answered = overdue_follow_up(clinic, clinician, mrn="OWN-3")
    services.follow_up_answer_record(
        follow_up=answered, channel="phone", recorded_by=clinician, pain_walking=2, pain_rest=0, relief="partial",
        global_impression=2,
    )  # fmt: skip

    rows = client_for(clinician).get(f"{LIST}overdue/").context["rows"]

    assert [entry["follow_up"].pk for entry in rows] == [own.pk]


def test_declining_records_it_and_stops_the_messages(clinician, own):
    client_for(clinician).post(f"{LIST}{own.pk}/decline/")

    own.refresh_from_db()
    assert own.status == FollowUpStatus.DECLINED and own.next_message_at is None
    assert events(AuditAction.UPDATE).filter(object_id=str(own.pk)).exists()


# Answers recorded by staff


def answer_body(**changes):
    return {
        "channel": "phone",
        "pain_walking": "3",
        "pain_rest": "1",
        "relief": "partial",
        "global_impression": "2",
        **changes,
    }


def test_staff_record_an_answer_by_phone_through_the_service(clinician, own):
    client = client_for(clinician)
    form = client.get(f"{LIST}{own.pk}/answer/")
    assert form.status_code == 200
    assert b'for="id_pain_walking"' in form.content
    assert b"moxfq_1" not in form.content  # the clinic has not configured its MOxFQ item texts

    response = client.post(f"{LIST}{own.pk}/answer/", answer_body())

    assert response.status_code == 302
    answer = FollowUpAnswer.objects.get(follow_up=own)
    assert (answer.channel, answer.recorded_by, answer.pain_walking) == ("phone", clinician, 3)
    assert events(AuditAction.CREATE, "cases.followupanswer").get().actor == clinician


def test_the_answer_form_asks_moxfq_only_with_the_clinics_item_texts(clinician, own, moxfq_file):
    client = client_for(clinician)
    assert b"Placeholder item 16" in client.get(f"{LIST}{own.pk}/answer/").content

    client.post(
        f"{LIST}{own.pk}/answer/", answer_body(channel="in_clinic_tablet", **{f"moxfq_{n}": "2" for n in range(1, 17)})
    )

    answer = FollowUpAnswer.objects.get(follow_up=own)
    assert answer.channel == "in_clinic_tablet"
    assert float(answer.moxfq_walking_standing) == 50.0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"pain_walking": "11"}, "pain_walking", "less than or equal to 10"),
        ({"channel": ""}, "channel", "Say how the answers were given"),
        ({"channel": "link"}, "channel", "Select a valid choice"),
        ({"relief": ""}, "relief", "Choose how much relief"),
    ],
)
def test_a_bad_answer_names_its_field_and_records_nothing(clinician, own, changes, field, message):
    response = client_for(clinician).post(f"{LIST}{own.pk}/answer/", answer_body(**changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not FollowUpAnswer.objects.filter(follow_up=own).exists()
    assert FollowUp.objects.get(pk=own.pk).status == FollowUpStatus.OVERDUE


def test_a_second_answer_is_refused_and_the_first_kept(clinician, own):
    client = client_for(clinician)
    client.post(f"{LIST}{own.pk}/answer/", answer_body())

    response = client.post(f"{LIST}{own.pk}/answer/", answer_body(pain_walking="9"))

    assert "already been answered" in " ".join(response.context["form"].non_field_errors())
    assert FollowUpAnswer.objects.get(follow_up=own).pain_walking == 3


# Completion


def closed_follow_up(presentation, *, due_on, time_point=TimePoint.BASELINE, answered=False, clinician=None):
    follow_up = FollowUpFactory(
        presentation=presentation,
        time_point=time_point,
        treatment=None if time_point == TimePoint.BASELINE else presentation.treatments.first(),
        due_on=due_on,
        clinician=clinician,
        status=FollowUpStatus.COMPLETED if answered else FollowUpStatus.MISSED,
    )
    if answered:
        FollowUpAnswerFactory(follow_up=follow_up, answered_on=due_on)
    return follow_up


def test_the_completion_table_counts_per_time_point_beside_bofas(clinic, clinician, clinic_admin, own, foreign):
    today = clinic.today()
    other_presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=60, mrn="OWN-9")
    closed_follow_up(own.presentation, due_on=today - 100 * DAY, answered=True, clinician=clinician)
    closed_follow_up(other_presentation, due_on=today - 90 * DAY, clinician=clinician)
    closed_follow_up(
        other_presentation, due_on=today - 80 * DAY, time_point=TimePoint.MONTH_6, answered=True, clinician=clinician
    )

    response = client_for(clinic_admin).get(f"{LIST}completion/")

    assert response.status_code == 200
    rows = {(entry["row"].time_point, entry["clinic"]): entry["row"] for entry in response.context["by_clinic"]}
    baseline = rows[(TimePoint.BASELINE, clinic.name)]
    assert (baseline.completed, baseline.closed, baseline.percent, baseline.bofas_percent) == (1, 2, 50.0, 52.5)
    assert rows[(TimePoint.MONTH_6, clinic.name)].bofas_percent == 27.2
    assert {entry["clinic"] for entry in response.context["by_clinic"]} == {clinic.name}
    assert [entry["clinician"] for entry in response.context["by_clinician"]] == [
        clinician.get_full_name() or clinician.get_username()
    ] * 2
    body = response.content.decode()
    assert "1 / 2" in body and "52.5 %" in body and "BOFAS national registry" in body
    assert "OWN-1" not in body


def test_the_completion_table_takes_a_date_range_and_names_a_bad_one(clinic, clinician, clinic_admin, own):
    today = clinic.today()
    closed_follow_up(own.presentation, due_on=today - 100 * DAY, answered=True)
    client = client_for(clinic_admin)

    outside = client.get(f"{LIST}completion/", {"due_from": (today - 50 * DAY).isoformat()})
    bad = client.get(f"{LIST}completion/", {"due_from": today.isoformat(), "due_to": (today - DAY).isoformat()})

    assert outside.context["by_clinic"] == []
    assert "on or after" in " ".join(bad.context["form"].errors["due_to"])
    assert bad.context["by_clinic"] == []


def test_the_completion_table_is_for_clinic_admins_and_reviewers(clinician, reviewer, clinic_admin):
    assert client_for(clinician).get(f"{LIST}completion/").status_code == 403
    assert client_for(reviewer).get(f"{LIST}completion/").status_code == 200
    assert client_for(clinic_admin).get(f"{LIST}completion/").status_code == 200


def test_the_admin_index_links_the_overdue_list_and_the_completion_table(clinician, clinic_admin):
    admin_index = client_for(clinic_admin).get("/admin/").content.decode()
    podiatrist_index = client_for(clinician).get("/admin/").content.decode()

    assert f"{LIST}overdue/" in admin_index and f"{LIST}completion/" in admin_index
    assert f"{LIST}overdue/" in podiatrist_index and f"{LIST}completion/" not in podiatrist_index


# Query counts


def test_the_list_and_the_overdue_list_cost_the_same_queries_for_one_row_or_many(clinic, clinician, own):
    client = client_for(clinician)
    client.get(LIST)
    with CaptureQueriesContext(connection) as one_list:
        client.get(LIST)
    with CaptureQueriesContext(connection) as one_overdue:
        client.get(f"{LIST}overdue/")
    for n in range(5):
        follow_up = overdue_follow_up(clinic, clinician, mrn=f"MANY-{n}")
        FollowUpMessageFactory(follow_up=follow_up, kind="reminder")
    with CaptureQueriesContext(connection) as many_list:
        response = client.get(LIST)
    with CaptureQueriesContext(connection) as many_overdue:
        overdue = client.get(f"{LIST}overdue/")

    assert len(response.context["cl"].result_list) == 18  # three follow-ups per injection
    assert len(overdue.context["rows"]) == 6
    assert len(many_list.captured_queries) == len(one_list.captured_queries)
    assert len(many_overdue.captured_queries) == len(one_overdue.captured_queries)

"""send_follow_ups against a real SMTP server: once per due message, reminders capped, failures retried, never lost."""

import datetime
import io
import re
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.followups.models import FollowUp, FollowUpMessage
from tests.followups.conftest import case_with_procedure

DAY = datetime.timedelta(days=1)
TOKEN_IN_URL = re.compile(r"/follow-up/([A-Za-z0-9_-]+)/")


def due_cases(clinic, clinician, count, **patient):
    """``count`` presentations whose 6-week follow-up is due today (its window open), nothing else open."""
    follow_ups = []
    for n in range(count):
        presentation, _ = case_with_procedure(
            clinic, clinician, weeks_ago=6, email=f"patient{n}.{clinic.slug}@example.test", **patient
        )
        follow_ups.append(FollowUp.objects.get(presentation=presentation, time_point="week_6"))
    return follow_ups


def sent_per_follow_up():
    return dict(
        FollowUpMessage.objects.filter(sent_at__isnull=False).values_list("follow_up_id").annotate(n=Count("pk"))
    )


@pytest.mark.django_db
def test_the_first_message_goes_out_when_the_window_opens_and_carries_no_clinical_detail(
    clinic, clinician, smtp, client
):
    (week_6,) = due_cases(clinic, clinician, 1, given_name="Philippa", family_name="Quenby")
    result = services.follow_up_send_due()
    assert (result.sent, result.failed) == (1, 0)
    ((recipients, content),) = smtp.inbox.messages
    assert recipients == ["patient0.northside@example.test"]
    assert "Northside Foot Clinic" in content and "http://localhost:8000/follow-up/" in content
    assert [w for w in ("Philippa", "Quenby", "alcohol", "injection", "foot", "MRN") if w in content] == []
    week_6.refresh_from_db()
    message = FollowUpMessage.objects.get()
    assert (week_6.status, week_6.messages_sent, message.kind, message.channel) == ("sent", 1, "first", "email")
    # The link in the email opens the patient's page.
    token = TOKEN_IN_URL.search(content).group(1)
    assert client.get(f"/follow-up/{token}/").status_code == 200
    # Only the 6-week window is open: the 6- and 12-month follow-ups wait for theirs.
    assert FollowUp.objects.filter(messages_sent=0).count() == 2


@pytest.mark.django_db
def test_reminders_follow_the_cadence_up_to_the_cap_and_a_rerun_sends_nothing(clinic, clinician, smtp):
    due_cases(clinic, clinician, 1)
    start = timezone.now()
    runs = {
        "first": start,
        "same run again": start,
        "before the cadence": start + 6 * DAY,
        "reminder 1": start + 7 * DAY + datetime.timedelta(minutes=1),
        "reminder 2": start + 15 * DAY,
        "past the cap": start + 23 * DAY,
    }
    sent = {name: services.follow_up_send_due(now=now).sent for name, now in runs.items()}
    assert sent == {
        "first": 1,
        "same run again": 0,
        "before the cadence": 0,
        "reminder 1": 1,
        "reminder 2": 1,
        "past the cap": 0,
    }
    assert list(FollowUpMessage.objects.values_list("kind", flat=True)) == ["first", "reminder", "reminder"]
    assert len(smtp.inbox.messages) == 3


@pytest.mark.django_db
def test_nothing_is_sent_after_completion(clinic, clinician, smtp):
    (week_6,) = due_cases(clinic, clinician, 1)
    start = timezone.now()
    services.follow_up_send_due(now=start)
    services.follow_up_answer_record(
        follow_up=week_6,
        channel="phone",
        recorded_by=clinician,
        pain_walking=1,
        pain_rest=0,
        relief="complete",
        global_impression=1,
    )
    assert services.follow_up_send_due(now=start + 8 * DAY).sent == 0
    assert len(smtp.inbox.messages) == 1


@pytest.mark.django_db
def test_nothing_is_sent_after_the_window_closes_and_the_follow_up_is_missed(clinic, clinician, smtp):
    (week_6,) = due_cases(clinic, clinician, 1)
    assert services.follow_up_send_due(now=timezone.now() + 40 * DAY).sent == 0
    week_6.refresh_from_db()
    assert (week_6.status, week_6.next_message_at) == ("missed", None)
    assert smtp.inbox.messages == []


@pytest.mark.django_db
def test_a_patient_without_an_address_gets_no_message_and_no_failure(clinic, clinician, smtp):
    due_cases(clinic, clinician, 1)
    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=6, email="")
    result = services.follow_up_send_due()
    assert (result.sent, result.failed) == (1, 0)
    assert not FollowUpMessage.objects.filter(follow_up__presentation=presentation).exists()


@pytest.mark.django_db
def test_an_smtp_outage_is_recorded_and_every_message_goes_out_once_on_recovery(clinic, clinician, smtp):
    follow_ups = due_cases(clinic, clinician, 3)
    smtp.stop()
    start = timezone.now()
    down = services.follow_up_send_due(now=start)
    assert (down.sent, down.failed) == (0, 3)
    failures = FollowUpMessage.objects.all()
    assert len(failures) == 3 and all(m.sent_at is None and "Connection refused" in m.error for m in failures)
    assert [f.status for f in FollowUp.objects.filter(pk__in=[f.pk for f in follow_ups])] == ["scheduled"] * 3

    smtp.start()
    recovered = services.follow_up_send_due(now=start + datetime.timedelta(minutes=5))
    assert (recovered.sent, recovered.failed) == (3, 0)
    assert sorted(r for rs, _ in smtp.inbox.messages for r in rs) == sorted(
        f"patient{n}.northside@example.test" for n in range(3)
    )
    assert sent_per_follow_up() == {f.pk: 1 for f in follow_ups}
    assert services.follow_up_send_due(now=start + datetime.timedelta(minutes=10)).sent == 0


@pytest.mark.django_db
def test_the_command_reports_what_it_did(clinic, clinician, smtp):
    due_cases(clinic, clinician, 2)
    out = io.StringIO()
    call_command("send_follow_ups", stdout=out)
    assert "2 sent, 0 failed" in out.getvalue()
    out = io.StringIO()
    call_command("send_follow_ups", stdout=out)
    assert "0 sent, 0 failed" in out.getvalue()


@pytest.mark.django_db
def test_a_batch_costs_the_same_queries_for_1_or_10_messages(clinic, clinician):
    start = timezone.now()
    due_cases(clinic, clinician, 1)
    with CaptureQueriesContext(connection) as one:
        assert services.follow_up_send_due(now=start).sent == 1
    due_cases(clinic, clinician, 10)
    with CaptureQueriesContext(connection) as ten:
        assert services.follow_up_send_due(now=start).sent == 10
    assert len(mail.outbox) == 11
    assert len(ten) == len(one)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_message_exactly_once(on_postgres, clinic, clinician, settings):
    from tests.followups.conftest import Inbox, SmtpServer

    server = SmtpServer(Inbox(delay=0.1))  # slow enough that the two runs' batches overlap
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    try:
        follow_ups = due_cases(clinic, clinician, 12)
        start = threading.Barrier(2)
        outputs, errors = [], []

        def run():
            out = io.StringIO()
            try:
                start.wait()
                call_command("send_follow_ups", "--batch-size=2", stdout=out)
                outputs.append(out.getvalue())
            except Exception as error:
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert len(server.inbox.messages) == 12
        assert len({r for rs, _ in server.inbox.messages for r in rs}) == 12
        assert sent_per_follow_up() == {f.pk: 1 for f in follow_ups}
        # Both runs took part: neither waited for the other to finish.
        assert all(" 0 sent" not in output for output in outputs), outputs
    finally:
        server.stop()


@pytest.mark.django_db
def test_a_follow_up_made_due_before_its_window_opens_waits_for_the_window(clinic, clinician, smtp):
    (week_6,) = due_cases(clinic, clinician, 1)
    month_6 = FollowUp.objects.get(presentation=week_6.presentation, time_point="month_6")
    FollowUp.objects.filter(pk=month_6.pk).update(next_message_at=timezone.now() - DAY)
    result = services.follow_up_send_due()
    assert (result.sent, result.skipped) == (1, 1)
    month_6.refresh_from_db()
    assert month_6.next_message_at.date() == month_6.window_opens_on


@pytest.mark.django_db
def test_a_clinics_own_cadence_and_cap_are_used(clinic, clinician, smtp):
    from cases.followups.models import ClinicFollowUpSettings

    ClinicFollowUpSettings.objects.create(clinic=clinic, reminder_every_days=3, reminder_cap=1)
    due_cases(clinic, clinician, 1)
    start = timezone.now()
    sent = [services.follow_up_send_due(now=start + days * DAY).sent for days in (0, 3, 6, 9)]
    assert sent == [1, 1, 0, 0]


@pytest.mark.django_db
@pytest.mark.parametrize("option", ["--every=0", "--batch-size=-3", "--every=soon"])
def test_send_follow_ups_refuses_a_bad_option_by_name_and_sends_nothing(option):
    from django.core.management.base import CommandError

    from cases.followups.models import FollowUpMessage

    with pytest.raises(CommandError, match=option.split("=")[0]):
        call_command("send_follow_ups", option, stdout=io.StringIO())
    assert not FollowUpMessage.objects.exists()

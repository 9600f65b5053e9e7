"""The patient's page: nothing before the birth date, then the questions; every bad link or answer refused plainly."""

import datetime
import types

import pytest
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.audit import AuditEvent
from cases.followups import views
from cases.followups.models import FollowUp, FollowUpAnswer, FollowUpLink
from tests.factories import ClinicFactory, MembershipFactory
from tests.followups.conftest import case_with_procedure

pytestmark = pytest.mark.django_db
BIRTH_DATE = datetime.date(1970, 5, 17)
ANSWERS = {"pain_walking": "2", "pain_rest": "0", "relief": "partial", "global_impression": "2"}


def url(token):
    return reverse("follow-up-page", kwargs={"token": token})


@pytest.fixture
def issued(clinic, clinician):
    presentation, _ = case_with_procedure(
        clinic,
        clinician,
        weeks_ago=6,
        given_name="Philippa",
        family_name="Quenby",
        mrn="MRN-PQ-77",
        birth_date=BIRTH_DATE,
    )
    follow_up = FollowUp.objects.get(presentation=presentation, time_point="week_6")
    link, token = services.follow_up_link_issue(follow_up=follow_up)
    return follow_up, link, token


def confirm(client, token, birth_date=BIRTH_DATE):
    return client.post(url(token), {"birth_date": birth_date.isoformat()})


PHI_AND_CASE = [
    "Philippa",
    "Quenby",
    "MRN-PQ-77",
    "1970",
    "17/05",
    "alcohol",
    "injection",
    "6 weeks",
    "left",
    "interspace",
]


def test_before_the_birth_date_the_page_shows_only_the_clinics_name(client, issued, clinic):
    _, _, token = issued
    response = client.get(url(token))
    page = response.content.decode()
    assert response.status_code == 200
    assert clinic.name in page
    assert [word for word in PHI_AND_CASE if word.lower() in page.lower()] == []
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert response["Cache-Control"] == "no-store"
    assert "<script" not in page and "style=" not in page
    # Works on a phone under the strict policy: a viewport, one static stylesheet, nothing inline.
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '<link rel="stylesheet" href="/static/followups/patient.css">' in page
    assert "default-src 'self'" in response["Content-Security-Policy"]


def test_the_right_birth_date_opens_the_questions(client, issued):
    _follow_up, link, token = issued
    response = confirm(client, token)
    assert response.status_code == 302
    page = client.get(url(token)).content.decode()
    assert "Pain when walking" in page and 'min="0" max="10"' in page
    assert "<fieldset" in page and "<legend>" in page and "Very much improved" in page
    link.refresh_from_db()
    assert link.confirmed_at is not None and link.birth_date_attempts == 0


def test_a_wrong_birth_date_says_so_and_counts_down(client, issued):
    _, link, token = issued
    response = confirm(client, token, datetime.date(1971, 5, 17))
    assert response.status_code == 400
    assert "does not match our record. 4 attempts left" in response.content.decode()
    link.refresh_from_db()
    assert link.birth_date_attempts == 1
    assert "Pain when walking" not in client.get(url(token)).content.decode()


def test_the_link_locks_after_the_limit_and_staff_see_why(client, issued, settings):
    settings.FOLLOW_UP = {**settings.FOLLOW_UP, "BIRTH_DATE_ATTEMPTS": 3}
    _, link, token = issued
    statuses = [confirm(client, token, datetime.date(1980, 1, day)).status_code for day in (1, 2, 3)]
    assert statuses == [400, 400, 403]
    link.refresh_from_db()
    assert (link.birth_date_attempts, link.locked_at is not None) == (3, True)
    # Locked for good: even the right date opens nothing now.
    response = confirm(client, token)
    assert response.status_code == 403 and "locked" in response.content.decode()


def test_submitting_records_one_answer_through_the_link_and_a_replay_writes_nothing(client, issued):
    follow_up, link, token = issued
    confirm(client, token)
    response = client.post(url(token), ANSWERS)
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    answer = FollowUpAnswer.objects.get()
    assert (answer.follow_up, answer.channel, answer.link, answer.recorded_by) == (follow_up, "link", link, None)
    event = AuditEvent.objects.get(object_type="cases.followupanswer")
    assert (event.actor, event.actor_label, event.via) == (None, "patient via link", "page")

    replay = client.post(url(token), {**ANSWERS, "pain_walking": "9"})
    assert replay.status_code == 409 and "already been answered" in replay.content.decode()
    answer.refresh_from_db()
    assert (FollowUpAnswer.objects.count(), answer.pain_walking) == (1, 2)


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"pain_walking": "11"}, "Ensure this value is less than or equal to 10."),
        ({"pain_rest": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"pain_walking": ""}, "Give a number from 0 to 10."),
        ({"relief": ""}, "Choose how much relief you have had."),
        ({"global_impression": "9"}, "Select a valid choice."),
    ],
)
def test_an_out_of_range_or_missing_answer_is_shown_at_its_field_and_nothing_is_written(
    client, issued, changes, field_error
):
    _, _, token = issued
    confirm(client, token)
    response = client.post(url(token), {**ANSWERS, **changes})
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode() or "<fieldset" in response.content.decode()
    assert FollowUpAnswer.objects.count() == 0


def test_the_clinics_licensed_moxfq_items_are_asked_and_scored(client, issued, moxfq_file):
    _, _, token = issued
    confirm(client, token)
    page = client.get(url(token)).content.decode()
    assert page.count("Placeholder item") == 16
    items = {f"moxfq_{n}": "2" for n in range(1, 17)} | {"moxfq_9": ""}  # one pain item left out
    client.post(url(token), {**ANSWERS, **items})
    answer = FollowUpAnswer.objects.get()
    assert (str(answer.moxfq_walking_standing), answer.moxfq_pain, str(answer.moxfq_social)) == ("50.0", None, "50.0")


def test_without_licensed_texts_no_moxfq_question_is_asked(client, issued):
    _, _, token = issued
    confirm(client, token)
    assert "moxfq" not in client.get(url(token)).content.decode()


def test_an_expired_link_says_so_with_410(client, issued):
    _, link, token = issued
    link.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    link.save()
    response = client.get(url(token))
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert client.post(url(token), {"birth_date": BIRTH_DATE.isoformat()}).status_code == 410
    link.refresh_from_db()
    assert link.confirmed_at is None


def test_a_revoked_link_says_so_with_410_and_nothing_is_written(client, issued):
    _, link, token = issued
    confirm(client, token)
    services.follow_up_link_revoke(link=link, reason="Patient asked by phone")
    response = client.post(url(token), ANSWERS)
    assert response.status_code == 410 and "withdrawn" in response.content.decode()
    assert FollowUpAnswer.objects.count() == 0


def test_an_unknown_token_answers_404(client, issued):
    response = client.get(url("not-a-token-anyone-was-given"))
    assert response.status_code == 404 and "not known" in response.content.decode()


def test_a_token_of_one_clinic_never_reveals_another_clinics_patient(client, issued, clinician):
    other = ClinicFactory(name="Southside Podiatry")
    MembershipFactory(user=clinician, clinic=other)  # the same podiatrist also works there
    other_presentation, _ = case_with_procedure(
        other, clinician, weeks_ago=6, given_name="Oswin", family_name="Other", birth_date=datetime.date(1960, 1, 1)
    )
    _, link, token = issued
    # The other clinic's patient's birth date does not open this clinic's link, and its page names neither.
    response = confirm(client, token, datetime.date(1960, 1, 1))
    page = response.content.decode()
    assert response.status_code == 400
    assert "Southside" not in page and "Oswin" not in page
    link.refresh_from_db()
    assert link.birth_date_attempts == 1
    confirm(client, token)
    client.post(url(token), ANSWERS)
    assert (
        FollowUpAnswer.objects.get().follow_up.presentation.patient.clinic_id
        == link.follow_up.presentation.patient.clinic_id
    )
    assert not FollowUpAnswer.objects.filter(follow_up__presentation=other_presentation).exists()


def test_the_page_is_rate_limited_per_client_address(client, issued, settings, monkeypatch):
    settings.FOLLOW_UP = {**settings.FOLLOW_UP, "PAGE_REQUESTS_PER_MINUTE": 3}
    monkeypatch.setattr(views, "time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))  # one fixed minute
    _, _, token = issued
    statuses = [client.get(url(token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get(url(token), REMOTE_ADDR="198.51.100.7").status_code == 200


def test_the_token_is_stored_only_as_its_digest(issued):
    _, link, token = issued
    assert token not in str(FollowUpLink.objects.filter(pk=link.pk).values().get())


def test_a_broken_moxfq_file_leaves_moxfq_out_and_the_rest_answerable(client, issued, moxfq_file, caplog):
    moxfq_file.write_text('{"items": []}')
    _, _, token = issued
    confirm(client, token)
    page = client.get(url(token))
    assert page.status_code == 200 and "Placeholder item" not in page.content.decode()
    assert "MOxFQ item file of clinic" in caplog.text
    assert client.post(url(token), ANSWERS).status_code == 200
    assert FollowUpAnswer.objects.get().moxfq_pain is None

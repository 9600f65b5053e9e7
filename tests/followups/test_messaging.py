"""The message text, the SMS interface with no provider bound, and the printable QR code of a link."""

import base64
import datetime
import urllib.parse
import zoneinfo

import pytest

from cases import services
from cases.followups import links, messaging
from cases.followups.models import FollowUp, FollowUpMessage
from tests.followups.conftest import case_with_procedure


class RecordingSms:
    """A stand-in provider, named in settings the way a deployment would name its own."""

    sent: list[tuple[str, str]] = []

    def send(self, *, to: str, body: str) -> None:
        RecordingSms.sent.append((to, body))


class BrokenSms:
    def send(self, *, to: str, body: str) -> None:
        raise messaging.SmsNotSent("provider unavailable")


def test_a_message_says_the_clinic_the_link_and_until_when_and_nothing_else():
    subject, body = messaging.compose(
        clinic_name="Northside Foot Clinic",
        url="https://clinic.test/follow-up/t/",
        valid_until=datetime.date(2026, 12, 30),
        reminder=True,
    )
    assert subject == "Northside Foot Clinic: how are you getting on?"
    assert "https://clinic.test/follow-up/t/" in body and "30 Dec 2026" in body and "A reminder" in body


def test_no_sms_provider_is_bound_by_default():
    assert messaging.sms_sender() is None
    assert messaging.channel_for(email="", phone="+44 7700 900123", sms=None) is None
    assert messaging.channel_for(email="a@example.test", phone="+44 7700 900123", sms=RecordingSms()) == (
        "email",
        "a@example.test",
    )


@pytest.mark.django_db
def test_a_configured_sms_provider_reaches_a_patient_without_email(clinic, clinician, settings):
    settings.FOLLOW_UP = {**settings.FOLLOW_UP, "SMS_SENDER": "tests.followups.test_messaging.RecordingSms"}
    RecordingSms.sent = []
    case_with_procedure(clinic, clinician, weeks_ago=6, email="", phone="+44 7700 900123")
    assert services.follow_up_send_due().sent == 1
    ((to, body),) = RecordingSms.sent
    assert to == "+44 7700 900123" and "/follow-up/" in body
    assert FollowUpMessage.objects.get().channel == "sms"


@pytest.mark.django_db
def test_an_sms_failure_is_recorded_and_retried(clinic, clinician, settings):
    settings.FOLLOW_UP = {**settings.FOLLOW_UP, "SMS_SENDER": "tests.followups.test_messaging.BrokenSms"}
    case_with_procedure(clinic, clinician, weeks_ago=6, email="", phone="+44 7700 900123")
    result = services.follow_up_send_due()
    assert (result.sent, result.failed) == (0, 1)
    assert FollowUpMessage.objects.get().error == "SmsNotSent: provider unavailable"
    assert FollowUp.objects.get(time_point="week_6").next_message_at is not None


def test_the_qr_code_encodes_the_link_as_svg():
    url = "https://clinic.test/follow-up/abc/"
    svg = links.qr_svg(url)
    assert svg.startswith("<svg") and "Follow-up link" in svg
    uri = links.qr_data_uri(url)
    assert uri.startswith("data:image/svg+xml")
    decoded = (
        urllib.parse.unquote(uri.split(",", 1)[1])
        if ";base64" not in uri
        else base64.b64decode(uri.split(",", 1)[1]).decode()
    )
    assert "<svg" in decoded


@pytest.mark.django_db
def test_issuing_and_revoking_a_link_is_audited_and_a_closed_follow_up_gets_none(clinic, clinician):
    from django.core.exceptions import ValidationError

    from cases.audit import AuditEvent

    presentation, _ = case_with_procedure(clinic, clinician, weeks_ago=6)
    week_6 = FollowUp.objects.get(presentation=presentation, time_point="week_6")
    link, token = services.follow_up_link_issue(follow_up=week_6, issued_by=clinician)
    assert links.digest(token) == link.token_digest
    # The first moment after the window's last day, on the clinic's clock (London: UTC+0 in winter, +1 in summer).
    closes = week_6.window_closes_on + datetime.timedelta(days=1)
    assert link.expires_at.astimezone(zoneinfo.ZoneInfo("Europe/London")).replace(tzinfo=None) == datetime.datetime(
        closes.year, closes.month, closes.day
    )
    services.follow_up_link_revoke(link=link, reason="Sent to the wrong address")
    assert list(AuditEvent.objects.filter(object_type="cases.followuplink").values_list("action", flat=True)) == [
        "update",
        "create",
    ]
    with pytest.raises(ValidationError, match="Say why"):
        services.follow_up_link_revoke(link=link, reason=" ")
    services.follow_up_decline(follow_up=week_6, recorded_by=clinician)
    with pytest.raises(ValidationError, match="declined"):
        services.follow_up_link_issue(follow_up=week_6)

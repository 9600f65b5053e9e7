"""The messages that carry a follow-up link, and the channels that deliver them.

A message says only the clinic's name, a greeting, the link and until when it works: no name, no
foot, no treatment, no clinical detail, because email and SMS are read on lock screens and shared
devices. Email goes through Django's email framework (SMTP configured from the environment).

SMS has an interface and no provider: a deployment that contracts one writes a class with
``send(self, *, to: str, body: str) -> None`` that raises ``SmsNotSent`` on failure, and names it in
``settings.FOLLOW_UP["SMS_SENDER"]`` (``FOLLOW_UP_SMS_SENDER``). Until then patients without an email
address are not messaged; staff record their answers in clinic or over the phone.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core import mail
from django.utils import formats
from django.utils.module_loading import import_string

from .choices import MessageChannel


class SmsNotSent(Exception):
    """A provider could not deliver an SMS; the attempt is recorded and retried on the next run."""


class SmsSender(Protocol):
    def send(self, *, to: str, body: str) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver: where, on which channel, and its text."""

    channel: str
    to: str
    subject: str
    body: str


def compose(*, clinic_name: str, url: str, valid_until: datetime.date, reminder: bool) -> tuple[str, str]:
    """Subject and body of a follow-up message: the clinic, a greeting, the link, nothing clinical."""
    subject = f"{clinic_name}: how are you getting on?"
    opening = "A reminder: we would still like to hear from you." if reminder else "We would like to know how you are."
    until = formats.date_format(valid_until, "DATE_FORMAT")
    body = (
        f"Hello,\n\n{opening} Please answer a few short questions for {clinic_name}:\n\n{url}\n\n"
        f"The link works until {until}. Before the questions open you will be asked to confirm your date of "
        f"birth.\n\n{clinic_name}\n"
    )
    return subject, body


def sms_sender() -> SmsSender | None:
    """The configured SMS provider, or None: no provider is bound by default."""
    path = settings.FOLLOW_UP.get("SMS_SENDER", "")
    return import_string(path)() if path else None


def channel_for(*, email: str, phone: str, sms: SmsSender | None) -> tuple[str, str] | None:
    """(channel, address) for a patient: email first, SMS only with a provider, or None."""
    if email:
        return MessageChannel.EMAIL, email
    if phone and sms is not None:
        return MessageChannel.SMS, phone
    return None


def deliver(outgoing: Sequence[Outgoing]) -> list[str]:
    """Send each message; the error text for each one ('' when sent). Never raises for a delivery failure.

    All emails of a batch share one SMTP connection. If the server cannot be reached every email of
    the batch fails with that reason, and the caller keeps them due for the next run.
    """
    errors = [""] * len(outgoing)
    emails = [i for i, message in enumerate(outgoing) if message.channel == MessageChannel.EMAIL]
    if emails:
        try:
            connection = mail.get_connection(fail_silently=False)
            connection.open()
        except Exception as error:
            for i in emails:
                errors[i] = _reason(error)
        else:
            try:
                for i in emails:
                    message = outgoing[i]
                    try:
                        mail.EmailMessage(message.subject, message.body, to=[message.to], connection=connection).send()
                    except Exception as error:
                        errors[i] = _reason(error)
            finally:
                # Closing a broken connection must not lose the results.
                with contextlib.suppress(Exception):
                    connection.close()
    sms = [i for i, message in enumerate(outgoing) if message.channel == MessageChannel.SMS]
    sender = sms_sender() if sms else None
    for i in sms:
        if sender is None:
            errors[i] = "No SMS provider is configured."
            continue
        try:
            sender.send(to=outgoing[i].to, body=outgoing[i].body)
        except Exception as error:
            errors[i] = _reason(error)
    return errors


def _reason(error: Exception) -> str:
    # The exception's class and message, never the address or the text: SMTP errors can echo the recipient.
    text = f"{type(error).__name__}: {error}"
    if "@" in text:
        text = f"{type(error).__name__}: delivery refused"
    return text[:500]

"""Fixtures of the follow-up tests: cases planned through the services, a placeholder MOxFQ form, a real SMTP server."""

import datetime
import json
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from cases import services
from cases.choices import Role
from tests.factories import MembershipFactory, PatientFactory, UserFactory

D = datetime.date


def case_with_procedure(
    clinic,
    clinician,
    *,
    weeks_ago: int,
    kind: str = "alcohol_injection",
    email: str = "patient@example.test",
    **patient,
):
    """A presentation first seen ``weeks_ago`` weeks before the clinic's today, with ``kind`` started that day."""
    started_on = clinic.today() - datetime.timedelta(weeks=weeks_ago)
    patient = PatientFactory(clinic=clinic, email=email, **patient)
    presentation = services.presentation_create(
        patient=patient, foot="left", interspace=3, first_seen_on=started_on, symptoms=["burning"]
    )
    details = {"approach": "dorsal"} if kind == "neurectomy" else {}
    if kind == "corticosteroid_injection":
        details = {"injection_drug": "triamcinolone_acetonide"}
    treatment = services.treatment_start(
        presentation=presentation,
        kind=kind,
        clinician=clinician,
        started_on=started_on,
        justification="Referred for this treatment after care elsewhere.",
        **details,
    )
    return presentation, treatment


@pytest.fixture
def clinician(clinic):
    user = UserFactory(username="dr-follow")
    MembershipFactory(user=user, clinic=clinic, role=Role.PODIATRIST)
    return user


@pytest.fixture
def other_clinician(clinic):
    user = UserFactory(username="dr-other")
    MembershipFactory(user=user, clinic=clinic, role=Role.PODIATRIST)
    return user


# Placeholder texts only: the licensed MOxFQ wording never enters the repository (DOMAIN.md §6).
PLACEHOLDER_DOMAINS = ["walking-standing"] * 7 + ["pain"] * 5 + ["social-interaction"] * 4


@pytest.fixture
def moxfq_file(tmp_path, settings, clinic):
    path = tmp_path / "moxfq-placeholder.json"
    path.write_text(
        json.dumps(
            {
                "response_labels": [f"Placeholder answer {n}" for n in range(5)],
                "items": [
                    {"domain": domain, "text": f"Placeholder item {n}"}
                    for n, domain in enumerate(PLACEHOLDER_DOMAINS, start=1)
                ],
            }
        )
    )
    settings.FOLLOW_UP = {**settings.FOLLOW_UP, "MOXFQ_ITEMS_FILES": {clinic.slug: str(path)}}
    return path


class Inbox:
    """What the test SMTP server received; optionally slow, to make overlapping runs overlap."""

    def __init__(self, delay: float = 0.0):
        self.messages: list[tuple[list[str], str]] = []
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a free local port, which a test can stop and start again."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(settings):
    server = SmtpServer(Inbox())
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()

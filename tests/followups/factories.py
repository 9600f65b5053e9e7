"""factory_boy factories for the follow-up loop: valid by default, built on the case record's factories."""

import datetime

import factory
from django.utils import timezone

from cases.followups import links
from cases.followups.choices import AnswerChannel, FollowUpStatus, MessageChannel, MessageKind, TimePoint
from cases.followups.models import FollowUp, FollowUpAnswer, FollowUpLink, FollowUpMessage
from tests.factories import PresentationFactory, UserFactory


class FollowUpFactory(factory.django.DjangoModelFactory):
    """A baseline follow-up due on the day first seen, with the default 7-day/28-day window."""

    class Meta:
        model = FollowUp

    presentation = factory.SubFactory(PresentationFactory)
    time_point = TimePoint.BASELINE
    due_on = factory.LazyAttribute(lambda f: f.presentation.first_seen_on)
    window_opens_on = factory.LazyAttribute(lambda f: f.due_on - datetime.timedelta(days=7))
    window_closes_on = factory.LazyAttribute(lambda f: f.due_on + datetime.timedelta(days=28))
    status = FollowUpStatus.SCHEDULED


class FollowUpLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpLink
        exclude = ("token",)

    follow_up = factory.SubFactory(FollowUpFactory)
    token = factory.LazyFunction(links.new_token)
    token_digest = factory.LazyAttribute(lambda link: links.digest(link.token))
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=7))


class FollowUpAnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpAnswer

    follow_up = factory.SubFactory(FollowUpFactory, status=FollowUpStatus.COMPLETED)
    channel = AnswerChannel.PHONE
    recorded_by = factory.SubFactory(UserFactory)
    answered_at = factory.LazyFunction(timezone.now)
    answered_on = factory.LazyAttribute(lambda a: a.follow_up.due_on)
    pain_walking = 3
    pain_rest = 1
    relief = "partial"
    global_impression = 2


class FollowUpMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUpMessage

    follow_up = factory.SubFactory(FollowUpFactory)
    link = factory.SubFactory(FollowUpLinkFactory, follow_up=factory.SelfAttribute("..follow_up"))
    channel = MessageChannel.EMAIL
    kind = MessageKind.FIRST
    attempted_at = factory.LazyFunction(timezone.now)
    sent_at = factory.LazyFunction(timezone.now)

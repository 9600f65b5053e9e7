"""factory_boy factories for the case record: valid by default, so a test states only what it is about."""

import datetime

import factory
from django.contrib.auth import get_user_model

from cases import models
from cases.choices import Foot, Role, Sex, TreatmentKind
from cases.outcomes import outcome_facts_refresh


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"clinician{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.test")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Clinic

    name = factory.Sequence(lambda n: f"Forefoot Clinic {n}")
    slug = factory.Sequence(lambda n: f"forefoot-{n}")
    time_zone = "Europe/London"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Role.PODIATRIST


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Patient

    clinic = factory.SubFactory(ClinicFactory)
    mrn = factory.Sequence(lambda n: f"MRN{n:06d}")
    given_name = factory.Faker("first_name_female")
    family_name = factory.Faker("last_name")
    birth_date = datetime.date(1970, 5, 17)
    sex = Sex.FEMALE


class PresentationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Presentation

    patient = factory.SubFactory(PatientFactory)
    foot = Foot.RIGHT
    interspace = 3
    onset_on = datetime.date(2025, 11, 1)
    first_seen_on = datetime.date(2026, 1, 5)
    symptoms = ["burning", "numbness"]
    aggravating_factors = ["footwear"]
    relieving_factors = ["shoe_removal"]
    exam_signs = ["web_space_tenderness", "mulder_click"]


class RefreshesOutcomeFacts(factory.django.DjangoModelFactory):
    """Saves directly, as a test's setup may, so it refreshes the report's stored facts the way the services do."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        record = super()._create(model_class, *args, **kwargs)
        outcome_facts_refresh(presentation_id=record.presentation_id)
        return record


class VisitFactory(RefreshesOutcomeFacts):
    class Meta:
        model = models.Visit

    presentation = factory.SubFactory(PresentationFactory)
    seen_on = factory.LazyAttribute(lambda v: v.presentation.first_seen_on)
    clinician = factory.SubFactory(UserFactory)
    pain_walking = 6
    pain_rest = 0


class TreatmentFactory(RefreshesOutcomeFacts):
    class Meta:
        model = models.Treatment

    presentation = factory.SubFactory(PresentationFactory)
    kind = TreatmentKind.FOOTWEAR_MODIFICATION
    started_on = factory.LazyAttribute(lambda t: t.presentation.first_seen_on)
    clinician = factory.SubFactory(UserFactory)


class ComplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Complication

    treatment = factory.SubFactory(TreatmentFactory)
    kind = "skin_depigmentation"
    occurred_on = factory.LazyAttribute(lambda c: c.treatment.started_on + datetime.timedelta(days=14))


def treating_clinician(presentation: models.Presentation, **user_fields):
    """A podiatrist of the presentation's clinic: who the services accept as its treating clinician."""
    user = UserFactory(**user_fields)
    MembershipFactory(user=user, clinic=presentation.patient.clinic, role=Role.PODIATRIST)
    return user

"""Clinic scoping: each role, a superuser and a user in two clinics see and write exactly what they should."""

import pytest
from django.contrib.auth.models import AnonymousUser

from cases import selectors
from cases.choices import Role
from cases.models import Complication, Patient, Presentation, Treatment, Visit
from tests.factories import ComplicationFactory, MembershipFactory, UserFactory, VisitFactory

pytestmark = pytest.mark.django_db

CLINIC_SCOPED = [Patient, Presentation, Visit, Treatment, Complication]


def case_record(clinic) -> dict[type, int]:
    """One patient's whole record in ``clinic``: the id of its row in each clinic-scoped table."""
    complication = ComplicationFactory(treatment__presentation__patient__clinic=clinic)
    treatment = complication.treatment
    presentation = treatment.presentation
    visit = VisitFactory(presentation=presentation)
    return {
        Patient: presentation.patient_id,
        Presentation: presentation.pk,
        Visit: visit.pk,
        Treatment: treatment.pk,
        Complication: complication.pk,
    }


@pytest.fixture
def records(clinic, other_clinic):
    return {clinic.pk: case_record(clinic), other_clinic.pk: case_record(other_clinic)}


def visible(model, user, **kwargs) -> set[int]:
    return set(selectors.scope(model.objects.all(), user, **kwargs).values_list("pk", flat=True))


def member_of(*roles_by_clinic) -> object:
    user = UserFactory()
    for clinic, role in roles_by_clinic:
        MembershipFactory(user=user, clinic=clinic, role=role)
    return user


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("model", CLINIC_SCOPED, ids=lambda model: model.__name__)
def test_each_role_sees_only_its_own_clinic(records, clinic, role, model):
    user = member_of((clinic, role))
    assert visible(model, user) == {records[clinic.pk][model]}


@pytest.mark.parametrize("model", CLINIC_SCOPED, ids=lambda model: model.__name__)
def test_a_superuser_sees_every_clinic(records, superuser, model):
    assert visible(model, superuser) == {ids[model] for ids in records.values()}


@pytest.mark.parametrize("model", CLINIC_SCOPED, ids=lambda model: model.__name__)
def test_a_user_in_two_clinics_sees_both(records, clinic, other_clinic, model):
    user = member_of((clinic, Role.REVIEWER), (other_clinic, Role.PODIATRIST))
    assert visible(model, user) == {ids[model] for ids in records.values()}


@pytest.mark.parametrize("model", CLINIC_SCOPED, ids=lambda model: model.__name__)
def test_scoping_to_write_roles_leaves_out_the_clinic_where_the_user_only_reviews(records, clinic, other_clinic, model):
    user = member_of((clinic, Role.REVIEWER), (other_clinic, Role.PODIATRIST))
    assert visible(model, user, roles=selectors.WRITE_ROLES) == {records[other_clinic.pk][model]}


@pytest.mark.parametrize("model", CLINIC_SCOPED, ids=lambda model: model.__name__)
def test_a_user_without_a_clinic_or_signed_out_sees_nothing(records, model):
    assert visible(model, UserFactory()) == set()
    assert visible(model, AnonymousUser()) == set()


def test_clinic_roles_maps_each_clinic_to_the_user_role(clinic, other_clinic):
    user = member_of((clinic, Role.CLINIC_ADMIN), (other_clinic, Role.REVIEWER))
    assert selectors.clinic_roles(user) == {clinic.pk: Role.CLINIC_ADMIN, other_clinic.pk: Role.REVIEWER}


def test_clinic_roles_are_read_once_per_user_object(clinic, django_assert_num_queries):
    user = member_of((clinic, Role.PODIATRIST))
    with django_assert_num_queries(1):
        selectors.clinic_roles(user)
        selectors.clinic_roles(user)
        selectors.can_write(user, clinic.pk)
        selectors.scope(Patient.objects.all(), user)


def test_a_signed_out_user_has_no_clinic_roles():
    assert selectors.clinic_roles(AnonymousUser()) == {}


@pytest.mark.parametrize(
    ("role", "writes"),
    [(Role.PODIATRIST, True), (Role.CLINIC_ADMIN, True), (Role.REVIEWER, False)],
)
def test_podiatrists_and_clinic_admins_write_and_reviewers_only_read(clinic, other_clinic, role, writes):
    user = member_of((clinic, role))
    assert selectors.can_write(user, clinic.pk) is writes
    assert selectors.can_write(user) is writes
    assert selectors.can_write(user, other_clinic.pk) is False


def test_a_user_in_two_clinics_writes_only_where_their_role_allows(clinic, other_clinic):
    user = member_of((clinic, Role.REVIEWER), (other_clinic, Role.PODIATRIST))
    assert selectors.can_write(user, clinic.pk) is False
    assert selectors.can_write(user, other_clinic.pk) is True
    assert selectors.can_write(user) is True


def test_a_superuser_writes_in_every_clinic(superuser, clinic):
    assert selectors.can_write(superuser, clinic.pk) is True
    assert selectors.can_write(superuser) is True


def test_a_signed_out_user_writes_nowhere(clinic):
    assert selectors.can_write(AnonymousUser(), clinic.pk) is False
    assert selectors.can_write(AnonymousUser()) is False


@pytest.mark.parametrize(
    ("role", "admin"), [(Role.CLINIC_ADMIN, True), (Role.PODIATRIST, False), (Role.REVIEWER, False)]
)
def test_only_clinic_admins_and_superusers_are_clinic_admins(clinic, superuser, role, admin):
    assert selectors.is_clinic_admin(member_of((clinic, role))) is admin
    assert selectors.is_clinic_admin(superuser) is True

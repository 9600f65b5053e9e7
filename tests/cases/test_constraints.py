"""Every database constraint refuses a bad row by itself, whatever writes it: raw SQL, bulk loads, update()."""

import datetime
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction

from cases.bulk import bulk_create_clinical
from cases.models import Membership, Patient, Presentation
from tests.factories import (
    ClinicFactory,
    ComplicationFactory,
    MembershipFactory,
    PatientFactory,
    PresentationFactory,
    TreatmentFactory,
    UserFactory,
    VisitFactory,
)
from tests.followups.constraint_cases import FOLLOW_UP_VIOLATIONS

D = datetime.date
pytestmark = pytest.mark.django_db

# Every named constraint of the case record, read from the models so a new one is picked up here.
CONSTRAINTS: dict[str, models.BaseConstraint] = {
    constraint.name: constraint
    for model in apps.get_app_config("cases").get_models()
    for constraint in model._meta.constraints
}


def raw_update(row: models.Model, **changes) -> None:
    """Write ``changes`` to ``row`` with a hand-written UPDATE: no full_clean(), no ORM save()."""
    model = type(row)
    fields = {field.name: field for field in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(fields[name].column)} = %s" for name in changes)
    values = [fields[name].get_db_prep_save(value, connection) for name, value in changes.items()]
    # Table and column names come from the model's own metadata, never from input.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, row.pk])


def _steroid(**fields):
    return TreatmentFactory(kind="corticosteroid_injection", injection_drug="triamcinolone_acetonide", **fields)


def _second_role_in_the_same_clinic():
    first = MembershipFactory()
    second = MembershipFactory(user=first.user, clinic=ClinicFactory())
    return second, {"clinic": first.clinic_id}


def _second_patient_with_the_same_mrn():
    first = PatientFactory(mrn="MRN-42")
    second = PatientFactory(clinic=first.clinic, mrn="MRN-43")
    return second, {"mrn": "MRN-42"}


def _second_active_presentation_at_the_same_site():
    active = PresentationFactory(foot="left", interspace=3)
    resolved = PresentationFactory(patient=active.patient, foot="left", interspace=3, status="resolved")
    return resolved, {"status": "active"}


def _moved_onto_an_active_site():
    active = PresentationFactory(foot="left", interspace=3)
    other = PresentationFactory(patient=active.patient, foot="left", interspace=2)
    return other, {"interspace": 3}


Violation = Callable[[], tuple[models.Model, dict]]

# For each constraint, one or more ways to break it: a valid row and the columns that make it invalid.
VIOLATIONS: dict[str, list[Violation]] = {
    "membership_one_role_per_clinic": [_second_role_in_the_same_clinic],
    "membership_role_valid": [lambda: (MembershipFactory(), {"role": "surgeon"})],
    "patient_mrn_unique_per_clinic": [_second_patient_with_the_same_mrn],
    "patient_mrn_not_blank": [lambda: (PatientFactory(), {"mrn": ""})],
    "patient_sex_valid": [lambda: (PatientFactory(), {"sex": "f"}), lambda: (PatientFactory(), {"sex": ""})],
    "presentation_foot_valid": [lambda: (PresentationFactory(), {"foot": "both"})],
    "presentation_interspace_1_4": [
        lambda: (PresentationFactory(), {"interspace": 0}),
        lambda: (PresentationFactory(), {"interspace": 5}),
    ],
    "presentation_size_mm_0_40": [
        lambda: (PresentationFactory(imaging="mri"), {"size_mm": Decimal("40.1")}),
        lambda: (PresentationFactory(imaging="mri"), {"size_mm": Decimal("-0.1")}),
    ],
    "presentation_size_needs_imaging": [lambda: (PresentationFactory(imaging="none"), {"size_mm": Decimal("6")})],
    "presentation_onset_not_after_first_seen": [
        lambda: (PresentationFactory(first_seen_on=D(2026, 1, 5)), {"onset_on": D(2026, 1, 6)})
    ],
    "presentation_imaging_valid": [lambda: (PresentationFactory(), {"imaging": "xray"})],
    "presentation_status_valid": [lambda: (PresentationFactory(), {"status": "open"})],
    "presentation_one_active_per_site": [_second_active_presentation_at_the_same_site, _moved_onto_an_active_site],
    "visit_pain_walking_0_10": [lambda: (VisitFactory(), {"pain_walking": 11})],
    "visit_pain_rest_0_10": [lambda: (VisitFactory(), {"pain_rest": 11})],
    "visit_moxfq_walking_standing_0_100": [lambda: (VisitFactory(), {"moxfq_walking_standing": 101})],
    "visit_moxfq_pain_0_100": [lambda: (VisitFactory(), {"moxfq_pain": 101})],
    "visit_moxfq_social_0_100": [lambda: (VisitFactory(), {"moxfq_social": 101})],
    "visit_relief_valid": [lambda: (VisitFactory(), {"relief_since_previous": "some"})],
    "treatment_kind_valid": [lambda: (TreatmentFactory(), {"kind": "acupuncture"})],
    "treatment_response_valid": [
        lambda: (TreatmentFactory(), {"response": "better", "response_assessed_on": D(2026, 2, 16)})
    ],
    "treatment_end_not_before_start": [
        lambda: (TreatmentFactory(started_on=D(2026, 1, 5)), {"ended_on": D(2026, 1, 4)})
    ],
    "treatment_response_not_before_start": [
        lambda: (
            TreatmentFactory(started_on=D(2026, 1, 5)),
            {"response": "none", "response_assessed_on": D(2026, 1, 4)},
        )
    ],
    "treatment_response_dated_when_assessed": [
        lambda: (TreatmentFactory(), {"response": "partial"}),
        lambda: (TreatmentFactory(), {"response_assessed_on": D(2026, 2, 16)}),
    ],
    "treatment_orthosis_type_only_for_orthosis": [lambda: (TreatmentFactory(), {"orthosis_type": "metatarsal_pad"})],
    "treatment_drug_only_for_steroid_injection": [
        lambda: (TreatmentFactory(kind="alcohol_injection"), {"injection_drug": "dexamethasone"})
    ],
    "treatment_dose_only_for_injections": [
        lambda: (TreatmentFactory(kind="orthosis", orthosis_type="custom_orthosis"), {"dose_mg": Decimal("40")}),
        lambda: (TreatmentFactory(kind="radiofrequency_ablation"), {"volume_ml": Decimal("1")}),
    ],
    "treatment_guidance_only_for_procedures": [
        lambda: (TreatmentFactory(), {"ultrasound_guided": True}),
        lambda: (TreatmentFactory(kind="neurectomy", approach="dorsal"), {"ultrasound_guided": False}),
    ],
    "treatment_surgical_details_only_for_neurectomy": [
        lambda: (_steroid(), {"approach": "plantar"}),
        lambda: (TreatmentFactory(), {"histology_confirmed": True}),
    ],
    "treatment_dose_mg_positive": [
        lambda: (_steroid(), {"dose_mg": Decimal("0")}),
        lambda: (_steroid(), {"dose_mg": Decimal("-40")}),
    ],
    "treatment_volume_ml_positive": [lambda: (_steroid(), {"volume_ml": Decimal("0")})],
    "complication_kind_valid": [lambda: (ComplicationFactory(), {"kind": "bruise"})],
    "complication_resolved_on_after_occurred": [
        lambda: (ComplicationFactory(occurred_on=D(2026, 2, 1)), {"resolved": True, "resolved_on": D(2026, 1, 31)}),
        lambda: (ComplicationFactory(occurred_on=D(2026, 2, 1)), {"resolved": False, "resolved_on": D(2026, 2, 3)}),
    ],
}


# The follow-up loop keeps its cases beside its own tests.
VIOLATIONS.update(FOLLOW_UP_VIOLATIONS)


def test_every_constraint_has_a_raw_sql_case():
    missing = sorted(set(CONSTRAINTS) - set(VIOLATIONS))
    assert not missing, f"Add a case to VIOLATIONS for each new constraint: {missing}"


def test_every_raw_sql_case_names_a_constraint_that_exists():
    assert sorted(set(VIOLATIONS) - set(CONSTRAINTS)) == []


def assert_refused(constraint_name: str, write: Callable[[], None]) -> None:
    """``write`` fails with IntegrityError naming the constraint, and leaves the connection usable."""
    constraint = CONSTRAINTS[constraint_name]
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        write()
    # PostgreSQL names every constraint; SQLite names CHECK constraints but lists a unique index's columns.
    if connection.vendor == "postgresql" or isinstance(constraint, models.CheckConstraint):
        assert constraint_name in str(caught.value)


@pytest.mark.parametrize("constraint_name", sorted(CONSTRAINTS))
def test_the_database_refuses_a_row_that_breaks(constraint_name):
    assert constraint_name in VIOLATIONS, f"{constraint_name} has no raw-SQL case in VIOLATIONS"
    for make_violation in VIOLATIONS[constraint_name]:
        row, changes = make_violation()
        before = type(row).objects.filter(pk=row.pk).values(*changes).get()
        assert_refused(constraint_name, lambda row=row, changes=changes: raw_update(row, **changes))
        # The failed write is rolled back and the test's transaction carries on.
        assert type(row).objects.filter(pk=row.pk).values(*changes).get() == before


# The constraints are not stricter than the rules: the edge of each range is a valid row.


def _edge(model_factory, **changes):
    return lambda: (model_factory(), changes)


EDGE_VALUES = {
    "pain 0": _edge(VisitFactory, pain_walking=0, pain_rest=0),
    "pain 10": _edge(VisitFactory, pain_walking=10, pain_rest=10),
    "MOxFQ 0": _edge(VisitFactory, moxfq_walking_standing=0, moxfq_pain=0, moxfq_social=0),
    "MOxFQ 100": _edge(VisitFactory, moxfq_walking_standing=100, moxfq_pain=100, moxfq_social=100),
    "interspace 1": _edge(PresentationFactory, interspace=1),
    "interspace 4": _edge(PresentationFactory, interspace=4),
    "size 0 mm": _edge(PresentationFactory, imaging="ultrasound", size_mm=Decimal("0")),
    "size 40 mm": _edge(PresentationFactory, imaging="mri", size_mm=Decimal("40")),
    "onset on the day first seen": _edge(PresentationFactory, onset_on=D(2026, 1, 5), first_seen_on=D(2026, 1, 5)),
    "ended the day it started": _edge(TreatmentFactory, started_on=D(2026, 1, 5), ended_on=D(2026, 1, 5)),
    "assessed the day it started": _edge(
        TreatmentFactory, started_on=D(2026, 1, 5), response="complete", response_assessed_on=D(2026, 1, 5)
    ),
    "resolved the day it occurred": _edge(
        ComplicationFactory, occurred_on=D(2026, 2, 1), resolved=True, resolved_on=D(2026, 2, 1)
    ),
    "resolved with no date": _edge(ComplicationFactory, resolved=True),
    "guided alcohol injection with dose": _edge(
        lambda: TreatmentFactory(kind="alcohol_injection"), ultrasound_guided=True, dose_mg=Decimal("0.1")
    ),
    "neurectomy details": _edge(
        lambda: TreatmentFactory(kind="neurectomy"), approach="plantar", histology_confirmed=False
    ),
}


@pytest.mark.parametrize("edge", EDGE_VALUES)
def test_the_database_accepts_a_row_at_the_edge_of_a_rule(edge):
    row, changes = EDGE_VALUES[edge]()
    raw_update(row, **changes)
    assert type(row).objects.filter(pk=row.pk).values(*changes).get() == changes


def test_a_second_active_presentation_is_accepted_once_the_first_is_resolved():
    first = PresentationFactory(foot="left", interspace=3)
    raw_update(first, status="resolved")
    PresentationFactory(patient=first.patient, foot="left", interspace=3)
    assert Presentation.objects.filter(patient=first.patient).count() == 2


def test_the_same_mrn_in_another_clinic_is_accepted_by_the_database():
    first = PatientFactory(mrn="MRN-42")
    other = PatientFactory(mrn="MRN-43")
    raw_update(other, mrn="MRN-42")
    assert Patient.objects.filter(mrn="MRN-42").count() == 2
    assert first.clinic_id != other.clinic_id


# The ORM paths that skip full_clean() meet the same constraints.


def test_save_without_full_clean_cannot_write_pain_above_10():
    # QuerySet.update() is refused outright on clinical models (tests/cases/test_history.py); a bare
    # save() is the ORM path left that skips full_clean().
    visit = VisitFactory()
    visit.pain_rest = 11
    assert_refused("visit_pain_rest_0_10", visit.save)


def test_bulk_create_cannot_load_a_duplicate_mrn():
    existing = PatientFactory(mrn="MRN-42")
    duplicate = PatientFactory.build(clinic=existing.clinic, mrn="MRN-42")
    assert_refused("patient_mrn_unique_per_clinic", lambda: bulk_create_clinical(Patient, [duplicate]))
    assert Patient.objects.filter(mrn="MRN-42").count() == 1


def test_bulk_create_cannot_load_a_membership_with_an_unknown_role():
    membership = Membership(user=UserFactory(), clinic=ClinicFactory(), role="surgeon")
    assert_refused("membership_role_valid", lambda: Membership.objects.bulk_create([membership]))


def test_save_without_full_clean_cannot_write_a_size_without_imaging():
    presentation = PresentationFactory(imaging="none")
    presentation.size_mm = Decimal("6")
    assert_refused("presentation_size_needs_imaging", presentation.save)

"""The write services: each validates before it saves, a refusal writes nothing, and the ladder holds under races."""

import datetime
import threading
import time
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction

from cases import services
from cases.choices import TreatmentKind
from cases.models import Complication, Patient, Presentation, Treatment, Visit
from tests.factories import (
    ClinicFactory,
    ComplicationFactory,
    PatientFactory,
    PresentationFactory,
    TreatmentFactory,
    VisitFactory,
    treating_clinician,
)

D = datetime.date
INJECTION = TreatmentKind.CORTICOSTEROID_INJECTION
STEROID = {"injection_drug": "triamcinolone_acetonide", "dose_mg": Decimal("40"), "volume_ml": Decimal("1")}


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in apps.get_app_config("cases").get_models()}


def refused(write) -> ValidationError:
    """Run a service call that must be refused; the test fails if it writes any row."""
    before = row_counts()
    with pytest.raises(ValidationError) as caught:
        write()
    assert row_counts() == before
    return caught.value


def ladder_rules(error: ValidationError) -> list[str]:
    """The ladder rule codes a refusal names (the ladder reports against no single field)."""
    return [e.code for e in error.error_dict.get(NON_FIELD_ERRORS, [])]


def on_the_injection_rung(**presentation_fields) -> Presentation:
    """A presentation that has tried footwear and an orthosis, so a corticosteroid injection is the next rung."""
    presentation = PresentationFactory(**presentation_fields)
    TreatmentFactory(presentation=presentation, kind="footwear_modification", started_on=D(2026, 1, 5))
    TreatmentFactory(
        presentation=presentation, kind="orthosis", orthosis_type="custom_orthosis", started_on=D(2026, 2, 16)
    )
    return presentation


def stored_injection(presentation: Presentation, day: datetime.date, **fields) -> Treatment:
    return TreatmentFactory(presentation=presentation, kind=INJECTION, started_on=day, **STEROID, **fields)


# Creates: valid input is saved; invalid input is refused and writes nothing


@pytest.mark.django_db
def test_patient_create_saves_a_valid_patient(clinic):
    patient = services.patient_create(
        clinic=clinic, mrn=" MRN-1 ", given_name="Ada", family_name="Byron", birth_date=D(1971, 2, 3), sex="female"
    )
    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.clinic, stored.mrn, stored.family_name) == (clinic, "MRN-1", "Byron")


@pytest.mark.django_db
def test_presentation_create_saves_a_valid_presentation():
    patient = PatientFactory()
    presentation = services.presentation_create(
        patient=patient, foot="left", interspace=2, first_seen_on=D(2026, 1, 5), symptoms=["tingling", "burning"]
    )
    stored = Presentation.objects.get(pk=presentation.pk)
    assert (stored.patient, stored.interspace, stored.symptoms) == (patient, 2, ["burning", "tingling"])


@pytest.mark.django_db
def test_visit_record_saves_a_valid_visit():
    presentation = PresentationFactory()
    clinician = treating_clinician(presentation)
    visit = services.visit_record(
        presentation=presentation, clinician=clinician, seen_on=D(2026, 1, 5), pain_walking=7, pain_rest=1
    )
    stored = Visit.objects.get(pk=visit.pk)
    assert (stored.presentation, stored.clinician, stored.pain_walking, stored.pain_rest) == (
        presentation,
        clinician,
        7,
        1,
    )


@pytest.mark.django_db
def test_treatment_start_saves_the_next_rung():
    presentation = on_the_injection_rung()
    treatment = services.treatment_start(
        presentation=presentation,
        kind=INJECTION,
        clinician=treating_clinician(presentation),
        started_on=D(2026, 3, 30),
        **STEROID,
    )
    stored = Treatment.objects.get(pk=treatment.pk)
    assert (stored.kind, stored.started_on, stored.dose_mg) == (INJECTION, D(2026, 3, 30), Decimal("40"))


@pytest.mark.django_db
def test_complication_record_saves_a_valid_complication():
    treatment = stored_injection(on_the_injection_rung(), D(2026, 3, 30))
    complication = services.complication_record(
        treatment=treatment, kind="skin_depigmentation", occurred_on=D(2026, 4, 20)
    )
    assert Complication.objects.get(pk=complication.pk).treatment == treatment


# Each case makes what it needs and returns the service call that must be refused.


def _patient_with_future_birth_date():
    clinic = ClinicFactory()
    return lambda: services.patient_create(
        clinic=clinic, mrn="MRN-9", given_name="Ada", family_name="Byron", birth_date=D(2999, 1, 1), sex="female"
    )


def _patient_with_duplicate_mrn():
    existing = PatientFactory(mrn="MRN-9")
    return lambda: services.patient_create(
        clinic=existing.clinic,
        mrn="MRN-9",
        given_name="Ada",
        family_name="Byron",
        birth_date=D(1971, 2, 3),
        sex="female",
    )


def _presentation_in_interspace_5():
    patient = PatientFactory()
    return lambda: services.presentation_create(patient=patient, foot="left", interspace=5, first_seen_on=D(2026, 1, 5))


def _second_active_presentation():
    existing = PresentationFactory(foot="left", interspace=3)
    return lambda: services.presentation_create(
        patient=existing.patient, foot="left", interspace=3, first_seen_on=D(2026, 2, 2)
    )


def _visit_with_pain_11():
    presentation = PresentationFactory()
    clinician = treating_clinician(presentation)
    return lambda: services.visit_record(
        presentation=presentation, clinician=clinician, seen_on=D(2026, 1, 5), pain_walking=11, pain_rest=0
    )


def _visit_before_first_seen():
    presentation = PresentationFactory(first_seen_on=D(2026, 1, 5))
    clinician = treating_clinician(presentation)
    return lambda: services.visit_record(
        presentation=presentation, clinician=clinician, seen_on=D(2026, 1, 4), pain_walking=5, pain_rest=0
    )


def _orthosis_without_type():
    presentation = PresentationFactory()
    clinician = treating_clinician(presentation)
    TreatmentFactory(presentation=presentation, started_on=D(2026, 1, 5))
    return lambda: services.treatment_start(
        presentation=presentation, kind="orthosis", clinician=clinician, started_on=D(2026, 2, 16)
    )


def _unconfirmed_unusual_dose():
    presentation = on_the_injection_rung()
    clinician = treating_clinician(presentation)
    return lambda: services.treatment_start(
        presentation=presentation,
        kind=INJECTION,
        clinician=clinician,
        started_on=D(2026, 3, 30),
        **{**STEROID, "dose_mg": Decimal("80")},
    )


def _skipped_rung():
    presentation = PresentationFactory()
    clinician = treating_clinician(presentation)
    return lambda: services.treatment_start(
        presentation=presentation, kind=INJECTION, clinician=clinician, started_on=D(2026, 1, 5), **STEROID
    )


def _complication_other_without_notes():
    treatment = TreatmentFactory()
    return lambda: services.complication_record(treatment=treatment, kind="other", occurred_on=D(2026, 1, 20))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_write", "field_name"),
    [
        (_patient_with_future_birth_date, "birth_date"),
        (_patient_with_duplicate_mrn, NON_FIELD_ERRORS),
        (_presentation_in_interspace_5, "interspace"),
        (_second_active_presentation, NON_FIELD_ERRORS),
        (_visit_with_pain_11, "pain_walking"),
        (_visit_before_first_seen, "seen_on"),
        (_orthosis_without_type, "orthosis_type"),
        (_unconfirmed_unusual_dose, "unusual_dose_confirmed"),
        (_skipped_rung, NON_FIELD_ERRORS),
        (_complication_other_without_notes, "notes"),
    ],
    ids=lambda param: getattr(param, "__name__", str(param)).strip("_"),
)
def test_a_refused_create_writes_nothing(make_write, field_name):
    error = refused(make_write())
    assert field_name in error.message_dict


# Updates: valid changes are saved; invalid changes are refused and leave the stored row as it was


def stored(record) -> dict:
    return type(record).objects.filter(pk=record.pk).values().get()


@pytest.mark.django_db
def test_patient_update_saves_valid_changes():
    patient = PatientFactory()
    services.patient_update(patient=patient, family_name="Lovelace", phone="+44 20 7946 0000")
    assert (stored(patient)["family_name"], stored(patient)["phone"]) == ("Lovelace", "+44 20 7946 0000")


@pytest.mark.django_db
def test_patient_archive_keeps_the_record():
    patient = PatientFactory()
    services.patient_archive(patient=patient)
    assert stored(patient)["archived"] is True


@pytest.mark.django_db
def test_presentation_update_saves_valid_changes():
    presentation = PresentationFactory()
    services.presentation_update(presentation=presentation, imaging="ultrasound", size_mm=Decimal("6.5"))
    assert (stored(presentation)["imaging"], stored(presentation)["size_mm"]) == ("ultrasound", Decimal("6.5"))


@pytest.mark.django_db
def test_visit_update_saves_valid_changes():
    visit = VisitFactory()
    services.visit_update(visit=visit, pain_rest=3, moxfq_pain=45)
    assert (stored(visit)["pain_rest"], stored(visit)["moxfq_pain"]) == (3, 45)


@pytest.mark.django_db
def test_treatment_update_records_a_response():
    treatment = TreatmentFactory(started_on=D(2026, 1, 5))
    services.treatment_update(treatment=treatment, response="partial", response_assessed_on=D(2026, 2, 16))
    assert (stored(treatment)["response"], stored(treatment)["response_assessed_on"]) == ("partial", D(2026, 2, 16))


@pytest.mark.django_db
def test_complication_update_records_its_resolution():
    complication = ComplicationFactory(occurred_on=D(2026, 2, 1))
    services.complication_update(complication=complication, resolved=True, resolved_on=D(2026, 3, 1))
    assert (stored(complication)["resolved"], stored(complication)["resolved_on"]) == (True, D(2026, 3, 1))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_record", "update", "changes", "field_name"),
    [
        (PatientFactory, services.patient_update, {"birth_date": D(2999, 1, 1)}, "birth_date"),
        (PresentationFactory, services.presentation_update, {"onset_on": D(2026, 2, 1)}, "onset_on"),
        (VisitFactory, services.visit_update, {"pain_rest": 11}, "pain_rest"),
        (TreatmentFactory, services.treatment_update, {"response": "none"}, "response_assessed_on"),
        (
            ComplicationFactory,
            services.complication_update,
            {"resolved": True, "resolved_on": D(2026, 1, 1)},
            "resolved_on",
        ),
    ],
    ids=["patient", "presentation", "visit", "treatment", "complication"],
)
def test_a_refused_update_leaves_the_stored_row_unchanged(make_record, update, changes, field_name):
    record = make_record()
    before = stored(record)
    error = refused(lambda: update(**{type(record).__name__.lower(): record}, **changes))
    assert field_name in error.message_dict
    assert stored(record) == before


# A record never moves to another clinic, patient, presentation or treatment


@pytest.mark.django_db
@pytest.mark.parametrize("by_id", [False, True], ids=["object", "id"])
def test_patient_update_cannot_move_a_patient_to_another_clinic(by_id):
    patient, elsewhere = PatientFactory(), ClinicFactory()
    home = patient.clinic_id
    moved = {"clinic_id": elsewhere.pk} if by_id else {"clinic": elsewhere}
    services.patient_update(patient=patient, given_name="Mary", **moved)
    assert (stored(patient)["clinic_id"], stored(patient)["given_name"]) == (home, "Mary")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_record", "update", "parent", "make_other_parent"),
    [
        (PresentationFactory, services.presentation_update, "patient", PatientFactory),
        (VisitFactory, services.visit_update, "presentation", PresentationFactory),
        (TreatmentFactory, services.treatment_update, "presentation", PresentationFactory),
        (ComplicationFactory, services.complication_update, "treatment", TreatmentFactory),
    ],
    ids=["presentation", "visit", "treatment", "complication"],
)
@pytest.mark.parametrize("by_id", [False, True], ids=["object", "id"])
def test_an_update_cannot_move_a_record_to_another_parent(make_record, update, parent, make_other_parent, by_id):
    record, other_parent = make_record(), make_other_parent()
    home = stored(record)[f"{parent}_id"]
    moved = {f"{parent}_id": other_parent.pk} if by_id else {parent: other_parent}
    update(**{type(record).__name__.lower(): record}, **moved)
    assert stored(record)[f"{parent}_id"] == home


# The ladder rules apply through treatment_start


@pytest.mark.django_db
def test_skipping_a_rung_is_refused():
    presentation = PresentationFactory()
    TreatmentFactory(presentation=presentation, started_on=D(2026, 1, 5))
    clinician = treating_clinician(presentation)
    error = refused(
        lambda: services.treatment_start(
            presentation=presentation,
            kind=INJECTION,
            clinician=clinician,
            started_on=D(2026, 2, 16),
            **STEROID,
        )
    )
    assert ladder_rules(error) == ["rung_skipped"]
    assert "skips a rung" in error.message_dict[NON_FIELD_ERRORS][0]


@pytest.mark.django_db
def test_a_justified_skip_is_accepted():
    presentation = PresentationFactory()
    TreatmentFactory(presentation=presentation, started_on=D(2026, 1, 5))
    treatment = services.treatment_start(
        presentation=presentation,
        kind=INJECTION,
        clinician=treating_clinician(presentation),
        started_on=D(2026, 2, 16),
        justification="Patient cannot wear orthoses in work boots; shared decision to inject.",
        **STEROID,
    )
    assert Treatment.objects.filter(pk=treatment.pk, kind=INJECTION).exists()


@pytest.mark.django_db
def test_neurectomy_without_a_failed_conservative_treatment_is_refused():
    presentation = on_the_injection_rung()
    stored_injection(presentation, D(2026, 3, 2))
    clinician = treating_clinician(presentation)
    error = refused(
        lambda: services.treatment_start(
            presentation=presentation,
            kind="neurectomy",
            clinician=clinician,
            started_on=D(2026, 4, 6),
            approach="dorsal",
        )
    )
    assert ladder_rules(error) == ["neurectomy_without_conservative_failure"]


@pytest.mark.django_db
@pytest.mark.parametrize("response", ["partial", "none"])
def test_neurectomy_after_partial_or_no_relief_is_accepted(response):
    presentation = on_the_injection_rung()
    stored_injection(presentation, D(2026, 3, 2), response=response, response_assessed_on=D(2026, 3, 30))
    treatment = services.treatment_start(
        presentation=presentation,
        kind="neurectomy",
        clinician=treating_clinician(presentation),
        started_on=D(2026, 4, 6),
        approach="plantar",
    )
    assert Treatment.objects.get(pk=treatment.pk).approach == "plantar"


@pytest.mark.django_db
def test_an_injection_within_four_weeks_of_the_last_is_refused():
    presentation = on_the_injection_rung()
    stored_injection(presentation, D(2026, 3, 2))
    clinician = treating_clinician(presentation)
    error = refused(
        lambda: services.treatment_start(
            presentation=presentation,
            kind=INJECTION,
            clinician=clinician,
            started_on=D(2026, 3, 29),
            **STEROID,
        )
    )
    assert ladder_rules(error) == ["injection_interval"]
    assert "at least 4 weeks apart" in error.message_dict[NON_FIELD_ERRORS][0]


@pytest.mark.django_db
def test_an_injection_exactly_four_weeks_after_the_last_is_accepted():
    presentation = on_the_injection_rung()
    stored_injection(presentation, D(2026, 3, 2))
    services.treatment_start(
        presentation=presentation,
        kind=INJECTION,
        clinician=treating_clinician(presentation),
        started_on=D(2026, 3, 30),
        **STEROID,
    )
    assert presentation.treatments.filter(kind=INJECTION).count() == 2


@pytest.mark.django_db
def test_fourth_injection_within_twelve_months_is_refused():
    presentation = on_the_injection_rung()
    for day in (D(2026, 3, 2), D(2026, 4, 6), D(2026, 5, 11)):
        stored_injection(presentation, day)
    clinician = treating_clinician(presentation)
    error = refused(
        lambda: services.treatment_start(
            presentation=presentation,
            kind=INJECTION,
            clinician=clinician,
            started_on=D(2026, 6, 15),
            **STEROID,
        )
    )
    assert ladder_rules(error) == ["injection_yearly_limit"]
    assert "At most 3 corticosteroid injections are allowed in any 12 months" in error.messages[0]


@pytest.mark.django_db
def test_a_justified_fourth_injection_is_accepted():
    presentation = on_the_injection_rung()
    for day in (D(2026, 3, 2), D(2026, 4, 6), D(2026, 5, 11)):
        stored_injection(presentation, day)
    services.treatment_start(
        presentation=presentation,
        kind=INJECTION,
        clinician=treating_clinician(presentation),
        started_on=D(2026, 6, 15),
        justification="Awaiting a neurectomy date; symptomatic relief agreed with the patient.",
        **STEROID,
    )
    assert presentation.treatments.filter(kind=INJECTION).count() == 4


# A treatment's ladder judgement is made when it starts; later records do not re-open it


def _injection_then_a_justified_one_two_weeks_later() -> Treatment:
    presentation = on_the_injection_rung()
    clinician = treating_clinician(presentation)
    first = services.treatment_start(
        presentation=presentation, kind=INJECTION, clinician=clinician, started_on=D(2026, 3, 2), **STEROID
    )
    services.treatment_start(
        presentation=presentation,
        kind=INJECTION,
        clinician=clinician,
        started_on=D(2026, 3, 16),
        justification="First injection went into the wrong space; repeated under ultrasound.",
        **STEROID,
    )
    return first


@pytest.mark.django_db
@pytest.mark.parametrize("reloaded", [False, True], ids=["as-started", "reloaded"])
def test_a_response_on_an_old_injection_is_not_refused_because_of_a_later_justified_one(reloaded):
    first = _injection_then_a_justified_one_two_weeks_later()
    if reloaded:
        first = Treatment.objects.get(pk=first.pk)
    services.treatment_update(treatment=first, response="partial", response_assessed_on=D(2026, 3, 30))
    assert (stored(first)["response"], stored(first)["response_assessed_on"]) == ("partial", D(2026, 3, 30))


@pytest.mark.django_db
@pytest.mark.parametrize("reloaded", [False, True], ids=["as-started", "reloaded"])
def test_moving_an_old_injection_start_re_checks_the_ladder(reloaded):
    first = _injection_then_a_justified_one_two_weeks_later()
    if reloaded:
        first = Treatment.objects.get(pk=first.pk)
    error = refused(lambda: services.treatment_update(treatment=first, started_on=D(2026, 3, 9)))
    assert ladder_rules(error) == ["injection_interval"]
    assert stored(first)["started_on"] == D(2026, 3, 2)


# Concurrency (PostgreSQL): the presentation row lock serialises ladder checks


def _run_together(*calls) -> list:
    """Run each call in its own thread and database connection, all released at once; return their outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:  # reported to the test thread, which asserts on it
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a concurrent write never finished"
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_injections_cannot_both_slip_under_the_yearly_limit(on_postgres, monkeypatch):
    presentation = on_the_injection_rung()
    clinician = treating_clinician(presentation)
    stored_injection(presentation, D(2026, 3, 2))
    stored_injection(presentation, D(2026, 4, 6))
    # Either alone is the third injection in 12 months; together they would be the third and the fourth.
    days = [D(2026, 5, 11), D(2026, 6, 15)]

    validate = Treatment.full_clean

    def slow_full_clean(treatment, *args, **kwargs):
        validate(treatment, *args, **kwargs)
        # Widen the gap between checking and saving, so an unserialised rival would check inside it.
        time.sleep(0.5)

    monkeypatch.setattr(Treatment, "full_clean", slow_full_clean)
    outcomes = _run_together(
        *[
            lambda day=day: services.treatment_start(
                presentation=presentation, kind=INJECTION, clinician=clinician, started_on=day, **STEROID
            )
            for day in days
        ]
    )
    started = [outcome for outcome in outcomes if isinstance(outcome, Treatment)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, ValidationError)]
    assert (len(started), len(refusals)) == (1, 1), outcomes
    assert ladder_rules(refusals[0]) == ["injection_yearly_limit"]
    assert presentation.treatments.filter(kind=INJECTION).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_presentation_locked_where_it_is_found_serialises_two_creates_as_well(on_postgres, monkeypatch):
    """The API's keyed create: the body's presentation is found and locked in one query
    (``presentation_for_write``) and the service writes under that lock instead of taking its own."""
    presentation = on_the_injection_rung()
    clinician = treating_clinician(presentation)
    stored_injection(presentation, D(2026, 3, 2))
    stored_injection(presentation, D(2026, 4, 6))
    validate = Treatment.full_clean

    def slow_full_clean(treatment, *args, **kwargs):
        validate(treatment, *args, **kwargs)
        time.sleep(0.5)

    def keyed_start(day):
        with services.single_transaction():
            found = services.presentation_for_write(Presentation.objects.all(), presentation.pk)
            return services.treatment_start(
                presentation=found, kind=INJECTION, clinician=clinician, started_on=day, **STEROID
            )

    monkeypatch.setattr(Treatment, "full_clean", slow_full_clean)
    outcomes = _run_together(*[lambda day=day: keyed_start(day) for day in (D(2026, 5, 11), D(2026, 6, 15))])
    refusals = [outcome for outcome in outcomes if isinstance(outcome, ValidationError)]
    assert len(refusals) == 1, outcomes
    assert ladder_rules(refusals[0]) == ["injection_yearly_limit"]
    assert presentation.treatments.filter(kind=INJECTION).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_locked_presentation_does_not_block_writes_to_another_in_the_same_clinic(on_postgres):
    first = on_the_injection_rung()
    second = on_the_injection_rung(patient__clinic=first.patient.clinic)
    clinician = treating_clinician(first)
    locked, release = threading.Event(), threading.Event()

    def hold_the_first_presentation():
        with transaction.atomic():
            services.treatment_start(
                presentation=first, kind=INJECTION, clinician=clinician, started_on=D(2026, 3, 2), **STEROID
            )
            locked.set()
            release.wait(timeout=10)

    def start_on_the_second():
        assert locked.wait(timeout=10)
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # Fail fast instead of queueing behind the other transaction's row locks.
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                return services.treatment_start(
                    presentation=second, kind=INJECTION, clinician=clinician, started_on=D(2026, 3, 2), **STEROID
                )
        finally:
            release.set()

    holder, writer = _run_together(hold_the_first_presentation, start_on_the_second)
    assert holder is None
    assert isinstance(writer, Treatment), writer

"""The model layer's ranges and cross-field rules: full_clean() refuses a bad value against the field it is about."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from cases import ladder
from cases.choices import PresentationStatus, TreatmentKind
from cases.models import Patient, Presentation, Treatment
from tests.factories import (
    ClinicFactory,
    ComplicationFactory,
    PatientFactory,
    PresentationFactory,
    TreatmentFactory,
    UserFactory,
    VisitFactory,
)

D = datetime.date
pytestmark = pytest.mark.django_db

# These tests are about field and cross-field rules, so the ladder rules are waived for them.
WAIVED = "Ladder rules are tested elsewhere; this test is about one field."


def refusal(instance) -> dict[str, list[str]]:
    """The messages full_clean() gives, by field; the test fails if the instance is accepted."""
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def treatment(kind: str, **fields) -> Treatment:
    """An unsaved treatment of ``kind`` on a saved presentation, valid apart from what ``fields`` set."""
    presentation = fields.pop("presentation", None) or PresentationFactory()
    fields.setdefault("started_on", presentation.first_seen_on)
    fields.setdefault("justification", WAIVED)
    return Treatment(presentation=presentation, kind=kind, clinician=UserFactory(), **fields)


@pytest.fixture
def frozen_now(monkeypatch):
    """Freeze the server clock at 10:30 UTC on 10 March 2026: already 11 March in Kiritimati, still 9 in Pago Pago."""
    moment = datetime.datetime(2026, 3, 10, 10, 30, tzinfo=datetime.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment


# Pain, MOxFQ, size and interspace ranges (the scales of DOMAIN.md). Django words the refusal; what is
# this project's is the range itself and that the refusal is against the one field it is about.

RANGES = [
    # (record, field, lowest accepted, highest accepted, step just outside either end)
    ("visit", "pain_walking", 0, 10, 1),
    ("visit", "pain_rest", 0, 10, 1),
    ("visit", "moxfq_walking_standing", 0, 100, 1),
    ("visit", "moxfq_pain", 0, 100, 1),
    ("visit", "moxfq_social", 0, 100, 1),
    ("presentation", "size_mm", Decimal("0"), Decimal("40"), Decimal("0.1")),
    ("presentation", "interspace", 1, 4, 1),
]


def ranged_record(record: str, field_name: str, value):
    instance = VisitFactory() if record == "visit" else PresentationFactory(imaging="ultrasound")
    setattr(instance, field_name, value)
    if field_name == "size_mm" and value is not None and value > 20:
        instance.unusual_size_confirmed = True  # over 20 mm is a separate rule (below)
    return instance


@pytest.mark.parametrize(
    ("record", "field_name", "lowest", "highest", "step"), RANGES, ids=[field for _, field, *_ in RANGES]
)
def test_a_score_or_size_is_accepted_at_both_ends_of_its_scale_and_refused_just_outside(
    record, field_name, lowest, highest, step
):
    for value in (lowest, highest):
        ranged_record(record, field_name, value).full_clean()
    for value in (lowest - step, highest + step):
        errors = refusal(ranged_record(record, field_name, value))
        assert list(errors) == [field_name], value
        assert len(errors[field_name]) == 1, errors


@pytest.mark.parametrize("field_name", ["moxfq_walking_standing", "moxfq_pain", "moxfq_social"])
def test_a_moxfq_domain_score_may_be_left_out(field_name):
    ranged_record("visit", field_name, None).full_clean()


@pytest.mark.parametrize("size_mm", [Decimal("40.1"), Decimal("-0.5")])
def test_neuroma_size_outside_0_to_40_mm_is_refused_without_asking_for_confirmation(size_mm):
    # Ticking "unusual size confirmed" cannot make an impossible size valid, so it must not be suggested.
    presentation = PresentationFactory(imaging="ultrasound")
    presentation.size_mm = size_mm
    (message,) = refusal(presentation)["size_mm"]
    assert "unusual size confirmed" not in message
    presentation.unusual_size_confirmed = True
    assert list(refusal(presentation)) == ["size_mm"]


@pytest.mark.parametrize("size_mm", [Decimal("0"), Decimal("5.2"), Decimal("20")])
def test_neuroma_size_up_to_20_mm_needs_no_confirmation(size_mm):
    presentation = PresentationFactory(imaging="mri", size_mm=size_mm)
    presentation.full_clean()


@pytest.mark.parametrize("size_mm", [Decimal("20.1"), Decimal("40")])
def test_neuroma_size_over_20_mm_needs_unusual_size_confirmed(size_mm):
    presentation = PresentationFactory(imaging="ultrasound", size_mm=size_mm)
    errors = refusal(presentation)
    assert list(errors) == ["size_mm"]
    assert errors["size_mm"] == [
        f"A neuroma of {size_mm} mm is unusually large (over 20 mm).",
        "Tick 'unusual size confirmed' if it is correct.",
    ]
    presentation.unusual_size_confirmed = True
    presentation.full_clean()


def test_neuroma_size_needs_the_imaging_it_was_measured_on():
    presentation = PresentationFactory(imaging="none")
    presentation.size_mm = Decimal("6")
    assert refusal(presentation) == {"imaging": ["A neuroma size needs the imaging it was measured on."]}


# No future dates, in the clinic's own time zone


def _patient(clinic, day):
    return PatientFactory(clinic=clinic, birth_date=day)


def _presentation(clinic, day):
    return PresentationFactory(patient__clinic=clinic, onset_on=None, first_seen_on=day)


def _onset(clinic, day):
    return PresentationFactory(patient__clinic=clinic, onset_on=day, first_seen_on=day)


def _visit(clinic, day):
    return VisitFactory(presentation__patient__clinic=clinic, seen_on=day)


def _treatment_start(clinic, day):
    return TreatmentFactory(presentation__patient__clinic=clinic, started_on=day)


def _treatment_end(clinic, day):
    return TreatmentFactory(presentation__patient__clinic=clinic, ended_on=day)


def _response(clinic, day):
    return TreatmentFactory(presentation__patient__clinic=clinic, response="partial", response_assessed_on=day)


def _complication(clinic, day):
    return ComplicationFactory(treatment__presentation__patient__clinic=clinic, occurred_on=day)


def _complication_resolved(clinic, day):
    return ComplicationFactory(treatment__presentation__patient__clinic=clinic, resolved=True, resolved_on=day)


# Each case sets these date fields to the day under test on an otherwise valid record.
DATED_RECORDS = {
    "patient birth date": (_patient, ["birth_date"]),
    "presentation first seen": (_presentation, ["first_seen_on"]),
    "presentation onset": (_onset, ["onset_on", "first_seen_on"]),
    "visit date": (_visit, ["seen_on"]),
    "treatment start": (_treatment_start, ["started_on"]),
    "treatment end": (_treatment_end, ["ended_on"]),
    "response assessed": (_response, ["response_assessed_on"]),
    "complication date": (_complication, ["occurred_on"]),
    "complication resolved": (_complication_resolved, ["resolved_on"]),
}


def test_clinic_today_follows_the_clinic_time_zone_not_the_server(frozen_now):
    assert timezone.localdate() == D(2026, 3, 10)
    assert ClinicFactory(time_zone="Pacific/Kiritimati").today() == D(2026, 3, 11)
    assert ClinicFactory(time_zone="Pacific/Pago_Pago").today() == D(2026, 3, 9)


@pytest.mark.parametrize("record", DATED_RECORDS)
def test_today_in_a_clinic_ahead_of_the_server_is_not_a_future_date(frozen_now, record):
    make, _ = DATED_RECORDS[record]
    # 11 March is tomorrow for the server (UTC) but today in Kiritimati (UTC+14).
    make(ClinicFactory(time_zone="Pacific/Kiritimati"), D(2026, 3, 11)).full_clean()


@pytest.mark.parametrize("record", DATED_RECORDS)
def test_tomorrow_in_the_clinic_time_zone_is_refused_as_a_future_date(frozen_now, record):
    make, field_names = DATED_RECORDS[record]
    errors = refusal(make(ClinicFactory(time_zone="Pacific/Kiritimati"), D(2026, 3, 12)))
    assert set(errors) == set(field_names)
    for field_name in field_names:
        assert any("future" in message for message in errors[field_name]), errors


@pytest.mark.parametrize("record", DATED_RECORDS)
def test_server_today_is_refused_in_a_clinic_still_on_yesterday(frozen_now, record):
    make, field_names = DATED_RECORDS[record]
    # 10 March is today for the server (UTC) but still tomorrow in Pago Pago (UTC-11).
    errors = refusal(make(ClinicFactory(time_zone="Pacific/Pago_Pago"), D(2026, 3, 10)))
    assert set(errors) == set(field_names)
    for field_name in field_names:
        assert any("future" in message for message in errors[field_name]), errors


def test_future_date_message_names_the_clinic_today(frozen_now):
    visit = _visit(ClinicFactory(time_zone="Pacific/Pago_Pago"), D(2026, 3, 10))
    assert refusal(visit) == {"seen_on": ["This date is in the future (today is 9 Mar 2026)."]}


# Treatment dates and response


def test_treatment_end_before_start_is_refused():
    refused = treatment(TreatmentKind.FOOTWEAR_MODIFICATION, started_on=D(2026, 2, 1), ended_on=D(2026, 1, 31))
    assert refusal(refused) == {"ended_on": ["The end date cannot be before the start date."]}


def test_treatment_ending_the_day_it_starts_is_accepted():
    treatment(TreatmentKind.FOOTWEAR_MODIFICATION, started_on=D(2026, 2, 1), ended_on=D(2026, 2, 1)).full_clean()


def test_response_assessed_before_the_start_is_refused():
    refused = treatment(
        TreatmentKind.FOOTWEAR_MODIFICATION,
        started_on=D(2026, 2, 1),
        response="partial",
        response_assessed_on=D(2026, 1, 31),
    )
    assert refusal(refused) == {"response_assessed_on": ["The response cannot be assessed before the start date."]}


@pytest.mark.parametrize("response", ["complete", "partial", "none"])
def test_a_response_other_than_pending_needs_the_date_it_was_assessed(response):
    refused = treatment(TreatmentKind.FOOTWEAR_MODIFICATION, response=response)
    assert refusal(refused) == {"response_assessed_on": ["Give the date the response was assessed."]}
    refused.response_assessed_on = D(2026, 2, 16)
    refused.full_clean()


def test_a_pending_response_cannot_have_an_assessment_date():
    refused = treatment(TreatmentKind.FOOTWEAR_MODIFICATION, response="pending", response_assessed_on=D(2026, 2, 16))
    assert refusal(refused) == {"response": ["A response assessed on a date cannot be pending."]}


# One MRN per clinic; one active presentation per site


def test_a_medical_record_number_is_unique_within_a_clinic():
    existing = PatientFactory(mrn="MRN-7")
    duplicate = PatientFactory.build(clinic=existing.clinic, mrn="MRN-7")
    assert refusal(duplicate) == {
        NON_FIELD_ERRORS: ["A patient with this medical record number already exists in this clinic."]
    }


def test_a_medical_record_number_with_stray_spaces_still_counts_as_a_duplicate():
    existing = PatientFactory(mrn="MRN-7")
    duplicate = PatientFactory.build(clinic=existing.clinic, mrn="  MRN-7 ")
    assert NON_FIELD_ERRORS in refusal(duplicate)


def test_the_same_medical_record_number_in_another_clinic_is_accepted():
    PatientFactory(mrn="MRN-7")
    PatientFactory.build(clinic=ClinicFactory(), mrn="MRN-7").full_clean()


@pytest.mark.parametrize("mrn", ["", "   "])
def test_a_blank_medical_record_number_is_refused_against_the_mrn_field(mrn):
    refused = PatientFactory.build(clinic=ClinicFactory(), mrn=mrn)
    assert list(refusal(refused)) == ["mrn"]


def test_a_second_active_presentation_for_the_same_foot_and_interspace_is_refused():
    existing = PresentationFactory(foot="left", interspace=3)
    duplicate = PresentationFactory.build(patient=existing.patient, foot="left", interspace=3)
    assert refusal(duplicate) == {
        NON_FIELD_ERRORS: ["This patient already has an active presentation for this foot and interspace."]
    }


@pytest.mark.parametrize("status", ["resolved", "referred", "closed"])
def test_a_new_active_presentation_beside_a_finished_one_at_the_same_site_is_accepted(status):
    finished = PresentationFactory(foot="left", interspace=3, status=status)
    PresentationFactory.build(patient=finished.patient, foot="left", interspace=3).full_clean()


@pytest.mark.parametrize(("foot", "interspace"), [("right", 3), ("left", 2)])
def test_active_presentations_on_another_foot_or_interspace_are_accepted(foot, interspace):
    existing = PresentationFactory(foot="left", interspace=3)
    PresentationFactory.build(patient=existing.patient, foot=foot, interspace=interspace).full_clean()


def test_an_active_presentation_of_another_patient_at_the_same_site_is_accepted():
    PresentationFactory(foot="left", interspace=3)
    PresentationFactory.build(patient=PatientFactory(), foot="left", interspace=3).full_clean()


# Dates relative to each other: first seen, onset, birth, treatment


def test_a_visit_before_the_presentation_was_first_seen_is_refused():
    visit = VisitFactory(presentation__first_seen_on=D(2026, 1, 5))
    visit.seen_on = D(2026, 1, 4)
    assert refusal(visit) == {"seen_on": ["A visit cannot be before the presentation was first seen (2026-01-05)."]}


def test_a_visit_on_the_day_first_seen_is_accepted():
    VisitFactory(presentation__first_seen_on=D(2026, 1, 5), seen_on=D(2026, 1, 5)).full_clean()


def test_first_seen_cannot_move_after_a_recorded_visit():
    visit = VisitFactory(presentation__first_seen_on=D(2026, 1, 5), seen_on=D(2026, 1, 5))
    presentation = Presentation.objects.get(pk=visit.presentation_id)
    presentation.first_seen_on = D(2026, 1, 6)
    errors = refusal(presentation)
    assert list(errors) == ["first_seen_on"]
    assert "5 Jan 2026" in errors["first_seen_on"][0]


def test_onset_after_the_date_first_seen_is_refused():
    presentation = PresentationFactory(first_seen_on=D(2026, 1, 5))
    presentation.onset_on = D(2026, 1, 6)
    assert refusal(presentation) == {"onset_on": ["Onset cannot be after the date first seen."]}


def test_onset_on_the_day_first_seen_is_accepted():
    PresentationFactory(onset_on=D(2026, 1, 5), first_seen_on=D(2026, 1, 5)).full_clean()


@pytest.mark.parametrize("field_name", ["onset_on", "first_seen_on"])
def test_presentation_dates_before_the_patient_was_born_are_refused(field_name):
    presentation = PresentationFactory(patient__birth_date=D(2025, 12, 1), onset_on=None, first_seen_on=D(2026, 1, 5))
    setattr(presentation, field_name, D(2025, 11, 30))
    errors = refusal(presentation)
    assert errors[field_name] == ["This date is before the patient's birth date."]


@pytest.mark.parametrize("field_name", ["started_on", "ended_on", "response_assessed_on"])
def test_treatment_dates_before_the_patient_was_born_are_refused(field_name):
    presentation = PresentationFactory(patient__birth_date=D(2025, 12, 1), onset_on=None)
    refused = treatment(
        TreatmentKind.FOOTWEAR_MODIFICATION,
        presentation=presentation,
        started_on=D(2025, 11, 1),
        response="partial",
        response_assessed_on=D(2026, 1, 5),
    )
    setattr(refused, field_name, D(2025, 11, 30))
    assert refusal(refused)[field_name] == ["This date is before the patient's birth date."]


def test_birth_date_cannot_move_after_a_recorded_clinical_date():
    presentation = PresentationFactory(patient__birth_date=D(1970, 5, 17), onset_on=D(2025, 11, 1))
    patient = Patient.objects.get(pk=presentation.patient_id)
    patient.birth_date = D(2025, 12, 1)
    errors = refusal(patient)
    assert list(errors) == ["birth_date"]
    assert "1 Nov 2025" in errors["birth_date"][0]


# Treatment details that belong to one kind


def test_an_orthosis_needs_its_type():
    assert refusal(treatment(TreatmentKind.ORTHOSIS)) == {"orthosis_type": ["Give the orthosis type."]}
    treatment(TreatmentKind.ORTHOSIS, orthosis_type="metatarsal_pad").full_clean()


@pytest.mark.parametrize("kind", sorted(set(TreatmentKind.values) - {TreatmentKind.ORTHOSIS}))
def test_orthosis_type_is_only_recorded_for_an_orthosis(kind):
    refused = treatment(kind, orthosis_type="custom_orthosis")
    assert refusal(refused)["orthosis_type"] == ["Only recorded for an orthosis."]


def test_a_corticosteroid_injection_needs_its_drug():
    assert refusal(treatment(TreatmentKind.CORTICOSTEROID_INJECTION)) == {"injection_drug": ["Give the injected drug."]}


@pytest.mark.parametrize("kind", sorted(set(TreatmentKind.values) - {TreatmentKind.CORTICOSTEROID_INJECTION}))
def test_injection_drug_is_only_recorded_for_a_corticosteroid_injection(kind):
    refused = treatment(kind, injection_drug="triamcinolone_acetonide")
    assert refusal(refused)["injection_drug"] == ["Only recorded for a corticosteroid injection."]


@pytest.mark.parametrize(
    "kind",
    [
        TreatmentKind.FOOTWEAR_MODIFICATION,
        TreatmentKind.ORTHOSIS,
        TreatmentKind.RADIOFREQUENCY_ABLATION,
        TreatmentKind.CRYONEUROLYSIS,
        TreatmentKind.NEURECTOMY,
    ],
)
@pytest.mark.parametrize(("field_name", "value"), [("dose_mg", Decimal("40")), ("volume_ml", Decimal("1"))])
def test_dose_and_volume_are_only_recorded_for_injections(kind, field_name, value):
    refused = treatment(kind, **{field_name: value})
    assert refusal(refused)[field_name] == ["Only recorded for injections."]


def test_an_alcohol_injection_may_record_dose_and_volume():
    treatment(TreatmentKind.ALCOHOL_INJECTION, dose_mg=Decimal("20"), volume_ml=Decimal("0.5")).full_clean()


@pytest.mark.parametrize(
    "kind", [TreatmentKind.FOOTWEAR_MODIFICATION, TreatmentKind.ORTHOSIS, TreatmentKind.NEURECTOMY]
)
@pytest.mark.parametrize("guided", [True, False])
def test_ultrasound_guidance_is_only_recorded_for_injections_and_ablations(kind, guided):
    refused = treatment(kind, ultrasound_guided=guided)
    assert refusal(refused)["ultrasound_guided"] == ["Only recorded for injections and ablations."]


@pytest.mark.parametrize(
    ("kind", "details"),
    [
        (TreatmentKind.CORTICOSTEROID_INJECTION, {"injection_drug": "dexamethasone"}),
        (TreatmentKind.ALCOHOL_INJECTION, {}),
        (TreatmentKind.RADIOFREQUENCY_ABLATION, {}),
        (TreatmentKind.CRYONEUROLYSIS, {}),
    ],
)
def test_ultrasound_guidance_is_recorded_for_injections_and_ablations(kind, details):
    treatment(kind, ultrasound_guided=True, **details).full_clean()


def test_a_neurectomy_needs_its_approach():
    assert refusal(treatment(TreatmentKind.NEURECTOMY)) == {"approach": ["Give the surgical approach."]}
    treatment(TreatmentKind.NEURECTOMY, approach="dorsal", histology_confirmed=True).full_clean()


@pytest.mark.parametrize("kind", sorted(set(TreatmentKind.values) - {TreatmentKind.NEURECTOMY}))
@pytest.mark.parametrize(("field_name", "value"), [("approach", "plantar"), ("histology_confirmed", False)])
def test_approach_and_histology_are_only_recorded_for_a_neurectomy(kind, field_name, value):
    refused = treatment(kind, **{field_name: value})
    assert refusal(refused)[field_name] == ["Only recorded for a neurectomy."]


def test_an_unknown_treatment_kind_is_refused_against_the_kind_field():
    errors = refusal(treatment("acupuncture", justification=""))
    assert list(errors) == ["kind"]
    assert "acupuncture" in errors["kind"][0]


# Injection dose and volume


def steroid(drug: str = "methylprednisolone_acetate", **fields) -> Treatment:
    return treatment(TreatmentKind.CORTICOSTEROID_INJECTION, injection_drug=drug, **fields)


@pytest.mark.parametrize("field_name", ["dose_mg", "volume_ml"])
@pytest.mark.parametrize("value", [Decimal("0"), Decimal("-1")])
def test_dose_and_volume_must_be_greater_than_zero(field_name, value):
    # Ticking "unusual dose confirmed" cannot make a non-positive amount valid, so it must not be suggested.
    refused = steroid(unusual_dose_confirmed=False, **{field_name: value})
    assert refusal(refused) == {field_name: ["Must be greater than zero."]}


@pytest.mark.parametrize(
    ("drug", "dose_mg", "usual"),
    [
        ("methylprednisolone_acetate", Decimal("19.9"), "20–40"),
        ("methylprednisolone_acetate", Decimal("40.1"), "20–40"),
        ("triamcinolone_acetonide", Decimal("9.9"), "10–40"),
        ("triamcinolone_acetonide", Decimal("40.5"), "10–40"),
    ],
)
def test_a_dose_outside_the_usual_range_needs_confirmation(drug, dose_mg, usual):
    refused = steroid(drug, dose_mg=dose_mg)
    errors = refusal(refused)
    assert list(errors) == ["unusual_dose_confirmed"]
    assert f"A dose of {dose_mg} mg" in errors["unusual_dose_confirmed"][0]
    assert f"outside the usual {usual} mg" in errors["unusual_dose_confirmed"][0]
    refused.unusual_dose_confirmed = True
    refused.full_clean()


@pytest.mark.parametrize(
    ("drug", "dose_mg"),
    [
        ("methylprednisolone_acetate", Decimal("20")),
        ("methylprednisolone_acetate", Decimal("40")),
        ("triamcinolone_acetonide", Decimal("10")),
        ("triamcinolone_acetonide", Decimal("40")),
        # DOMAIN.md §3 gives no usual range for these, so there is nothing to warn about.
        ("dexamethasone", Decimal("4")),
        ("betamethasone", Decimal("6")),
    ],
)
def test_a_dose_within_the_usual_range_needs_no_confirmation(drug, dose_mg):
    steroid(drug, dose_mg=dose_mg).full_clean()


@pytest.mark.parametrize("volume_ml", [Decimal("0.4"), Decimal("3.1")])
def test_an_injected_volume_outside_0_5_to_3_ml_needs_confirmation(volume_ml):
    refused = steroid(volume_ml=volume_ml)
    errors = refusal(refused)
    assert list(errors) == ["unusual_dose_confirmed"]
    assert f"A volume of {volume_ml} ml is outside the usual 0.5–3 ml." in errors["unusual_dose_confirmed"]
    refused.unusual_dose_confirmed = True
    refused.full_clean()


@pytest.mark.parametrize("volume_ml", [Decimal("0.5"), Decimal("3")])
def test_an_injected_volume_within_0_5_to_3_ml_needs_no_confirmation(volume_ml):
    steroid(volume_ml=volume_ml).full_clean()


# Complications


def test_a_complication_cannot_resolve_before_it_occurred():
    complication = ComplicationFactory(occurred_on=D(2026, 2, 1), resolved=True)
    complication.resolved_on = D(2026, 1, 31)
    assert refusal(complication) == {"resolved_on": ["A complication cannot resolve before it occurred."]}


def test_a_complication_resolving_the_day_it_occurred_is_accepted():
    ComplicationFactory(occurred_on=D(2026, 2, 1), resolved=True, resolved_on=D(2026, 2, 1)).full_clean()


def test_a_resolution_date_needs_resolved_ticked():
    complication = ComplicationFactory(occurred_on=D(2026, 2, 1), resolved=False)
    complication.resolved_on = D(2026, 2, 10)
    assert refusal(complication) == {"resolved": ["Tick 'resolved' when giving a resolution date."]}


@pytest.mark.parametrize("notes", ["", "  \n"])
def test_a_complication_of_kind_other_needs_notes(notes):
    complication = ComplicationFactory(kind="other", notes=notes)
    assert refusal(complication) == {"notes": ["Describe the complication when its kind is 'other'."]}
    complication.notes = "Plantar bruising after the injection."
    complication.full_clean()


def test_a_complication_cannot_precede_its_treatment():
    complication = ComplicationFactory(treatment__started_on=D(2026, 1, 5))
    complication.occurred_on = D(2026, 1, 4)
    assert refusal(complication) == {
        "occurred_on": ["A complication cannot precede its treatment (started 2026-01-05)."]
    }


def test_a_treatment_start_cannot_move_after_one_of_its_complications():
    complication = ComplicationFactory(treatment__started_on=D(2026, 1, 5), occurred_on=D(2026, 1, 19))
    moved = Treatment.objects.get(pk=complication.treatment_id)
    moved.started_on = D(2026, 1, 20)
    moved.justification = WAIVED
    errors = refusal(moved)
    assert list(errors) == ["started_on"]
    assert "19 Jan 2026" in errors["started_on"][0]


# Presentation summaries and recommendations, read from the database


def _history(presentation: Presentation) -> None:
    """Footwear, orthosis and an injection, and three visits recorded out of date order."""
    TreatmentFactory(presentation=presentation, kind="footwear_modification", started_on=D(2026, 1, 5))
    TreatmentFactory(
        presentation=presentation, kind="orthosis", started_on=D(2026, 2, 16), orthosis_type="custom_orthosis"
    )
    TreatmentFactory(
        presentation=presentation, kind="corticosteroid_injection", started_on=D(2026, 3, 30), injection_drug="other"
    )
    VisitFactory(presentation=presentation, seen_on=D(2026, 3, 30), pain_walking=5, pain_rest=1)
    VisitFactory(presentation=presentation, seen_on=D(2026, 1, 5), pain_walking=7, pain_rest=0)
    VisitFactory(presentation=presentation, seen_on=D(2026, 2, 16), pain_walking=6, pain_rest=0)


def test_summary_gives_current_rung_last_visit_and_latest_pain():
    presentation = PresentationFactory()
    _history(presentation)
    # A footwear change recorded after the injection does not lower the current rung.
    TreatmentFactory(presentation=presentation, kind="footwear_modification", started_on=D(2026, 4, 6))
    summary = Presentation.objects.with_summary().get(pk=presentation.pk)
    assert summary.current_step == ladder.INJECTION
    assert summary.last_visit_on == D(2026, 3, 30)
    assert (summary.latest_pain_walking, summary.latest_pain_rest) == (5, 1)


def test_summary_picks_the_last_recorded_of_two_visits_on_the_same_day():
    presentation = PresentationFactory()
    VisitFactory(presentation=presentation, seen_on=D(2026, 2, 2), pain_walking=6, pain_rest=2)
    VisitFactory(presentation=presentation, seen_on=D(2026, 2, 2), pain_walking=3, pain_rest=0)
    summary = Presentation.objects.with_summary().get(pk=presentation.pk)
    assert (summary.latest_pain_walking, summary.latest_pain_rest) == (3, 0)


def test_summary_of_an_alternative_sits_between_injection_and_neurectomy():
    presentation = PresentationFactory()
    _history(presentation)
    TreatmentFactory(presentation=presentation, kind="cryoneurolysis", started_on=D(2026, 5, 4))
    assert Presentation.objects.with_summary().get(pk=presentation.pk).current_step == ladder.ALTERNATIVE


def test_summary_of_a_presentation_with_nothing_recorded_is_empty():
    summary = Presentation.objects.with_summary().get(pk=PresentationFactory().pk)
    assert (summary.current_step, summary.last_visit_on, summary.latest_pain_walking, summary.latest_pain_rest) == (
        None,
        None,
        None,
        None,
    )


def test_summary_does_not_repeat_rows():
    presentation = PresentationFactory()
    _history(presentation)
    assert Presentation.objects.with_summary().count() == 1


@pytest.mark.parametrize("count", [1, 8])
def test_summary_costs_one_query_for_any_number_of_presentations(django_assert_num_queries, count):
    for _ in range(count):
        _history(PresentationFactory())
    with django_assert_num_queries(1):
        rows = [
            (p.current_step, p.last_visit_on, p.latest_pain_walking, p.latest_pain_rest)
            for p in Presentation.objects.with_summary()
        ]
    assert rows == [(ladder.INJECTION, D(2026, 3, 30), 5, 1)] * count


def test_recommendation_reads_the_stored_treatments_and_visits():
    presentation = PresentationFactory()
    TreatmentFactory(
        presentation=presentation,
        kind="footwear_modification",
        started_on=D(2026, 1, 5),
        response="none",
        response_assessed_on=D(2026, 2, 16),
    )
    VisitFactory(presentation=presentation, seen_on=D(2026, 2, 16), pain_walking=6, relief_since_previous="none")
    recommendation = Presentation.objects.get(pk=presentation.pk).recommendation(today=D(2026, 2, 16))
    assert (recommendation.action, recommendation.target_rung) == (ladder.Action.ESCALATE, 2)


def test_recommendation_discharges_complete_relief_confirmed_at_a_later_stored_visit():
    presentation = PresentationFactory()
    TreatmentFactory(
        presentation=presentation,
        kind="footwear_modification",
        started_on=D(2026, 1, 5),
        response="complete",
        response_assessed_on=D(2026, 2, 16),
    )
    VisitFactory(presentation=presentation, seen_on=D(2026, 3, 2), pain_walking=0, relief_since_previous="complete")
    assert presentation.recommendation(today=D(2026, 3, 2)).action == ladder.Action.DISCHARGE


def test_recommendation_judges_the_trial_against_the_clinic_today(frozen_now):
    presentation = PresentationFactory(patient__clinic__time_zone="Pacific/Kiritimati", first_seen_on=D(2026, 1, 28))
    # Footwear trial of six weeks from 28 January ends on 11 March: today in Kiritimati, tomorrow for the server.
    TreatmentFactory(presentation=presentation, kind="footwear_modification", started_on=D(2026, 1, 28))
    recommendation = presentation.recommendation()
    assert recommendation.trial_ends_on == D(2026, 3, 11)
    assert recommendation.stalled


@pytest.mark.parametrize("status", [PresentationStatus.RESOLVED, PresentationStatus.CLOSED])
def test_recommendation_discharges_a_presentation_that_is_no_longer_active(status):
    presentation = PresentationFactory(status=status)
    _history(presentation)
    assert presentation.recommendation(today=D(2026, 6, 1)).action == ladder.Action.DISCHARGE


def test_ladder_check_is_needed_for_a_new_treatment_and_for_a_changed_kind_or_date_only():
    stored = TreatmentFactory(started_on=D(2026, 1, 5))
    assert Treatment(presentation=stored.presentation, kind="orthosis").ladder_check_needed()
    loaded = Treatment.objects.get(pk=stored.pk)
    loaded.response, loaded.response_assessed_on, loaded.ended_on = "partial", D(2026, 2, 16), D(2026, 2, 16)
    assert not loaded.ladder_check_needed()
    loaded.started_on = D(2026, 1, 6)
    assert loaded.ladder_check_needed()


@pytest.mark.parametrize(
    "factory", [PatientFactory, PresentationFactory, VisitFactory, TreatmentFactory, ComplicationFactory]
)
def test_factory_defaults_pass_every_rule(factory):
    # Guards the tests above: each refusal is about the field under test, not a broken default.
    factory().full_clean()


def test_an_archived_patient_gets_no_new_presentation(clinic):
    patient = PatientFactory(clinic=clinic, archived=True)
    presentation = PresentationFactory.build(patient=patient)

    with pytest.raises(ValidationError) as refused:
        presentation.full_clean()

    assert refused.value.message_dict["patient"] == [
        "This patient is archived: an archived patient gets no new presentation."
    ]

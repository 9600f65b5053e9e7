"""The FHIR R4 export of a patient's neuroma record: valid per an independent R4 validator, coded as DOMAIN.md §5."""

import copy
import datetime
import json
import re
import uuid
from collections import Counter
from decimal import Decimal

import pytest

from api.fhir import patient_bundle, patient_export_queryset
from cases.choices import (
    ComplicationKind,
    Foot,
    Imaging,
    InjectionDrug,
    NeurectomyApproach,
    OrthosisType,
    PresentationStatus,
    Response,
    TreatmentKind,
)
from tests.factories import ComplicationFactory, PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory
from tests.fhir_validation import assert_valid_r4_bundle, r4_bundle_problems
from tests.followups.factories import FollowUpAnswerFactory, FollowUpFactory

SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
FHIR_DATE = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
)
# The queries of patient_export_queryset(): patient with clinic, presentations, visits, treatments,
# complications, answered follow-ups with their answers.
EXPORT_QUERIES = 6


@pytest.fixture
def record(clinic, podiatrist):
    """A realistic case: a right 3rd-space neuroma up the ladder to neurectomy, a left 2nd-space one resolved."""
    patient = PatientFactory(
        clinic=clinic,
        mrn="NS-004711",
        given_name="Margaret",
        family_name="Hale",
        birth_date=datetime.date(1968, 3, 2),
        sex="female",
        phone="+44 20 7946 0958",
        email="m.hale@example.test",
    )
    right = PresentationFactory(
        patient=patient,
        foot=Foot.RIGHT,
        interspace=3,
        onset_on=datetime.date(2025, 3, 1),
        first_seen_on=datetime.date(2025, 4, 7),
        imaging=Imaging.ULTRASOUND,
        size_mm=Decimal("6.5"),
        icd10_code="G57.61",
    )
    left = PresentationFactory(
        patient=patient,
        foot=Foot.LEFT,
        interspace=2,
        onset_on=None,
        first_seen_on=datetime.date(2025, 6, 2),
        status=PresentationStatus.RESOLVED,
    )
    visits = {
        "right_first": VisitFactory(
            presentation=right,
            seen_on=datetime.date(2025, 4, 7),
            clinician=podiatrist,
            pain_walking=7,
            pain_rest=2,
            moxfq_walking_standing=61,
            moxfq_pain=55,
            moxfq_social=44,
        ),
        "right_orthosis_review": VisitFactory(
            presentation=right, seen_on=datetime.date(2025, 5, 26), clinician=podiatrist, pain_walking=6, pain_rest=1
        ),
        "right_injection_review": VisitFactory(
            presentation=right,
            seen_on=datetime.date(2025, 8, 4),
            clinician=podiatrist,
            pain_walking=5,
            pain_rest=1,
            moxfq_walking_standing=46,
            moxfq_pain=40,
            relief_since_previous="partial",
        ),
        "left_first": VisitFactory(
            presentation=left, seen_on=datetime.date(2025, 6, 2), clinician=podiatrist, pain_walking=5, pain_rest=0
        ),
        "left_discharge": VisitFactory(
            presentation=left,
            seen_on=datetime.date(2025, 8, 11),
            clinician=podiatrist,
            pain_walking=0,
            pain_rest=0,
            moxfq_walking_standing=0,
            moxfq_pain=0,
            moxfq_social=0,
            relief_since_previous="complete",
        ),
    }
    treatments = {
        "footwear": TreatmentFactory(
            presentation=right,
            clinician=podiatrist,
            kind=TreatmentKind.FOOTWEAR_MODIFICATION,
            started_on=datetime.date(2025, 4, 7),
            ended_on=datetime.date(2025, 5, 19),
            response=Response.NONE,
            response_assessed_on=datetime.date(2025, 5, 26),
        ),
        "orthosis": TreatmentFactory(
            presentation=right,
            clinician=podiatrist,
            kind=TreatmentKind.ORTHOSIS,
            orthosis_type=OrthosisType.CUSTOM_ORTHOSIS,
            started_on=datetime.date(2025, 5, 26),
            ended_on=datetime.date(2025, 7, 7),
            response=Response.PARTIAL,
            response_assessed_on=datetime.date(2025, 7, 7),
        ),
        "injection": TreatmentFactory(
            presentation=right,
            clinician=podiatrist,
            kind=TreatmentKind.CORTICOSTEROID_INJECTION,
            injection_drug=InjectionDrug.METHYLPREDNISOLONE_ACETATE,
            dose_mg=Decimal("40.0"),
            volume_ml=Decimal("1.5"),
            ultrasound_guided=True,
            started_on=datetime.date(2025, 7, 7),
            response=Response.PARTIAL,
            response_assessed_on=datetime.date(2025, 8, 4),
        ),
        "neurectomy": TreatmentFactory(
            presentation=right,
            clinician=podiatrist,
            kind=TreatmentKind.NEURECTOMY,
            approach=NeurectomyApproach.DORSAL,
            histology_confirmed=True,
            started_on=datetime.date(2025, 9, 15),
        ),
        "left_footwear": TreatmentFactory(
            presentation=left,
            clinician=podiatrist,
            kind=TreatmentKind.FOOTWEAR_MODIFICATION,
            started_on=datetime.date(2025, 6, 2),
            response=Response.COMPLETE,
            response_assessed_on=datetime.date(2025, 8, 11),
        ),
    }
    ComplicationFactory(
        treatment=treatments["neurectomy"], kind=ComplicationKind.CRPS, occurred_on=datetime.date(2025, 10, 6)
    )
    ComplicationFactory(
        treatment=treatments["neurectomy"],
        kind=ComplicationKind.PERSISTENT_NUMBNESS,
        occurred_on=datetime.date(2025, 10, 6),
    )
    return {"patient": patient, "right": right, "left": left, "visits": visits, "treatments": treatments}


def export(patient, **options) -> dict:
    return patient_bundle(patient_export_queryset().get(pk=patient.pk), **options)


def resources(bundle: dict, resource_type: str) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == resource_type]


def full_url_of(bundle: dict, resource: dict) -> str:
    return next(entry["fullUrl"] for entry in bundle["entry"] if entry["resource"] is resource)


def references_in(value) -> list[str]:
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [ref for inner in value.values() for ref in references_in(inner)]
    if isinstance(value, list):
        return [ref for inner in value for ref in references_in(inner)]
    return []


def condition_for(bundle: dict, foot: str) -> dict:
    laterality = {"left": "7771000", "right": "24028007"}[foot]
    return next(
        condition
        for condition in resources(bundle, "Condition")
        if laterality in [coding["code"] for coding in condition["bodySite"][0]["coding"]]
    )


def procedure_titled(bundle: dict, text: str) -> dict:
    return next(procedure for procedure in resources(bundle, "Procedure") if procedure["code"]["text"].startswith(text))


# --- the whole bundle --------------------------------------------------------------------------


def test_realistic_patient_exports_as_a_valid_r4_collection_bundle(record):
    bundle = export(record["patient"])

    assert_valid_r4_bundle(bundle)
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "collection"
    assert Counter(entry["resource"]["resourceType"] for entry in bundle["entry"]) == {
        "Patient": 1,
        "Condition": 2,
        "Encounter": 5,
        # 2 pain scores for each of 5 visits + 3 + 2 + 3 MOxFQ domain scores + 1 imaging size
        "Observation": 19,
        "Procedure": 5,
        "MedicationAdministration": 1,
    }


def test_every_reference_is_the_full_url_of_an_entry(record):
    bundle = export(record["patient"])

    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    references = references_in(bundle)
    # subject of every resource but the Patient, plus encounters, reasons, evidence, partOf
    assert len(references) > len(bundle["entry"])
    assert set(references) <= full_urls


def test_full_urls_are_urn_uuids_naming_each_resource_id(record):
    bundle = export(record["patient"])

    for entry in bundle["entry"]:
        resource_id = entry["resource"]["id"]
        assert entry["fullUrl"] == f"urn:uuid:{resource_id}"
        assert uuid.UUID(resource_id).version == 5
    assert len({entry["fullUrl"] for entry in bundle["entry"]}) == len(bundle["entry"])


def test_ids_are_the_same_on_every_export(record):
    first = export(record["patient"])
    second = export(record["patient"])

    assert [entry["fullUrl"] for entry in first["entry"]] == [entry["fullUrl"] for entry in second["entry"]]
    assert first == second


def test_ids_and_urls_carry_no_patient_details(record):
    bundle = export(record["patient"])

    urls = " ".join(
        [entry["fullUrl"] for entry in bundle["entry"]] + [entry["resource"]["id"] for entry in bundle["entry"]]
    )
    # The birth date in full: a random UUID can hold the digits of a year by chance, never a whole ISO date.
    for detail in ("NS-004711", "Hale", "Margaret", "1968-03-02", "19680302"):
        assert detail not in urls


def test_base_url_gives_server_style_full_urls_that_still_resolve(record):
    bundle = export(record["patient"], base_url="https://tracker.example.test/fhir/")

    assert_valid_r4_bundle(bundle)
    patient = resources(bundle, "Patient")[0]
    assert full_url_of(bundle, patient) == f"https://tracker.example.test/fhir/Patient/{patient['id']}"
    assert set(references_in(bundle)) <= {entry["fullUrl"] for entry in bundle["entry"]}
    assert [entry["resource"]["id"] for entry in bundle["entry"]] == [
        entry["resource"]["id"] for entry in export(record["patient"])["entry"]
    ]


def test_no_null_or_empty_values_anywhere_for_a_sparse_record(clinic):
    patient = PatientFactory(clinic=clinic, phone="", email="")
    PresentationFactory(patient=patient, onset_on=None)

    bundle = export(patient)

    assert_valid_r4_bundle(bundle)
    text = json.dumps(bundle)
    assert "null" not in text
    assert '""' not in text
    assert "[]" not in text
    assert "{}" not in text
    assert "telecom" not in resources(bundle, "Patient")[0]
    assert "onsetDateTime" not in resources(bundle, "Condition")[0]


# --- Patient ---------------------------------------------------------------------------------


def test_patient_carries_mrn_with_a_clinic_system_name_gender_birth_date_and_telecom(record):
    bundle = export(record["patient"])

    (patient,) = resources(bundle, "Patient")
    (identifier,) = patient["identifier"]
    assert identifier["system"] == "urn:neuroma-tracker:clinic:northside:mrn"
    assert identifier["value"] == "NS-004711"
    assert patient["name"] == [{"use": "official", "family": "Hale", "given": ["Margaret"]}]
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1968-03-02"
    assert patient["telecom"] == [
        {"system": "phone", "value": "+44 20 7946 0958"},
        {"system": "email", "value": "m.hale@example.test"},
    ]
    assert patient["active"] is True


def test_archived_patient_is_exported_as_inactive(clinic):
    patient = PatientFactory(clinic=clinic, archived=True)

    bundle = export(patient)

    assert_valid_r4_bundle(bundle)
    assert resources(bundle, "Patient")[0]["active"] is False


# --- Condition -------------------------------------------------------------------------------


def test_condition_is_coded_in_snomed_icd10_and_icd10_cm_for_the_foot(record):
    bundle = export(record["patient"])

    right = condition_for(bundle, "right")["code"]["coding"]
    left = condition_for(bundle, "left")["code"]["coding"]
    assert [(c["system"], c["code"]) for c in right] == [
        (SNOMED, "30085007"),
        (ICD10, "G57.6"),
        (ICD10_CM, "G57.61"),
    ]
    assert right[0]["display"] == "Morton's metatarsalgia (disorder)"
    assert [(c["system"], c["code"]) for c in left] == [
        (SNOMED, "30085007"),
        (ICD10, "G57.6"),
        (ICD10_CM, "G57.62"),
    ]


def test_the_clinics_chosen_icd10_code_is_marked_user_selected(record):
    bundle = export(record["patient"])

    # right: the clinic chose ICD-10-CM G57.61; left: the default WHO G57.6
    assert [c["code"] for c in condition_for(bundle, "right")["code"]["coding"] if c.get("userSelected")] == ["G57.61"]
    assert [c["code"] for c in condition_for(bundle, "left")["code"]["coding"] if c.get("userSelected")] == ["G57.6"]


def test_a_chosen_code_outside_g57_6_is_kept_beside_the_domain_codes(clinic):
    patient = PatientFactory(clinic=clinic)
    PresentationFactory(patient=patient, foot=Foot.LEFT, icd10_code="G57.8")

    bundle = export(patient)

    codings = resources(bundle, "Condition")[0]["code"]["coding"]
    assert [(c["system"], c["code"], c.get("userSelected", False)) for c in codings] == [
        (SNOMED, "30085007", False),
        (ICD10, "G57.6", False),
        (ICD10_CM, "G57.62", False),
        (ICD10, "G57.8", True),
    ]


@pytest.mark.parametrize(("foot", "laterality"), [(Foot.RIGHT, "24028007"), (Foot.LEFT, "7771000")])
def test_body_site_is_the_foot_with_its_laterality(clinic, foot, laterality):
    patient = PatientFactory(clinic=clinic)
    PresentationFactory(patient=patient, foot=foot)

    (condition,) = resources(export(patient), "Condition")

    (site,) = condition["bodySite"]
    assert [(c["system"], c["code"]) for c in site["coding"]] == [(SNOMED, "56459004"), (SNOMED, laterality)]
    assert site["text"] == f"{foot.label} foot"


@pytest.mark.parametrize(
    ("status", "clinical_status"),
    [
        (PresentationStatus.ACTIVE, "active"),
        (PresentationStatus.RESOLVED, "resolved"),
        # referral and closing end the clinic's episode, not the neuroma
        (PresentationStatus.REFERRED, "active"),
        (PresentationStatus.CLOSED, "active"),
    ],
)
def test_presentation_status_maps_to_condition_clinical_status(clinic, status, clinical_status):
    patient = PatientFactory(clinic=clinic)
    PresentationFactory(patient=patient, status=status)

    bundle = export(patient)

    assert_valid_r4_bundle(bundle)
    (condition,) = resources(bundle, "Condition")
    assert condition["clinicalStatus"]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": clinical_status,
            "display": clinical_status.capitalize(),
        }
    ]
    assert condition["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert ("note" in condition) == (status in (PresentationStatus.REFERRED, PresentationStatus.CLOSED))


def test_condition_has_onset_subject_and_imaging_size_as_a_number(record):
    bundle = export(record["patient"])

    right = condition_for(bundle, "right")
    assert right["onsetDateTime"] == "2025-03-01"
    assert right["subject"]["reference"] == full_url_of(bundle, resources(bundle, "Patient")[0])
    (size_reference,) = right["evidence"][0]["detail"]
    size = next(entry["resource"] for entry in bundle["entry"] if entry["fullUrl"] == size_reference["reference"])
    assert size["valueQuantity"] == {"value": 6.5, "unit": "mm", "system": "http://unitsofmeasure.org", "code": "mm"}
    assert size["method"] == {"text": "Ultrasound"}
    assert "evidence" not in condition_for(bundle, "left")


# --- Encounter and Observations --------------------------------------------------------------


def test_each_visit_is_a_finished_ambulatory_encounter_for_its_condition(record):
    bundle = export(record["patient"])

    encounters = resources(bundle, "Encounter")
    assert len(encounters) == len(record["visits"])
    right_url = full_url_of(bundle, condition_for(bundle, "right"))
    first = encounters[0]
    assert first["status"] == "finished"
    assert first["class"] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "AMB",
        "display": "ambulatory",
    }
    assert first["period"] == {"start": "2025-04-07", "end": "2025-04-07"}
    assert first["reasonReference"] == [{"reference": right_url}]


def test_pain_scores_are_two_loinc_observations_per_visit_told_apart_by_a_second_coding(record):
    bundle = export(record["patient"])

    pain = [o for o in resources(bundle, "Observation") if o["code"].get("coding", [{}])[0].get("system") == LOINC]
    assert len(pain) == 2 * len(record["visits"])
    for observation in pain:
        loinc, context = observation["code"]["coding"]
        assert (loinc["code"], loinc["display"]) == (
            "72514-3",
            "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
        )
        assert context["code"] in {"pain-walking", "pain-rest"}
        assert observation["status"] == "final"
        assert observation["category"][0]["coding"][0]["code"] == "survey"
        assert type(observation["valueInteger"]) is int
        assert FHIR_DATE.fullmatch(observation["effectiveDateTime"])
    first_visit = resources(bundle, "Encounter")[0]
    first_url = full_url_of(bundle, first_visit)
    scores = {
        o["code"]["coding"][1]["code"]: o["valueInteger"] for o in pain if o["encounter"]["reference"] == first_url
    }
    assert scores == {"pain-walking": 7, "pain-rest": 2}


def test_a_pain_score_of_zero_is_exported_not_dropped(record):
    bundle = export(record["patient"])

    discharge = next(e for e in resources(bundle, "Encounter") if e["period"]["start"] == "2025-08-11")
    url = full_url_of(bundle, discharge)
    at_discharge = [o for o in resources(bundle, "Observation") if o.get("encounter", {}).get("reference") == url]
    assert [o["valueInteger"] for o in at_discharge] == [0, 0, 0, 0, 0]


def test_moxfq_domain_scores_are_text_coded_and_only_for_visits_that_recorded_them(record):
    bundle = export(record["patient"])

    moxfq = [o for o in resources(bundle, "Observation") if o["code"]["text"].startswith("MOxFQ")]
    assert len(moxfq) == 3 + 2 + 3
    for observation in moxfq:
        assert set(observation["code"]) == {"text"}
        assert 0 <= observation["valueInteger"] <= 100
    review_url = full_url_of(bundle, resources(bundle, "Encounter")[1])
    assert not [o for o in moxfq if o["encounter"]["reference"] == review_url]


# --- Procedures ------------------------------------------------------------------------------


def test_each_treatment_is_a_procedure_for_its_condition_with_period_and_outcome(record):
    bundle = export(record["patient"])

    right_url = full_url_of(bundle, condition_for(bundle, "right"))
    footwear = procedure_titled(bundle, "Footwear modification")
    assert footwear["status"] == "completed"
    assert footwear["performedPeriod"] == {"start": "2025-04-07", "end": "2025-05-19"}
    assert footwear["outcome"] == {"text": "No relief"}
    assert footwear["reasonReference"] == [{"reference": right_url}]
    orthosis = procedure_titled(bundle, "Orthosis")
    assert orthosis["outcome"] == {"text": "Partial relief"}
    assert orthosis["usedCode"] == [{"text": "Custom orthosis"}]
    assert "coding" not in orthosis["code"]


def test_a_footwear_trial_without_an_end_date_is_in_progress_but_a_one_session_procedure_is_completed(record):
    bundle = export(record["patient"])

    left_footwear = next(
        p
        for p in resources(bundle, "Procedure")
        if p["reasonReference"][0]["reference"].endswith(condition_for(bundle, "left")["id"])
    )
    assert left_footwear["status"] == "in-progress"
    assert left_footwear["performedPeriod"] == {"start": "2025-06-02"}
    assert left_footwear["outcome"] == {"text": "Complete relief"}
    neurectomy = procedure_titled(bundle, "Neurectomy")
    assert neurectomy["status"] == "completed"
    assert "outcome" not in neurectomy  # response still pending


def test_neurectomy_complications_are_coded_crps_in_snomed_and_others_as_text(record):
    bundle = export(record["patient"])

    neurectomy = procedure_titled(bundle, "Neurectomy")
    assert neurectomy["code"]["text"] == "Neurectomy, dorsal approach"
    assert neurectomy["complication"] == [
        {
            "coding": [{"system": SNOMED, "code": "128200000", "display": "Complex regional pain syndrome (disorder)"}],
            "text": "Complex regional pain syndrome",
        },
        {"text": "Persistent numbness"},
    ]
    assert neurectomy["note"] == [{"text": "Histology confirmed the neuroma."}]


def test_injection_dose_is_a_number_on_a_medication_administration_part_of_the_procedure(record):
    bundle = export(record["patient"])

    injection = procedure_titled(bundle, "Corticosteroid injection")
    assert injection["code"]["text"] == "Corticosteroid injection, ultrasound-guided"
    (administration,) = resources(bundle, "MedicationAdministration")
    assert administration["partOf"] == [{"reference": full_url_of(bundle, injection)}]
    assert administration["medicationCodeableConcept"] == {"text": "Methylprednisolone acetate"}
    assert administration["dosage"]["dose"] == {
        "value": 40.0,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert type(administration["dosage"]["dose"]["value"]) is float
    assert administration["effectiveDateTime"] == "2025-07-07"


# --- queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("visit_count", [1, 10])
def test_export_costs_the_same_queries_for_one_visit_or_ten(clinic, podiatrist, django_assert_num_queries, visit_count):
    patient = PatientFactory(clinic=clinic)
    for foot in (Foot.LEFT, Foot.RIGHT):
        presentation = PresentationFactory(patient=patient, foot=foot)
        for day in range(visit_count):
            VisitFactory(
                presentation=presentation,
                clinician=podiatrist,
                seen_on=presentation.first_seen_on + datetime.timedelta(days=7 * day),
                moxfq_pain=30,
            )
        treatment = TreatmentFactory(presentation=presentation, clinician=podiatrist)
        ComplicationFactory(treatment=treatment)

    with django_assert_num_queries(EXPORT_QUERIES):
        bundle = export(patient)

    assert len(resources(bundle, "Encounter")) == 2 * visit_count


def test_patient_bundle_itself_issues_no_queries(record, django_assert_num_queries):
    patient = patient_export_queryset().get(pk=record["patient"].pk)

    with django_assert_num_queries(0):
        patient_bundle(patient)


# --- the validator is real -------------------------------------------------------------------


def _first(bundle: dict, resource_type: str) -> dict:
    return resources(bundle, resource_type)[0]


def _pain(bundle: dict) -> dict:
    return next(o for o in resources(bundle, "Observation") if "valueInteger" in o)


def _drop_condition_subject(bundle):
    del _first(bundle, "Condition")["subject"]


def _wrong_gender(bundle):
    _first(bundle, "Patient")["gender"] = "woman"


def _pain_as_string(bundle):
    observation = _pain(bundle)
    observation["valueInteger"] = str(observation["valueInteger"])


def _pain_as_boolean(bundle):
    _pain(bundle)["valueInteger"] = True


def _pain_as_fraction(bundle):
    _pain(bundle)["valueInteger"] = 6.5


def _two_values(bundle):
    _pain(bundle)["valueString"] = "seven"


def _date_in_local_format(bundle):
    _first(bundle, "Patient")["birthDate"] = "02/03/1968"


def _unknown_element(bundle):
    _first(bundle, "Patient")["favouriteShoe"] = "stiletto"


def _r5_encounter_class(bundle):
    # R5 made Encounter.class a list of CodeableConcepts; R4 has a single Coding
    encounter = _first(bundle, "Encounter")
    encounter["class"] = [{"coding": [encounter["class"]]}]


def _r5_condition_participant(bundle):
    _first(bundle, "Condition")["participant"] = [{"actor": {"display": "Dr Example"}}]


def _null_value(bundle):
    _first(bundle, "Condition")["onsetDateTime"] = None


def _empty_string(bundle):
    _first(bundle, "Patient")["name"][0]["family"] = ""


def _empty_array(bundle):
    _first(bundle, "Procedure")["complication"] = []


def _status_not_in_value_set(bundle):
    _first(bundle, "Procedure")["status"] = "done"


def _clinical_status_referred(bundle):
    _first(bundle, "Condition")["clinicalStatus"]["coding"][0]["code"] = "referred"


def _dangling_reference(bundle):
    _first(bundle, "Encounter")["subject"]["reference"] = f"urn:uuid:{uuid.uuid4()}"


def _reference_to_wrong_type(bundle):
    _pain(bundle)["encounter"] = {"reference": bundle["entry"][0]["fullUrl"]}


def _full_url_not_the_id(bundle):
    bundle["entry"][1]["fullUrl"] = bundle["entry"][2]["fullUrl"]


def _decimal_not_json(bundle):
    _first(bundle, "MedicationAdministration")["dosage"]["dose"]["value"] = Decimal("40.0")


def _bundle_type_unknown(bundle):
    bundle["type"] = "export"


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (_drop_condition_subject, 'Non-optional property "subject"'),
        (_wrong_gender, "'woman' is not in the required value set"),
        (_pain_as_string, "Wrong type <class 'str'> for property \"valueInteger\""),
        (_pain_as_boolean, "valueInteger: expected a whole number, found true"),
        (_pain_as_fraction, "valueInteger: expected a whole number, found 6.5"),
        (_two_values, "value[x] given as"),
        (_date_in_local_format, "does not match expected format"),
        (_unknown_element, 'Superfluous entry "favouriteShoe"'),
        (_r5_encounter_class, 'Superfluous entry "coding"'),
        (_r5_condition_participant, 'Superfluous entry "participant"'),
        (_null_value, "onsetDateTime: null"),
        (_empty_string, "family: empty string"),
        (_empty_array, "complication: empty array"),
        (_status_not_in_value_set, "'done' is not in the required value set"),
        (_clinical_status_referred, "needs a coding from http://terminology.hl7.org/CodeSystem/condition-clinical"),
        (_dangling_reference, "is not the fullUrl of any entry"),
        (_reference_to_wrong_type, "points at a Patient; R4 allows Encounter"),
        (_full_url_not_the_id, "is used by an earlier entry"),
        (_decimal_not_json, "not JSON"),
        (_bundle_type_unknown, "'export' is not in the required value set"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else "",
)
def test_validator_rejects_a_broken_bundle(record, breakage, complaint):
    bundle = export(record["patient"])
    assert r4_bundle_problems(bundle) == []
    broken = copy.deepcopy(bundle)

    breakage(broken)

    problems = r4_bundle_problems(broken)
    assert any(complaint in problem for problem in problems), problems
    with pytest.raises(AssertionError, match="Not a valid FHIR R4 bundle"):
        assert_valid_r4_bundle(broken)


# --- follow-up answers: a QuestionnaireResponse each, score Observations derived from it -----------

MOXFQ_DOMAIN_SYSTEM = "urn:neuroma-tracker:code-system:moxfq-domain"


@pytest.fixture
def answered(record, podiatrist):
    """Two answered follow-ups of the neurectomy: 6 weeks with items (one pain item missing), 6 months by phone."""
    right, neurectomy = record["right"], record["treatments"]["neurectomy"]
    items = [4] * 7 + [2, 2, None, 2, 2] + [1, 1, 1, 1]
    week_6 = FollowUpAnswerFactory(
        follow_up=FollowUpFactory(
            presentation=right, treatment=neurectomy, time_point="week_6", due_on=datetime.date(2025, 10, 27),
            status="completed",
        ),
        channel="in_clinic_tablet", recorded_by=podiatrist, pain_walking=3, pain_rest=0, relief="partial",
        global_impression=2, moxfq_items=items, moxfq_walking_standing=Decimal("100.0"), moxfq_pain=None,
        moxfq_social=Decimal("25.0"),
        answered_at=datetime.datetime(2025, 10, 28, 9, 30, 12, 345678, tzinfo=datetime.UTC),
    )  # fmt: skip
    month_6 = FollowUpAnswerFactory(
        follow_up=FollowUpFactory(
            presentation=right, treatment=neurectomy, time_point="month_6", due_on=datetime.date(2026, 3, 15),
            status="completed",
        ),
        channel="phone", recorded_by=podiatrist, pain_walking=0, pain_rest=0, relief="complete",
        global_impression=1, moxfq_walking_standing=Decimal("12.5"), moxfq_pain=Decimal("5.0"),
        moxfq_social=Decimal("0.0"),
    )  # fmt: skip
    FollowUpFactory(presentation=record["left"], status="missed")  # unanswered: nothing exported
    return {**record, "week_6": week_6, "month_6": month_6}


def _responses(bundle: dict) -> list[dict]:
    return resources(bundle, "QuestionnaireResponse")


def _derived_from(bundle: dict, response: dict) -> list[dict]:
    url = full_url_of(bundle, response)
    return [o for o in resources(bundle, "Observation") if {"reference": url} in o.get("derivedFrom", [])]


def test_answered_follow_ups_export_as_a_valid_bundle_with_one_questionnaire_response_each(answered):
    bundle = export(answered["patient"])

    assert_valid_r4_bundle(bundle)
    responses = _responses(bundle)
    assert len(responses) == 2
    assert {r["status"] for r in responses} == {"completed"}
    assert {r["questionnaire"] for r in responses} == {"urn:neuroma-tracker:clinic:northside:questionnaire:follow-up"}
    patient_url = full_url_of(bundle, _first(bundle, "Patient"))
    assert all(r["subject"] == {"reference": patient_url} == r["source"] for r in responses)
    assert responses[0]["authored"] == "2025-10-28T09:30:12+00:00"


def test_questionnaire_response_answers_each_question_with_its_value(answered):
    response = _responses(export(answered["patient"]))[0]
    answers = {item["linkId"]: item.get("answer") for item in response["item"]}

    assert answers["pain-walking"] == [{"valueInteger": 3}]
    assert answers["pain-rest"] == [{"valueInteger": 0}]
    assert answers["relief"][0]["valueCoding"]["code"] == "partial"
    assert answers["global-impression"][0]["valueCoding"] == {
        "system": "urn:neuroma-tracker:code-system:patient-global-impression-of-change",
        "code": "2",
        "display": "Much improved",
    }
    moxfq = next(item for item in response["item"] if item["linkId"] == "moxfq")["item"]
    assert [item["linkId"] for item in moxfq] == [f"moxfq-{n}" for n in range(1, 17)]
    assert moxfq[9] == {"linkId": "moxfq-10"}  # the unanswered item: no answer, not a zero
    assert moxfq[0]["answer"] == [{"valueInteger": 4}]


def test_moxfq_items_travel_by_position_only_never_with_wording(answered):
    bundle = export(answered["patient"])
    moxfq = next(item for item in _responses(bundle)[0]["item"] if item["linkId"] == "moxfq")

    assert all(set(item) <= {"linkId", "answer"} for item in moxfq["item"])
    assert "text" not in moxfq


def test_each_scored_measure_is_one_survey_observation_derived_from_its_response(answered):
    bundle = export(answered["patient"])
    week_6, month_6 = _responses(bundle)

    week_6_scores = _derived_from(bundle, week_6)
    # Two pains and the two scored MOxFQ domains; the pain domain had a missing item and is unscored.
    assert len(week_6_scores) == 4
    assert len(_derived_from(bundle, month_6)) == 5
    for observation in week_6_scores:
        assert observation["category"][0]["coding"][0]["code"] == "survey"
        assert observation["status"] == "final"
        assert observation["effectiveDateTime"] == week_6["authored"]
    pains = [o for o in week_6_scores if o["code"]["coding"][0]["system"] == LOINC]
    assert {o["code"]["coding"][0]["code"] for o in pains} == {"72514-3"}
    assert sorted((o["code"]["coding"][1]["code"], o["valueInteger"]) for o in pains) == [
        ("pain-rest", 0),
        ("pain-walking", 3),
    ]
    domains = {
        o["code"]["coding"][0]["code"]: o["valueQuantity"]
        for o in week_6_scores
        if o["code"]["coding"][0]["system"] == MOXFQ_DOMAIN_SYSTEM
    }
    assert domains == {
        "walking-standing": {"value": 100.0, "unit": "score", "system": "http://unitsofmeasure.org", "code": "{score}"},
        "social-interaction": {
            "value": 25.0,
            "unit": "score",
            "system": "http://unitsofmeasure.org",
            "code": "{score}",
        },
    }


def test_follow_up_ids_are_stable_and_unanswered_follow_ups_are_not_exported(answered):
    first, second = export(answered["patient"]), export(answered["patient"])

    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert len(_responses(first)) == 2


def test_answers_cost_one_query_however_many(answered, django_assert_num_queries):
    with django_assert_num_queries(EXPORT_QUERIES):
        bundle = export(answered["patient"])

    assert len(_responses(bundle)) == 2


def _response_status_unknown(bundle):
    _responses(bundle)[0]["status"] = "done"


def _response_without_status(bundle):
    del _responses(bundle)[0]["status"]


def _score_derived_from_a_patient(bundle):
    observation = _derived_from(bundle, _responses(bundle)[0])[0]
    observation["derivedFrom"] = [{"reference": bundle["entry"][0]["fullUrl"]}]


def _score_derived_from_nothing(bundle):
    _derived_from(bundle, _responses(bundle)[0])[0]["derivedFrom"] = [{"reference": f"urn:uuid:{uuid.uuid4()}"}]


def _response_source_a_condition(bundle):
    _responses(bundle)[0]["source"] = {"reference": full_url_of(bundle, _first(bundle, "Condition"))}


def _answer_with_two_values(bundle):
    _responses(bundle)[0]["item"][0]["answer"][0]["valueString"] = "three"


def _answer_as_string(bundle):
    _responses(bundle)[0]["item"][0]["answer"][0]["valueInteger"] = "3"


def _item_without_link_id(bundle):
    del _responses(bundle)[0]["item"][0]["linkId"]


def _r5_response_questionnaire_reference(bundle):
    _responses(bundle)[0]["questionnaire"] = {"reference": "Questionnaire/follow-up"}


def _score_as_decimal_value(bundle):
    # R4 Observation has no valueDecimal: a fractional score is a Quantity
    observation = next(o for o in resources(bundle, "Observation") if "valueQuantity" in o and "derivedFrom" in o)
    observation["valueDecimal"] = observation.pop("valueQuantity")["value"]


@pytest.mark.parametrize(
    ("breakage", "complaint"),
    [
        (_response_status_unknown, "'done' is not in the required value set"),
        (_response_without_status, 'Non-optional property "status"'),
        (_score_derived_from_a_patient, "points at a Patient; R4 allows"),
        (_score_derived_from_nothing, "is not the fullUrl of any entry"),
        (_response_source_a_condition, "points at a Condition; R4 allows"),
        (_answer_with_two_values, "value[x] given as"),
        (_answer_as_string, "Wrong type <class 'str'> for property \"valueInteger\""),
        (_item_without_link_id, 'Non-optional property "linkId"'),
        (_r5_response_questionnaire_reference, "Wrong type"),
        (_score_as_decimal_value, 'Superfluous entry "valueDecimal"'),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else "",
)
def test_validator_rejects_a_broken_follow_up_answer(answered, breakage, complaint):
    bundle = export(answered["patient"])
    assert r4_bundle_problems(bundle) == []
    broken = copy.deepcopy(bundle)

    breakage(broken)

    problems = r4_bundle_problems(broken)
    assert any(complaint in problem for problem in problems), problems

"""Maps one patient's neuroma record to a FHIR R4 (4.0.1) collection Bundle, for export to other systems.

Pure mapping: no request, no response, no writes. Load the patient with ``patient_export_queryset()``
and ``patient_bundle()`` reads only what that queryset prefetched, so an export costs a fixed number
of queries however long the record is.

What goes where (codes and systems exactly as DOMAIN.md §5; nothing is coded that DOMAIN.md does not
give a code for, so those concepts travel as ``CodeableConcept.text``):

- Patient: the clinic's medical record number as an identifier whose system names the clinic
  (``urn:neuroma-tracker:clinic:<slug>:mrn``), name, gender, birth date, phone/email, ``active`` =
  not archived.
- Condition per presentation: SNOMED CT 30085007 + ICD-10 G57.6 + the ICD-10-CM code for the foot;
  the foot and its laterality as ``bodySite``; the imaging size as an Observation cited as evidence.
- Encounter per visit, with the presentation's Condition as its reason.
- Observation per pain score (two per visit) and per MOxFQ domain score recorded at the visit.
- Procedure per treatment, its response as ``outcome`` and its complications as ``complication``;
  a MedicationAdministration beside each injection that has a drug, dose or volume.
- QuestionnaireResponse per follow-up answer (docs/follow-ups.md), answering the clinic's follow-up
  questionnaire under a local canonical; MOxFQ items by position only, never their licensed wording
  (DOMAIN.md §6). Beside it one score Observation per measure (the two pains, each scored MOxFQ domain),
  ``derivedFrom`` the QuestionnaireResponse.

Free-text notes and ladder justifications stay in the tracker: they are clinic working notes, not
part of the coded record another system can act on. (The one exception is a complication of kind
'other', whose description *is* its meaning.)
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet

from cases.choices import (
    ICD10_CM_BY_FOOT,
    ICD10_MORTON,
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
from cases.followups.choices import GlobalImpression, MoxfqDomain
from cases.followups.models import FollowUp, FollowUpAnswer
from cases.followups.scoring import SCORE_FIELD
from cases.models import INJECTABLE_KINDS, Complication, Patient, Presentation, Treatment, Visit

FHIR_VERSION = "4.0.1"
FHIR_CONTENT_TYPE = "application/fhir+json"

# Every exported id is uuid5(this namespace, "<ResourceType>/<key>"). Fixed for good: changing it
# changes every id ever exported, and receiving systems match re-exports on these ids.
FHIR_ID_NAMESPACE = uuid.UUID("8cbe4287-2c09-4982-8bef-9ef55b00fddb")

SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
# The tracker's own code system: only for concepts no public terminology in DOMAIN.md codes.
PAIN_CONTEXT = "urn:neuroma-tracker:code-system:pain-context"
# MOxFQ has no LOINC code (DOMAIN.md §6): its domains carry these local codes (``MoxfqDomain``).
MOXFQ_DOMAIN_SYSTEM = "urn:neuroma-tracker:code-system:moxfq-domain"
RELIEF_SYSTEM = "urn:neuroma-tracker:code-system:relief"
GLOBAL_IMPRESSION_SYSTEM = "urn:neuroma-tracker:code-system:patient-global-impression-of-change"
SCORE_UNIT = {"unit": "score", "system": UCUM, "code": "{score}"}

MORTON_SNOMED = {"system": SNOMED, "code": "30085007", "display": "Morton's metatarsalgia (disorder)"}
FOOT_STRUCTURE = {"system": SNOMED, "code": "56459004", "display": "Foot structure (body structure)"}
LATERALITY = {
    Foot.LEFT: {"system": SNOMED, "code": "7771000", "display": "Left"},
    Foot.RIGHT: {"system": SNOMED, "code": "24028007", "display": "Right"},
}
CRPS_SNOMED = {"system": SNOMED, "code": "128200000", "display": "Complex regional pain syndrome (disorder)"}
PAIN_SEVERITY_LOINC = {
    "system": LOINC,
    "code": "72514-3",
    "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
}
ICD10_DISPLAY = {ICD10_MORTON: "Lesion of plantar nerve"}
ICD10_CM_DISPLAY = {
    "G57.60": "Lesion of plantar nerve, unspecified lower limb",
    ICD10_CM_BY_FOOT[Foot.RIGHT]: "Lesion of plantar nerve, right lower limb",
    ICD10_CM_BY_FOOT[Foot.LEFT]: "Lesion of plantar nerve, left lower limb",
    "G57.63": "Lesion of plantar nerve, bilateral lower limbs",
}

# clinicalStatus says whether the neuroma is still there, not where the clinic's episode of care
# stands. A referred case has moved to another service and a closed one stopped being followed
# without confirmed relief: in both the last thing the tracker knows is a symptomatic neuroma, so
# both stay 'active'; only 'resolved' asserts it has gone. The tracker status is kept as a note.
CLINICAL_STATUS = {
    PresentationStatus.ACTIVE: ("active", "Active"),
    PresentationStatus.REFERRED: ("active", "Active"),
    PresentationStatus.CLOSED: ("active", "Active"),
    PresentationStatus.RESOLVED: ("resolved", "Resolved"),
}
STATUS_NOTES = {
    PresentationStatus.REFERRED: "Case referred to another service; the neuroma was not resolved when referred.",
    PresentationStatus.CLOSED: "Case closed in the neuroma tracker without the neuroma being recorded as resolved.",
}

# Footwear changes and orthoses are worn for a trial and run until an end date is recorded. The
# other kinds are done in one session, so once recorded they are completed whether or not an end
# date (the end of the trial that followed) was filled in.
ONGOING_KINDS = frozenset({TreatmentKind.FOOTWEAR_MODIFICATION, TreatmentKind.ORTHOSIS})

OUTCOME_TEXT = {
    Response.COMPLETE: "Complete relief",
    Response.PARTIAL: "Partial relief",
    Response.NONE: "No relief",
}

MOXFQ_DOMAINS = (
    ("moxfq_walking_standing", "moxfq-walking-standing", "MOxFQ walking/standing domain score (0–100, 100 worst)"),
    ("moxfq_pain", "moxfq-pain", "MOxFQ pain domain score (0–100, 100 worst)"),
    ("moxfq_social", "moxfq-social", "MOxFQ social interaction domain score (0–100, 100 worst)"),
)


def questionnaire_canonical(clinic_slug: str) -> str:
    """The local canonical of a clinic's follow-up questionnaire (its questions are the clinic's own set)."""
    return f"urn:neuroma-tracker:clinic:{clinic_slug}:questionnaire:follow-up"


def answered_follow_ups_queryset() -> QuerySet[FollowUp]:
    """A presentation's answered follow-ups with their answers (and treatments), in due order."""
    return FollowUp.objects.filter(answer__isnull=False).select_related("answer", "treatment").order_by("due_on", "pk")


def patient_export_queryset() -> QuerySet[Patient]:
    """Patients with everything an export reads, in six queries whatever the record's length.

    Chronological order throughout, so a bundle lists its entries the way the case unfolded.
    Scope it to the user's clinics (``cases.selectors.scope``) before fetching.
    """
    return Patient.objects.select_related("clinic").prefetch_related(
        Prefetch("presentations", queryset=Presentation.objects.order_by("first_seen_on", "pk")),
        Prefetch("presentations__visits", queryset=Visit.objects.order_by("seen_on", "pk")),
        Prefetch("presentations__treatments", queryset=Treatment.objects.order_by("started_on", "pk")),
        Prefetch(
            "presentations__treatments__complications",
            queryset=Complication.objects.order_by("occurred_on", "pk"),
        ),
        Prefetch("presentations__follow_ups", queryset=answered_follow_ups_queryset(), to_attr="answered_follow_ups"),
    )


def fhir_id(resource_type: str, key: object) -> str:
    """The stable id of a resource: the same on every export, and free of any patient detail."""
    return str(uuid.uuid5(FHIR_ID_NAMESPACE, f"{resource_type}/{key}"))


def patient_bundle(patient: Patient, *, base_url: str = "") -> dict[str, Any]:
    """The patient's whole neuroma record as a FHIR R4 Bundle of type 'collection'.

    Every entry's ``fullUrl`` is ``urn:uuid:<id>``, and every reference in the bundle is exactly one
    of those fullUrls, so references resolve inside the bundle. Given ``base_url`` (a FHIR server
    base such as ``https://host/fhir``), fullUrls and references are ``<base_url>/<Type>/<id>``
    instead, the form R4 gives resources that live on a server. Ids do not change either way.

    Issues no queries for a patient loaded through ``patient_export_queryset()``.
    """
    collection = _Collection(base_url=base_url.rstrip("/"))
    patient_url = collection.add("Patient", patient.pk, _patient(patient))
    questionnaire = questionnaire_canonical(patient.clinic.slug)
    for presentation in patient.presentations.all():
        _add_presentation(collection, presentation, patient_url)
        answered = getattr(presentation, "answered_follow_ups", None)
        if answered is None:  # not loaded through patient_export_queryset()
            answered = answered_follow_ups_queryset().filter(presentation=presentation)
        for follow_up in answered:
            _add_follow_up_answer(collection, follow_up, patient_url, questionnaire)
    return {"resourceType": "Bundle", "type": "collection", "entry": collection.entries}


@dataclass
class _Collection:
    base_url: str
    entries: list[dict[str, Any]] = field(default_factory=list)

    def url(self, resource_type: str, key: object) -> str:
        resource_id = fhir_id(resource_type, key)
        if self.base_url:
            return f"{self.base_url}/{resource_type}/{resource_id}"
        return f"urn:uuid:{resource_id}"

    def add(self, resource_type: str, key: object, body: dict[str, Any]) -> str:
        """Append a resource under its deterministic id and return the fullUrl to reference it by."""
        full_url = self.url(resource_type, key)
        resource = {"resourceType": resource_type, "id": fhir_id(resource_type, key), **body}
        self.entries.append({"fullUrl": full_url, "resource": _without_empty(resource)})
        return full_url


def _without_empty(value: Any) -> Any:
    """Drop None, empty strings, lists and objects at every depth: FHIR JSON forbids them.

    Zero and false are values and stay (a pain score of 0, ``active: false``).
    """
    if isinstance(value, dict):
        kept = {key: _without_empty(inner) for key, inner in value.items()}
        return {key: inner for key, inner in kept.items() if not _is_empty(inner)}
    if isinstance(value, list):
        kept = [_without_empty(inner) for inner in value]
        return [inner for inner in kept if not _is_empty(inner)]
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _reference(url: str) -> dict[str, str]:
    return {"reference": url}


def _date(value: datetime.date | None) -> str | None:
    return value.isoformat() if value else None


def _number(value: Decimal | None) -> float | None:
    # JSON numbers, never strings: FHIR decimals are numbers in JSON.
    return float(value) if value is not None else None


def _ordinal(number: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(number, f"{number}th")


def _patient(patient: Patient) -> dict[str, Any]:
    return {
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "MR", "display": "Medical record number"}]},
                "system": f"urn:neuroma-tracker:clinic:{patient.clinic.slug}:mrn",
                "value": patient.mrn,
                "assigner": {"display": patient.clinic.name},
            }
        ],
        "active": not patient.archived,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "telecom": [
            {"system": "phone", "value": patient.phone} if patient.phone else None,
            {"system": "email", "value": patient.email} if patient.email else None,
        ],
        "gender": patient.sex,
        "birthDate": _date(patient.birth_date),
    }


def _foot_site(foot: str) -> dict[str, Any]:
    """The foot with its laterality, as a second SNOMED CT coding.

    R4 has no laterality element on Condition or Procedure. The single SNOMED concepts for a left or
    right foot, and the post-coordinated laterality expression, both need codes DOMAIN.md does not
    give, so the laterality qualifier it does give travels as a second coding; ``text`` states the
    combination for a human reader.
    """
    return {"coding": [FOOT_STRUCTURE, LATERALITY[foot]], "text": f"{Foot(foot).label} foot"}


def _diagnosis_codings(presentation: Presentation) -> list[dict[str, Any]]:
    """SNOMED CT, ICD-10 G57.6 and the ICD-10-CM code for the foot, marking the clinic's chosen code.

    The presentation's ``icd10_code`` is what the clinic chose: WHO G57.6 by default, or an ICD-10-CM
    G57.6x code carrying laterality, which then replaces the one derived from the foot. Any other
    code the clinic chose is added too: as WHO ICD-10 when it has at most one character after the
    point (the usual WHO depth), as ICD-10-CM when it is longer.
    """
    chosen = presentation.icd10_code
    clinic_cm_code = chosen.startswith(ICD10_MORTON) and len(chosen) > len(ICD10_MORTON)
    cm_code = chosen if clinic_cm_code else ICD10_CM_BY_FOOT[presentation.foot]
    codings = [
        dict(MORTON_SNOMED),
        {"system": ICD10, "code": ICD10_MORTON, "display": ICD10_DISPLAY[ICD10_MORTON]},
        {"system": ICD10_CM, "code": cm_code, "display": ICD10_CM_DISPLAY.get(cm_code)},
    ]
    if chosen not in (ICD10_MORTON, cm_code):
        system = ICD10 if len(chosen.partition(".")[2]) <= 1 else ICD10_CM
        codings.append({"system": system, "code": chosen})
    for coding in codings:
        if coding["code"] == chosen and coding["system"] != SNOMED:
            coding["userSelected"] = True
    return codings


def _add_presentation(collection: _Collection, presentation: Presentation, patient_url: str) -> None:
    size_key = f"presentation-{presentation.pk}-size"
    size_url = collection.url("Observation", size_key) if presentation.size_mm is not None else None
    status_code, status_display = CLINICAL_STATUS[presentation.status]
    condition_url = collection.add(
        "Condition",
        presentation.pk,
        {
            "clinicalStatus": {
                "coding": [{"system": CONDITION_CLINICAL, "code": status_code, "display": status_display}]
            },
            "verificationStatus": {
                "coding": [{"system": CONDITION_VERIFICATION, "code": "confirmed", "display": "Confirmed"}]
            },
            "code": {
                "coding": _diagnosis_codings(presentation),
                "text": f"Intermetatarsal (Morton's) neuroma, {presentation.get_foot_display().lower()} foot, "
                f"{_ordinal(presentation.interspace)} intermetatarsal space",
            },
            "bodySite": [_foot_site(presentation.foot)],
            "subject": _reference(patient_url),
            "onsetDateTime": _date(presentation.onset_on),
            "evidence": [{"detail": [_reference(size_url)]}] if size_url else None,
            "note": [{"text": STATUS_NOTES[presentation.status]}] if presentation.status in STATUS_NOTES else None,
        },
    )
    if size_url:
        collection.add("Observation", size_key, _size(presentation, patient_url))
    for visit in presentation.visits.all():
        _add_visit(collection, visit, patient_url, condition_url)
    for treatment in presentation.treatments.all():
        _add_treatment(collection, treatment, presentation, patient_url, condition_url)


def _size(presentation: Presentation, patient_url: str) -> dict[str, Any]:
    # No effective date: the tracker does not record when the imaging was done.
    return {
        "status": "final",
        "category": [_category("imaging", "Imaging")],
        "code": {"text": "Neuroma transverse size on imaging"},
        "subject": _reference(patient_url),
        "bodySite": _foot_site(presentation.foot),
        "method": {"text": Imaging(presentation.imaging).label},
        "valueQuantity": {"value": _number(presentation.size_mm), "unit": "mm", "system": UCUM, "code": "mm"},
    }


def _category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}


def _add_visit(collection: _Collection, visit: Visit, patient_url: str, condition_url: str) -> None:
    seen_on = _date(visit.seen_on)
    encounter_url = collection.add(
        "Encounter",
        visit.pk,
        {
            "status": "finished",
            "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
            "subject": _reference(patient_url),
            "period": {"start": seen_on, "end": seen_on},
            "reasonReference": [_reference(condition_url)],
        },
    )
    for measure in _visit_measures(visit):
        collection.add(
            "Observation",
            f"visit-{visit.pk}-{measure.slug}",
            {
                "status": "final",
                "category": [_category("survey", "Survey")],
                "code": measure.code,
                "subject": _reference(patient_url),
                "encounter": _reference(encounter_url),
                "effectiveDateTime": seen_on,
                "valueInteger": measure.score,
            },
        )


@dataclass(frozen=True)
class _Measure:
    slug: str
    code: dict[str, Any]
    score: int


def _visit_measures(visit: Visit) -> Iterator[_Measure]:
    """The visit's pain scores (always two) and the MOxFQ domain scores it recorded.

    Both pain scores carry LOINC 72514-3, the 0–10 rating itself. What tells walking from rest
    apart is a second coding in the tracker's own code system: a narrower concept ("pain severity
    while walking") sitting beside the LOINC code in the same CodeableConcept, which R4 allows for
    codings at different granularity. That keeps one Observation per score, each a plain
    ``valueInteger`` a receiving system can chart, rather than folding both into components of one.

    MOxFQ domain scores have no public LOINC code, so their code is text only (DOMAIN.md §6: scores
    only, never the questionnaire's item wording).
    """
    for slug, label, score in (
        ("pain-walking", "Pain severity while walking (NRS 0–10)", visit.pain_walking),
        ("pain-rest", "Pain severity at rest (NRS 0–10)", visit.pain_rest),
    ):
        code = {"coding": [PAIN_SEVERITY_LOINC, {"system": PAIN_CONTEXT, "code": slug, "display": label}]}
        yield _Measure(slug, {**code, "text": label}, score)
    for field_name, slug, label in MOXFQ_DOMAINS:
        score = getattr(visit, field_name)
        if score is not None:
            yield _Measure(slug, {"text": label}, score)


def _add_treatment(
    collection: _Collection, treatment: Treatment, presentation: Presentation, patient_url: str, condition_url: str
) -> None:
    procedure_url = collection.add(
        "Procedure",
        treatment.pk,
        {
            "status": "in-progress" if treatment.kind in ONGOING_KINDS and not treatment.ended_on else "completed",
            "code": {"text": _procedure_text(treatment)},
            "subject": _reference(patient_url),
            "performedPeriod": {"start": _date(treatment.started_on), "end": _date(treatment.ended_on)},
            "reasonReference": [_reference(condition_url)],
            "bodySite": [_foot_site(presentation.foot)],
            "outcome": {"text": OUTCOME_TEXT[treatment.response]} if treatment.response in OUTCOME_TEXT else None,
            "complication": [_complication(complication) for complication in treatment.complications.all()],
            "note": [{"text": _histology_text(treatment.histology_confirmed)}],
            "usedCode": [{"text": OrthosisType(treatment.orthosis_type).label}] if treatment.orthosis_type else None,
        },
    )
    if treatment.kind in INJECTABLE_KINDS and (
        treatment.injection_drug or treatment.dose_mg is not None or treatment.volume_ml is not None
    ):
        collection.add(
            "MedicationAdministration",
            treatment.pk,
            _medication_administration(treatment, patient_url, procedure_url, condition_url),
        )


def _procedure_text(treatment: Treatment) -> str:
    parts = [treatment.get_kind_display()]
    if treatment.approach:
        parts.append(f"{NeurectomyApproach(treatment.approach).label.lower()} approach")
    if treatment.ultrasound_guided is not None:
        parts.append("ultrasound-guided" if treatment.ultrasound_guided else "without ultrasound guidance")
    return ", ".join(parts)


def _histology_text(histology_confirmed: bool | None) -> str | None:
    if histology_confirmed is None:
        return None
    return "Histology confirmed the neuroma." if histology_confirmed else "Histology did not confirm a neuroma."


def _complication(complication: Complication) -> dict[str, Any]:
    """CRPS with its SNOMED CT code (DOMAIN.md §5); the others have no code there, so text only."""
    if complication.kind == ComplicationKind.CRPS:
        return {"coding": [CRPS_SNOMED], "text": ComplicationKind.CRPS.label}
    if complication.kind == ComplicationKind.OTHER:
        return {"text": complication.notes.strip() or ComplicationKind.OTHER.label}
    return {"text": complication.get_kind_display()}


def _medication_administration(
    treatment: Treatment, patient_url: str, procedure_url: str, condition_url: str
) -> dict[str, Any]:
    """The injected drug and dose: R4's Procedure has nowhere to put a dose, MedicationAdministration does."""
    if treatment.kind == TreatmentKind.ALCOHOL_INJECTION:
        medication = "Alcohol (sclerosing injection)"
    elif treatment.injection_drug and treatment.injection_drug != InjectionDrug.OTHER:
        medication = InjectionDrug(treatment.injection_drug).label
    else:
        medication = "Corticosteroid"
    dose = None
    if treatment.dose_mg is not None:
        dose = {"value": _number(treatment.dose_mg), "unit": "mg", "system": UCUM, "code": "mg"}
    volume = f"Injected volume {treatment.volume_ml} ml" if treatment.volume_ml is not None else None
    return {
        "status": "completed",
        "medicationCodeableConcept": {"text": medication},
        "subject": _reference(patient_url),
        "partOf": [_reference(procedure_url)],
        "effectiveDateTime": _date(treatment.started_on),
        "reasonReference": [_reference(condition_url)],
        "dosage": {"text": volume, "dose": dose},
    }


# --- follow-up answers ---------------------------------------------------------------------------


def _add_follow_up_answer(collection: _Collection, follow_up: FollowUp, patient_url: str, questionnaire: str) -> None:
    answer: FollowUpAnswer = follow_up.answer
    authored = answer.answered_at.isoformat(timespec="seconds")
    response_url = collection.add(
        "QuestionnaireResponse",
        answer.pk,
        {
            "questionnaire": questionnaire,
            "status": "completed",
            "subject": _reference(patient_url),
            "authored": authored,
            # The patient answered, whether on the page, on a tablet in clinic or over the phone.
            "source": _reference(patient_url),
            "item": _answer_items(answer),
        },
    )
    context = _follow_up_context(follow_up)
    for measure in _answer_measures(answer):
        collection.add(
            "Observation",
            f"follow-up-answer-{answer.pk}-{measure.slug}",
            {
                "status": "final",
                "category": [_category("survey", "Survey")],
                "code": measure.code,
                "subject": _reference(patient_url),
                "effectiveDateTime": authored,
                **measure.value,
                "derivedFrom": [_reference(response_url)],
                "note": [{"text": context}],
            },
        )


def _follow_up_context(follow_up: FollowUp) -> str:
    when = follow_up.get_time_point_display()
    if follow_up.treatment is None:
        return f"Follow-up answer: {when.lower()}."
    return f"Follow-up answer: {when} after {follow_up.treatment.get_kind_display().lower()}."


def _answer_items(answer: FollowUpAnswer) -> list[dict[str, Any]]:
    """The questions answered, by the tracker's own link ids; MOxFQ items by position only (licence)."""
    items: list[dict[str, Any]] = [
        {
            "linkId": "pain-walking",
            "text": "Pain while walking (NRS 0–10)",
            "answer": [{"valueInteger": answer.pain_walking}],
        },
        {"linkId": "pain-rest", "text": "Pain at rest (NRS 0–10)", "answer": [{"valueInteger": answer.pain_rest}]},
        {
            "linkId": "relief",
            "text": "Relief since the treatment",
            "answer": [
                {
                    "valueCoding": {
                        "system": RELIEF_SYSTEM,
                        "code": answer.relief,
                        "display": answer.get_relief_display(),
                    }
                }
            ],
        },
        {
            "linkId": "global-impression",
            "text": "Patient Global Impression of Change",
            "answer": [
                {
                    "valueCoding": {
                        "system": GLOBAL_IMPRESSION_SYSTEM,
                        "code": str(answer.global_impression),
                        "display": GlobalImpression(answer.global_impression).label,
                    }
                }
            ],
        },
    ]
    if answer.moxfq_items:
        items.append(
            {
                "linkId": "moxfq",
                "item": [
                    {
                        "linkId": f"moxfq-{position}",
                        "answer": [{"valueInteger": value}] if value is not None else None,
                    }
                    for position, value in enumerate(answer.moxfq_items, start=1)
                ],
            }
        )
    return items


@dataclass(frozen=True)
class _Score:
    slug: str
    code: dict[str, Any]
    value: dict[str, Any]


def _answer_measures(answer: FollowUpAnswer) -> Iterator[_Score]:
    """The two pain scores (LOINC 72514-3, told apart as at a visit) and each scored MOxFQ domain."""
    for slug, label, score in (
        ("pain-walking", "Pain severity while walking (NRS 0–10)", answer.pain_walking),
        ("pain-rest", "Pain severity at rest (NRS 0–10)", answer.pain_rest),
    ):
        code = {"coding": [PAIN_SEVERITY_LOINC, {"system": PAIN_CONTEXT, "code": slug, "display": label}]}
        yield _Score(slug, {**code, "text": label}, {"valueInteger": score})
    for domain in MoxfqDomain:
        score = getattr(answer, SCORE_FIELD[domain])
        if score is None:  # a domain with a missing item is unscored, and not exported
            continue
        label = f"MOxFQ {domain.label.lower()} domain score (0–100, 100 worst)"
        code = {
            "coding": [{"system": MOXFQ_DOMAIN_SYSTEM, "code": domain.value, "display": domain.label}],
            "text": label,
        }
        yield _Score(f"moxfq-{domain.value}", code, {"valueQuantity": {"value": _number(score), **SCORE_UNIT}})

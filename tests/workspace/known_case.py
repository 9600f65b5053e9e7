"""One known case, built the same way for the workspace's server-side and browser tests.

Joan Ashworth's right third interspace: footwear (partial relief), an orthosis (partial relief), then a
corticosteroid injection whose 4-week trial ended on 27 Apr 2026 with no response recorded; a skin
depigmentation after the injection. Four visits: walking pain 7 → 6 → 4 → 3, MOxFQ at the first and third.
On TODAY (1 Jun 2026) the case is stalled, not lost to follow-up (last seen 11 May).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cases.choices import InjectionDrug, OrthosisType, Relief, Response, TreatmentKind
from cases.models import Presentation, Treatment, Visit
from tests.factories import ComplicationFactory, PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

D = datetime.date
TODAY = D(2026, 6, 1)

# What the chart must draw for this case: one point per recorded value, one band per treatment.
CHART_POINTS = {
    "pain_walking": 4,
    "pain_rest": 4,
    "moxfq_walking_standing": 2,
    "moxfq_pain": 2,
    "moxfq_social": 2,
}
TREATMENT_BANDS = 3
INJECTION_MARKERS = 1


@dataclass
class KnownCase:
    presentation: Presentation
    visits: list[Visit]
    footwear: Treatment
    orthosis: Treatment
    injection: Treatment


def known_case(clinic, clinician) -> KnownCase:
    patient = PatientFactory(
        clinic=clinic, mrn="NS-000042", given_name="Joan", family_name="Ashworth", birth_date=D(1970, 5, 17)
    )
    presentation = PresentationFactory(patient=patient, first_seen_on=D(2026, 1, 5))
    footwear = TreatmentFactory(
        presentation=presentation,
        clinician=clinician,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        started_on=D(2026, 1, 5),
        response=Response.PARTIAL,
        response_assessed_on=D(2026, 2, 16),
    )
    orthosis = TreatmentFactory(
        presentation=presentation,
        clinician=clinician,
        kind=TreatmentKind.ORTHOSIS,
        orthosis_type=OrthosisType.METATARSAL_PAD,
        started_on=D(2026, 2, 16),
        response=Response.PARTIAL,
        response_assessed_on=D(2026, 3, 30),
    )
    injection = TreatmentFactory(
        presentation=presentation,
        clinician=clinician,
        kind=TreatmentKind.CORTICOSTEROID_INJECTION,
        injection_drug=InjectionDrug.METHYLPREDNISOLONE_ACETATE,
        dose_mg=40,
        volume_ml=1,
        started_on=D(2026, 3, 30),
    )
    ComplicationFactory(treatment=injection, kind="skin_depigmentation", occurred_on=D(2026, 4, 13))
    visits = [
        VisitFactory(
            presentation=presentation,
            clinician=clinician,
            seen_on=D(2026, 1, 5),
            pain_walking=7,
            pain_rest=2,
            moxfq_walking_standing=60,
            moxfq_pain=55,
            moxfq_social=40,
        ),
        VisitFactory(
            presentation=presentation,
            clinician=clinician,
            seen_on=D(2026, 2, 16),
            pain_walking=6,
            pain_rest=1,
            relief_since_previous=Relief.PARTIAL,
        ),
        VisitFactory(
            presentation=presentation,
            clinician=clinician,
            seen_on=D(2026, 3, 30),
            pain_walking=4,
            pain_rest=0,
            moxfq_walking_standing=45,
            moxfq_pain=40,
            moxfq_social=30,
            relief_since_previous=Relief.PARTIAL,
        ),
        VisitFactory(
            presentation=presentation,
            clinician=clinician,
            seen_on=D(2026, 5, 11),
            pain_walking=3,
            pain_rest=0,
            relief_since_previous=Relief.PARTIAL,
        ),
    ]
    return KnownCase(presentation, visits, footwear, orthosis, injection)


def footwear_case(clinic, clinician, *, started_on, response=Response.PENDING, assessed_on=None, seen_on=None):
    """A case on footwear modification alone, seen once (on its start unless ``seen_on``): for worklists."""
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic), onset_on=None, first_seen_on=started_on)
    TreatmentFactory(
        presentation=presentation,
        clinician=clinician,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        started_on=started_on,
        response=response,
        response_assessed_on=assessed_on,
    )
    VisitFactory(presentation=presentation, clinician=clinician, seen_on=seen_on or started_on, pain_walking=5)
    return presentation

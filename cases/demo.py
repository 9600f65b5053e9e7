"""Deterministic demo data: clinics, their staff, and patients whose histories walk the treatment ladder.

Each patient is planned from its own ``random.Random`` seeded with the run's seed and the patient's
number, so a plan does not depend on which other patients already exist: a re-run skips the ones
that are there and creates exactly the ones that are not. Planning is pure (no database); writing
goes through ``cases.services``, so the ranges, cross-field rules and ladder rules refuse any plan
that breaks them, and each patient is written in one transaction.

The shares and response rates come from DOMAIN.md §7 (and §1 for the sites); each names its
figure. Where DOMAIN.md gives no figure the value is a demo mix, marked as such: it shapes the demo
(what the progression review has to show), it is not evidence and reports must not quote it.
"""

from __future__ import annotations

import datetime
import random
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from . import ladder, services
from .choices import (
    AggravatingFactor,
    ComplicationKind,
    ExamSign,
    Foot,
    Imaging,
    InjectionDrug,
    NeurectomyApproach,
    OrthosisType,
    PresentationStatus,
    Relief,
    RelievingFactor,
    Response,
    RiskFactor,
    Role,
    Sex,
    Symptom,
    TreatmentKind,
)
from .followups import links as follow_up_links
from .followups.choices import AnswerChannel, FollowUpStatus, GlobalImpression, TimePoint
from .followups.models import FollowUp
from .models import Clinic, Membership, Patient, Presentation, Treatment

# Chosen (by planning seeds in turn) so the default 60-patient demo fills every progression-review
# list and shows a few complications; the rates themselves are unchanged. Every planned date is an
# offset from the reference day, so the choice holds whatever day the demo is seeded on.
DEFAULT_SEED = 361
DEFAULT_PATIENTS = 60
DEFAULT_CLINICS = 2
MAX_PATIENTS = 100_000
MAX_CLINICS = 50
EARLIEST_TODAY = datetime.date(2000, 1, 1)
DEMO_ADMIN_USERNAME = "demo-admin"
# The demo logins, one per role, all in the first demo clinic, so that each role can be tried: who they are,
# and what the command says each one is for. Their passwords exist only in the summary of the run that
# creates them.
DEMO_LOGINS = (
    (DEMO_ADMIN_USERNAME, Role.CLINIC_ADMIN, "Admin", "a clinic admin"),
    ("demo-podiatrist", Role.PODIATRIST, "Podiatrist", "a podiatrist"),
    ("demo-reviewer", Role.REVIEWER, "Reviewer", "a reviewer (read-only)"),
)
DEMO_LOGIN_USERNAMES = tuple(username for username, *_ in DEMO_LOGINS)
MRN_PREFIX = "DEMO-"

# --- Patients (DOMAIN.md §7 epidemiology, §1 sites) -------------------------------------------
# §7: female:male quoted as 4:1 to ~10:1; 84 % women is about 5:1.
FEMALE_SHARE = 0.84
# §7: typical age 40–60, trial means 53–58.
AGE_MEAN_YEARS, AGE_SD_YEARS, AGE_RANGE_YEARS = 55.0, 9.0, (25, 85)
# §7: 85–90 % in the 3rd space, most of the rest in the 2nd; §1: rarely in the 1st or 4th.
INTERSPACE_WEIGHTS = {3: 87, 2: 11, 1: 1, 4: 1}
# §7: mean transverse size on imaging ~5 mm (4.9–5.4 mm).
SIZE_MEAN_MM, SIZE_SD_MM, SIZE_RANGE_MM = 5.15, 1.3, (2.0, 12.0)
# §7 (Mahadevan 2015): sensitivity of web-space squeeze ~96 % (recorded as web-space tenderness),
# Mulder's click ~61 %, lateral squeeze ~41 %. The mass and splaying shares are a demo mix.
EXAM_SIGN_SHARE = {
    ExamSign.WEB_SPACE_TENDERNESS: 0.96,
    ExamSign.MULDER_CLICK: 0.61,
    ExamSign.LATERAL_SQUEEZE: 0.41,
    ExamSign.PALPABLE_MASS: 0.25,
    ExamSign.TOE_SPLAYING: 0.15,
}
# Demo mix: §1 names the symptoms and factors but gives no frequencies.
SYMPTOM_SHARE = {
    Symptom.BURNING: 0.6,
    Symptom.SHOOTING: 0.35,
    Symptom.STABBING: 0.3,
    Symptom.RADIATING: 0.4,
    Symptom.NUMBNESS: 0.45,
    Symptom.TINGLING: 0.35,
    Symptom.STONE_SENSATION: 0.5,
}
AGGRAVATING_SHARE = {
    AggravatingFactor.FOOTWEAR: 0.8,
    AggravatingFactor.WALKING: 0.7,
    AggravatingFactor.STANDING: 0.35,
    AggravatingFactor.SPORT: 0.15,
}
RELIEVING_SHARE = {RelievingFactor.SHOE_REMOVAL: 0.7, RelievingFactor.MASSAGE: 0.45, RelievingFactor.REST: 0.5}
# Demo mix; §1 lists high heels and female sex together as risk factors, hence the split by sex.
RISK_FACTOR_SHARE = {
    RiskFactor.HIGH_HEELS_OR_NARROW_SHOES: {Sex.FEMALE: 0.55, Sex.MALE: 0.15},
    RiskFactor.TRAUMA: {Sex.FEMALE: 0.07, Sex.MALE: 0.1},
    RiskFactor.INFLAMMATORY_ARTHRITIS: {Sex.FEMALE: 0.05, Sex.MALE: 0.04},
    RiskFactor.REPETITIVE_STRESS: {Sex.FEMALE: 0.15, Sex.MALE: 0.3},
}
# Demo mix: how many presentations are imaged, bilateral, or have rest pain at the first visit.
IMAGING_SHARE = {Imaging.ULTRASOUND: 0.35, Imaging.MRI: 0.1}
BILATERAL_SHARE = 0.1
PAIN_AT_REST_SHARE = 0.15
FIRST_SEEN_WITHIN_DAYS = 730

# --- Treatment responses (DOMAIN.md §7): (complete, partial, none) ----------------------------
# Saygi 2005, footwear change with orthoses: complete or partial relief 63 %, complete satisfaction
# 28.6 %. DOMAIN.md has no figure for footwear alone, so that arm stands for both conservative rungs.
CONSERVATIVE_RESPONSE = (0.286, 0.344, 0.37)
# Kilmartin & Wallace 1994: orthoses reduced pain by ~45–50 %; used for any partial relief.
PARTIAL_PAIN_REDUCTION = (0.40, 0.55)
# Rasmussen 1996: initial relief ~80 %, so 20 % no relief. Mahadevan 2016: failure within 12 months
# 48 % ultrasound-guided vs 55 % landmark; relief that fails within the year is recorded as partial.
INJECTION_NO_RELIEF = 0.20
INJECTION_FAILURE_12_MONTHS = {True: 0.48, False: 0.55}
# Alcohol: ~94 % improved short-term, 29 % symptom-free at 5 years.
ALCOHOL_RESPONSE = (0.29, 0.65, 0.06)
# Radiofrequency ablation meta-analysis 2025: complete 47.6 %, none 16.4 %; complications 2.1 %.
RFA_RESPONSE = (0.476, 0.36, 0.164)
RFA_COMPLICATION_SHARE = 0.021
# Cryoneurolysis series 2024: complete 60.4 %, partial 28.3 %, none 11.3 %.
CRYO_RESPONSE = (0.604, 0.283, 0.113)
# Coughlin & Pinsonneault 2001: 65 % pain-free, 85 % excellent/good, 51 % some numbness (rarely
# bothersome: the demo records the complication for a fifth of them, a demo choice).
NEURECTOMY_RESPONSE = (0.65, 0.20, 0.15)
NEURECTOMY_NUMBNESS_SHARE = 0.51
BOTHERSOME_NUMBNESS_SHARE = 0.2
# §7: skin depigmentation the most common injection complication, ~2.6 %.
DEPIGMENTATION_SHARE = 0.026
# §7: commonly methylprednisolone 40 mg or triamcinolone 40 mg with 1–2 ml local anaesthetic.
INJECTION_DRUGS = (InjectionDrug.METHYLPREDNISOLONE_ACETATE, InjectionDrug.TRIAMCINOLONE_ACETONIDE)
INJECTION_DOSE_MG = Decimal("40")
INJECTION_VOLUMES_ML = (Decimal("1.0"), Decimal("1.5"), Decimal("2.0"))

# --- The walk (demo mix: what the clinic does next; it shapes the progression review) ---------
REPEAT_INJECTION_SHARE = 0.5
ALTERNATIVE_SHARE = 0.25
REFERRAL_SHARE = 0.1
CONTENT_WITH_PARTIAL_SHARE = 0.1
LOST_TO_FOLLOW_UP_SHARE = 0.05
CONFIRMED_RESOLVED_SHARE = 0.9
# A presentation whose response is never recorded after the trial: the review's "stalled" list.
STALLED_SHARE = 0.1
# Justified departures from the ladder: the review's "skipped rungs" list.
SKIP_SHARE = 0.06
BASELINE_MOXFQ_SHARE = 0.7
FOLLOW_UP_MOXFQ_SHARE = 0.5
# Demo mix (no DOMAIN.md figure; not evidence): how often a demo patient answers a follow-up whose window
# has opened, by time point, and how often one declines. The answers follow the treatment's recorded
# response, so the MCID shares the demo shows come from the response rates above, not from new figures.
FOLLOW_UP_ANSWER_SHARE = {
    TimePoint.BASELINE: 0.8,
    TimePoint.END_OF_TRIAL: 0.7,
    TimePoint.WEEK_6: 0.65,
    TimePoint.MONTH_6: 0.55,
    TimePoint.MONTH_12: 0.45,
}
FOLLOW_UP_DECLINE_SHARE = 0.03
ALTERNATIVES = (
    TreatmentKind.ALCOHOL_INJECTION,
    TreatmentKind.RADIOFREQUENCY_ABLATION,
    TreatmentKind.CRYONEUROLYSIS,
)
PROCEDURES = frozenset({*ALTERNATIVES, TreatmentKind.CORTICOSTEROID_INJECTION, TreatmentKind.NEURECTOMY})

ORTHOSIS_FIRST = "orthosis_first"
INJECTION_AFTER_FOOTWEAR = "injection_after_footwear"
EARLY_SURGERY = "early_surgery"
SKIP_JUSTIFICATIONS = {
    ORTHOSIS_FIRST: "Already wears wide, low-heeled shoes with a soft sole; starting with an orthosis.",
    INJECTION_AFTER_FOOTWEAR: "Pain limits work; the patient declined an orthosis trial and chose an injection "
    "after discussing the risks.",
    EARLY_SURGERY: "Large neuroma on imaging and the patient's informed choice of surgery after discussing "
    "the alternatives.",
}

CLINIC_NAMES = (
    ("demo-northside", "Northside Foot Clinic (demo)"),
    ("demo-riverside", "Riverside Podiatry (demo)"),
    ("demo-hillcrest", "Hillcrest Foot and Ankle (demo)"),
    ("demo-harbour", "Harbour Podiatry Centre (demo)"),
)
FEMALE_GIVEN_NAMES = (
    "Alice", "Amara", "Anna", "Beatrice", "Carmen", "Chloe", "Clara", "Daniela", "Eleanor", "Elif",
    "Emma", "Fatima", "Freya", "Grace", "Hannah", "Ingrid", "Isla", "Jasmine", "Julia", "Karen",
    "Leila", "Lucy", "Maria", "Mei", "Nadia", "Olivia", "Priya", "Rachel", "Rosa", "Ruth",
    "Sarah", "Sofia", "Susan", "Tamsin", "Ursula", "Vera", "Wendy", "Yasmin", "Zoe", "Helen",
)  # fmt: skip
MALE_GIVEN_NAMES = (
    "Adam", "Ahmed", "Ben", "Carlos", "David", "Emil", "Felix", "George", "Hamza", "Ian",
    "James", "Kofi", "Liam", "Marco", "Nikhil", "Owen", "Paul", "Rafael", "Samuel", "Tom",
)  # fmt: skip
FAMILY_NAMES = (
    "Abbott", "Adeyemi", "Ahmed", "Baker", "Bennett", "Brown", "Campbell", "Chen", "Clarke", "Cooper",
    "Davies", "Evans", "Fernandes", "Fischer", "Garcia", "Green", "Hall", "Harris", "Hughes", "Jackson",
    "Jensen", "Johnson", "Kaur", "Kelly", "Khan", "King", "Kowalski", "Lee", "Lewis", "Martin",
    "Mitchell", "Moore", "Murphy", "Nguyen", "Novak", "O'Brien", "Okafor", "Patel", "Phillips", "Price",
    "Reid", "Roberts", "Robinson", "Rossi", "Russell", "Scott", "Shah", "Singh", "Smith", "Taylor",
    "Thomas", "Thompson", "Turner", "Walker", "Ward", "Watson", "White", "Williams", "Wilson", "Wright",
)  # fmt: skip


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedOptions:
    seed: int
    patients: int
    clinics: int
    today: datetime.date


def whole_number(value: Any, *, option: str, minimum: int, maximum: int) -> int:
    """``value`` (an int or its text) as an int within bounds, or a ValueError naming the option."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"{option} must be a whole number, got {value!r}.") from None
    if not minimum <= number <= maximum:
        raise ValueError(f"{option} must be between {minimum} and {maximum}, got {number}.")
    return number


def reference_day(value: Any) -> datetime.date | None:
    """``--today`` as a date (None means the clinics' today), or a ValueError saying what is wrong."""
    if value is None or isinstance(value, datetime.date):
        day = value
    else:
        try:
            day = datetime.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"--today must be a date written YYYY-MM-DD, got {value!r}.") from None
    if day is not None and day < EARLIEST_TODAY:
        raise ValueError(f"--today must be on or after {EARLIEST_TODAY.isoformat()}, got {day.isoformat()}.")
    return day


def clinic_slugs(count: int) -> list[tuple[str, str]]:
    """Slug and name of the demo clinics, the keys a re-run finds them by."""
    named = list(CLINIC_NAMES[:count])
    return named + [(f"demo-clinic-{n}", f"Demo Foot Clinic {n}") for n in range(len(named) + 1, count + 1)]


def seed_options(*, seed: Any, patients: Any, clinics: Any, today: Any) -> SeedOptions:
    """Check the command's options before anything is written; a ValueError says which is wrong."""
    seed = whole_number(seed, option="--seed", minimum=0, maximum=2**63 - 1)
    patients = whole_number(patients, option="--patients", minimum=0, maximum=MAX_PATIENTS)
    clinics = whole_number(clinics, option="--clinics", minimum=1, maximum=MAX_CLINICS)
    day = reference_day(today)
    # The records may not be dated after any demo clinic's today (in its own time zone).
    zones = dict(
        Clinic.objects.filter(slug__in=[slug for slug, _ in clinic_slugs(clinics)]).values_list("slug", "time_zone")
    )
    latest = min(
        timezone.localdate(timezone=ZoneInfo(zones.get(slug, settings.CLINIC_DEFAULT_TIME_ZONE)))
        for slug, _ in clinic_slugs(clinics)
    )
    if day is None:
        day = latest
    elif day > latest:
        raise ValueError(f"--today cannot be in the future: the clinics' today is {latest.isoformat()}.")
    return SeedOptions(seed=seed, patients=patients, clinics=clinics, today=day)


# --- Plans (pure) -----------------------------------------------------------------------------


@dataclass
class TreatmentPlan:
    """A treatment to start, and later its response; has the attributes ``ladder`` judges."""

    kind: str
    started_on: datetime.date
    pk: int
    details: dict[str, Any] = field(default_factory=dict)
    justification: str = ""
    ended_on: datetime.date | None = None
    response: str = Response.PENDING
    response_assessed_on: datetime.date | None = None


@dataclass
class VisitPlan:
    seen_on: datetime.date
    pain_walking: int
    pain_rest: int
    relief_since_previous: str = ""
    moxfq: tuple[int, int, int] | None = None
    notes: str = ""

    def fields(self) -> dict[str, Any]:
        """The visit's recorded fields (its MOxFQ domain scores only when it has them)."""
        moxfq = dict(zip(("moxfq_walking_standing", "moxfq_pain", "moxfq_social"), self.moxfq or (), strict=False))
        return {
            "seen_on": self.seen_on,
            "pain_walking": self.pain_walking,
            "pain_rest": self.pain_rest,
            "relief_since_previous": self.relief_since_previous,
            "notes": self.notes,
            **moxfq,
        }


@dataclass
class ComplicationPlan:
    treatment: TreatmentPlan
    kind: str
    occurred_on: datetime.date
    notes: str = ""


@dataclass
class PresentationPlan:
    fields: dict[str, Any]
    # In the order they are written: ("visit", VisitPlan), ("start" | "assess", TreatmentPlan),
    # ("complication", ComplicationPlan). A response is written before the next treatment starts,
    # because the ladder judges a neurectomy on the responses recorded before it.
    events: list[tuple[str, Any]]


@dataclass
class PatientPlan:
    number: int
    mrn: str
    given_name: str
    family_name: str
    birth_date: datetime.date
    sex: str
    phone: str
    email: str
    clinician_pick: int
    presentations: list[PresentationPlan]


def _days(count: int) -> datetime.timedelta:
    return datetime.timedelta(days=count)


def _weighted(rng: random.Random, weights: dict) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _sample(rng: random.Random, shares: dict) -> list[str]:
    return sorted(code for code, share in shares.items() if rng.random() < share)


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _response(rng: random.Random, rates: tuple[float, float, float]) -> str:
    return rng.choices([Response.COMPLETE, Response.PARTIAL, Response.NONE], weights=rates)[0]


class _History:
    """Walks one presentation up the ladder from its first visit until the reference day."""

    def __init__(self, rng: random.Random, *, today: datetime.date, conf: ladder.LadderSettings) -> None:
        self.rng, self.today, self.conf = rng, today, conf
        self.events: list[tuple[str, Any]] = []
        self.treatments: list[TreatmentPlan] = []
        self.status, self.notes = PresentationStatus.ACTIVE, ""
        self.walking = self.rest = 0
        self.last_visit_on: datetime.date | None = None

    def walk(self, *, first_seen_on: datetime.date, pain_at_rest: bool, scenario: str | None) -> None:
        rng = self.rng
        self.walking = _clamp(rng.gauss(6.5, 1.5), 3, 10)
        self.rest = min(rng.randint(1, 4), self.walking) if pain_at_rest else 0
        self._visit(first_seen_on, moxfq_share=BASELINE_MOXFQ_SHARE)
        stall_at = rng.randint(1, 4) if rng.random() < STALLED_SHARE else None

        kind, day = TreatmentKind.FOOTWEAR_MODIFICATION, first_seen_on
        justification = ""
        if scenario == ORTHOSIS_FIRST:
            kind, justification = TreatmentKind.ORTHOSIS, SKIP_JUSTIFICATIONS[ORTHOSIS_FIRST]
        while True:
            treatment = self._start(kind, day, justification)
            trial_ends_on = self.conf.trial_ends_on(treatment)
            assessed_on = trial_ends_on + _days(rng.randint(0, 14))
            if assessed_on > self.today:
                return  # still in its trial, or just past it: active
            if len(self.treatments) == stall_at:
                return  # the response was never recorded after the trial: stalled
            self._assess(treatment, assessed_on)
            if treatment.response == Response.COMPLETE:
                self._confirm(assessed_on)
                return
            step = self._next_step(treatment, assessed_on, scenario)
            if step is None:
                return
            kind, day, justification = step
            if day > self.today:
                return  # failed, and the next rung is not started yet: due for escalation

    def _visit(self, day: datetime.date, *, relief: str = "", moxfq_share: float = 0.0, notes: str = "") -> None:
        if day == self.last_visit_on:
            return
        moxfq = None
        if self.rng.random() < moxfq_share:
            # Demo mapping from pain to the three MOxFQ domains (0–100, 100 worst, DOMAIN.md §6).
            moxfq = (
                _clamp(self.walking * 9 + self.rng.gauss(5, 8), 0, 100),
                _clamp(self.walking * 8 + self.rest * 3 + self.rng.gauss(5, 8), 0, 100),
                _clamp(self.walking * 6 + self.rng.gauss(0, 8), 0, 100),
            )
        self.events.append(("visit", VisitPlan(day, self.walking, self.rest, relief, moxfq, notes)))
        self.last_visit_on = day

    def _start(self, kind: str, day: datetime.date, justification: str) -> TreatmentPlan:
        self._visit(day, relief=Relief.NONE if self.last_visit_on else "")
        treatment = TreatmentPlan(
            kind=kind,
            started_on=day,
            pk=len(self.treatments) + 1,
            details=self._details(kind),
            justification=justification,
            ended_on=day if kind in PROCEDURES else None,
        )
        self.treatments.append(treatment)
        self.events.append(("start", treatment))
        return treatment

    def _details(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == TreatmentKind.ORTHOSIS:
            return {"orthosis_type": rng.choice(list(OrthosisType.values))}
        if kind == TreatmentKind.CORTICOSTEROID_INJECTION:
            return {
                "injection_drug": rng.choice(INJECTION_DRUGS),
                "dose_mg": INJECTION_DOSE_MG,
                "volume_ml": rng.choice(INJECTION_VOLUMES_ML),
                "ultrasound_guided": rng.random() < 0.5,
            }
        if kind in ALTERNATIVES:
            return {"ultrasound_guided": True}
        if kind == TreatmentKind.NEURECTOMY:
            # Cochrane 2024: dorsal vs plantar make little difference; the split is a demo mix.
            return {"approach": rng.choice(list(NeurectomyApproach.values)), "histology_confirmed": True}
        return {}

    def _draw_response(self, treatment: TreatmentPlan) -> str:
        rng, kind = self.rng, treatment.kind
        if kind == TreatmentKind.CORTICOSTEROID_INJECTION:
            failure = INJECTION_FAILURE_12_MONTHS[treatment.details["ultrasound_guided"]]
            return _response(rng, (1 - failure, failure - INJECTION_NO_RELIEF, INJECTION_NO_RELIEF))
        rates = {
            TreatmentKind.ALCOHOL_INJECTION: ALCOHOL_RESPONSE,
            TreatmentKind.RADIOFREQUENCY_ABLATION: RFA_RESPONSE,
            TreatmentKind.CRYONEUROLYSIS: CRYO_RESPONSE,
            TreatmentKind.NEURECTOMY: NEURECTOMY_RESPONSE,
        }.get(kind, CONSERVATIVE_RESPONSE)
        return _response(rng, rates)

    def _assess(self, treatment: TreatmentPlan, day: datetime.date) -> None:
        rng = self.rng
        response = self._draw_response(treatment)
        if response == Response.COMPLETE:
            self.walking, self.rest = rng.randint(0, 1), 0
        elif response == Response.PARTIAL:
            reduced = self.walking * (1 - rng.uniform(*PARTIAL_PAIN_REDUCTION))
            self.walking = max(1, min(self.walking - 1, round(reduced)))
            self.rest = 0 if rng.random() < 0.8 else max(0, self.rest - 1)
        else:
            self.walking = _clamp(self.walking + rng.choice([-1, 0, 0, 1, 1, 2]), 1, 10)
            if not self.rest and rng.random() < 0.2:
                self.rest = rng.randint(1, 3)
        self.rest = min(self.rest, self.walking)  # pain at rest does not exceed pain walking

        complications: list[ComplicationPlan] = []
        notes = ""
        if treatment.kind == TreatmentKind.CORTICOSTEROID_INJECTION and rng.random() < DEPIGMENTATION_SHARE:
            occurred_on = treatment.started_on + _days(rng.randint(21, 120))
            if occurred_on <= self.today:
                complications.append(ComplicationPlan(treatment, ComplicationKind.SKIN_DEPIGMENTATION, occurred_on))
        if treatment.kind == TreatmentKind.RADIOFREQUENCY_ABLATION and rng.random() < RFA_COMPLICATION_SHARE:
            complications.append(
                ComplicationPlan(
                    treatment, ComplicationKind.OTHER, day, "Complication after the ablation; see the clinical notes."
                )
            )
        if treatment.kind == TreatmentKind.NEURECTOMY and rng.random() < NEURECTOMY_NUMBNESS_SHARE:
            if rng.random() < BOTHERSOME_NUMBNESS_SHARE:
                complications.append(
                    ComplicationPlan(
                        treatment, ComplicationKind.PERSISTENT_NUMBNESS, day, "Numbness of the adjacent toes."
                    )
                )
            else:
                notes = "Some numbness of the adjacent toes; not bothersome."

        self._visit(day, relief=response, moxfq_share=FOLLOW_UP_MOXFQ_SHARE, notes=notes)
        treatment.response, treatment.response_assessed_on = response, day
        self.events.append(("assess", treatment))
        self.events.extend(("complication", complication) for complication in complications)

    def _confirm(self, assessed_on: datetime.date) -> None:
        """A later visit confirms complete relief, after which most presentations are resolved."""
        confirmed_on = assessed_on + datetime.timedelta(weeks=self.rng.randint(4, 12))
        if confirmed_on > self.today:
            return
        self.walking, self.rest = 0, 0
        self._visit(confirmed_on, relief=Relief.COMPLETE, moxfq_share=FOLLOW_UP_MOXFQ_SHARE)
        if self.rng.random() < CONFIRMED_RESOLVED_SHARE:
            self.status = PresentationStatus.RESOLVED

    def _close(self, status: str, notes: str) -> None:
        self.status, self.notes = status, notes

    def _injection_allowed(self, day: datetime.date) -> bool:
        candidate = TreatmentPlan(TreatmentKind.CORTICOSTEROID_INJECTION, day, pk=0)
        return not ladder.treatment_violations(candidate, self.treatments, conf=self.conf)

    def _next_step(
        self, treatment: TreatmentPlan, assessed_on: datetime.date, scenario: str | None
    ) -> tuple[str, datetime.date, str] | None:
        rng, kind = self.rng, treatment.kind
        if kind == TreatmentKind.NEURECTOMY:
            return None  # left active: the review suggests checking for a recurrent or stump neuroma
        conservative = kind in (TreatmentKind.FOOTWEAR_MODIFICATION, TreatmentKind.ORTHOSIS)
        if conservative and treatment.response == Response.PARTIAL and rng.random() < CONTENT_WITH_PARTIAL_SHARE:
            self._close(PresentationStatus.CLOSED, "Partial relief; the patient is content without further treatment.")
            return None
        if rng.random() < LOST_TO_FOLLOW_UP_SHARE:
            self._close(PresentationStatus.CLOSED, "Did not return for follow-up.")
            return None
        next_day = assessed_on + _days(rng.choice([0, 0, 0, 7, 14, 21]))
        surgery_day = assessed_on + _days(rng.randint(14, 90))
        if kind == TreatmentKind.FOOTWEAR_MODIFICATION:
            if scenario == INJECTION_AFTER_FOOTWEAR:
                return TreatmentKind.CORTICOSTEROID_INJECTION, next_day, SKIP_JUSTIFICATIONS[scenario]
            if scenario == EARLY_SURGERY:
                return TreatmentKind.NEURECTOMY, surgery_day, SKIP_JUSTIFICATIONS[scenario]
            return TreatmentKind.ORTHOSIS, next_day, ""
        if kind == TreatmentKind.ORTHOSIS:
            return TreatmentKind.CORTICOSTEROID_INJECTION, next_day, ""
        if (
            kind == TreatmentKind.CORTICOSTEROID_INJECTION
            and rng.random() < REPEAT_INJECTION_SHARE
            and self._injection_allowed(next_day)
        ):
            return TreatmentKind.CORTICOSTEROID_INJECTION, next_day, ""
        roll = rng.random()
        if kind == TreatmentKind.CORTICOSTEROID_INJECTION and roll < ALTERNATIVE_SHARE:
            return rng.choice(ALTERNATIVES), next_day, ""
        if roll > 1 - REFERRAL_SHARE:
            self._close(PresentationStatus.REFERRED, "Referred to the foot and ankle surgeons.")
            return None
        return TreatmentKind.NEURECTOMY, surgery_day, ""


def _presentation_plan(
    rng: random.Random,
    *,
    sex: str,
    foot: str,
    interspace: int,
    first_seen_on: datetime.date,
    today: datetime.date,
    conf: ladder.LadderSettings,
) -> PresentationPlan:
    roll = rng.random()
    scenario = None
    if roll < SKIP_SHARE:
        scenario = (ORTHOSIS_FIRST, INJECTION_AFTER_FOOTWEAR, EARLY_SURGERY)[int(roll / SKIP_SHARE * 3)]
    imaging = _weighted(rng, {**IMAGING_SHARE, Imaging.NONE: 1 - sum(IMAGING_SHARE.values())})
    if scenario == EARLY_SURGERY and imaging == Imaging.NONE:
        imaging = Imaging.MRI  # the justification cites the imaging
    size_mm = None
    if imaging != Imaging.NONE:
        size = rng.gauss(SIZE_MEAN_MM, SIZE_SD_MM)
        if scenario == EARLY_SURGERY:
            size = rng.uniform(7.5, 10.0)
        size_mm = Decimal(str(round(max(SIZE_RANGE_MM[0], min(SIZE_RANGE_MM[1], size)), 1)))
    pain_at_rest = rng.random() < PAIN_AT_REST_SHARE
    symptoms = _sample(rng, SYMPTOM_SHARE) or [rng.choice(list(SYMPTOM_SHARE))]
    history = _History(rng, today=today, conf=conf)
    fields = {
        "foot": foot,
        "interspace": interspace,
        "onset_on": first_seen_on - _days(rng.randint(30, 720)),
        "first_seen_on": first_seen_on,
        "symptoms": symptoms,
        "aggravating_factors": _sample(rng, AGGRAVATING_SHARE),
        "relieving_factors": _sample(rng, RELIEVING_SHARE),
        "pain_at_rest": pain_at_rest,
        "risk_factors": sorted(
            code for code, shares in RISK_FACTOR_SHARE.items() if rng.random() < shares.get(sex, shares[Sex.FEMALE])
        ),
        "exam_signs": _sample(rng, EXAM_SIGN_SHARE),
        "imaging": imaging,
        "size_mm": size_mm,
    }
    history.walk(first_seen_on=first_seen_on, pain_at_rest=pain_at_rest, scenario=scenario)
    fields.update(status=history.status, notes=history.notes)
    return PresentationPlan(fields=fields, events=history.events)


def patient_plan(
    *, seed: int, number: int, today: datetime.date, conf: ladder.LadderSettings | None = None
) -> PatientPlan:
    """The demo patient ``number`` (1-based) of a run: the same seed, number and day give the same plan."""
    conf = conf or ladder.LadderSettings.from_settings()
    # Reproducible demo data, not secrets: a seeded PRNG is the point here.
    rng = random.Random(f"neuroma-demo:{seed}:{number}")  # noqa: S311
    sex = Sex.FEMALE if rng.random() < FEMALE_SHARE else Sex.MALE
    given_name = rng.choice(FEMALE_GIVEN_NAMES if sex == Sex.FEMALE else MALE_GIVEN_NAMES)
    family_name = rng.choice(FAMILY_NAMES)
    first_seen_on = today - _days(rng.randint(0, FIRST_SEEN_WITHIN_DAYS))
    age = _clamp(rng.gauss(AGE_MEAN_YEARS, AGE_SD_YEARS), *AGE_RANGE_YEARS)
    birth_date = first_seen_on.replace(year=first_seen_on.year - age, day=1) - _days(rng.randint(0, 364))
    foot = rng.choice(list(Foot.values))
    interspace = _weighted(rng, INTERSPACE_WEIGHTS)
    presentations = [
        _presentation_plan(
            rng, sex=sex, foot=foot, interspace=interspace, first_seen_on=first_seen_on, today=today, conf=conf
        )
    ]
    if rng.random() < BILATERAL_SHARE:
        other_foot = Foot.LEFT if foot == Foot.RIGHT else Foot.RIGHT
        other_space = interspace if rng.random() < 0.8 else _weighted(rng, INTERSPACE_WEIGHTS)
        later = first_seen_on + _days(rng.choice([0, 0, rng.randint(30, 300)]))
        presentations.append(
            _presentation_plan(
                rng,
                sex=sex,
                foot=other_foot,
                interspace=other_space,
                first_seen_on=min(later, today),
                today=today,
                conf=conf,
            )
        )
    slug = f"{given_name}.{family_name}".lower().replace("'", "")
    return PatientPlan(
        number=number,
        mrn=f"{MRN_PREFIX}{number:06d}",
        given_name=given_name,
        family_name=family_name,
        birth_date=birth_date,
        sex=sex,
        # Ofcom reserves 07700 900000–900999 for drama, and example.com is reserved: nobody is reached.
        phone=f"07700 900{rng.randrange(1000):03d}",
        email=f"{slug}{number}@example.com",
        clinician_pick=rng.randrange(1000),
        presentations=presentations,
    )


# --- Writes -----------------------------------------------------------------------------------


class DemoRefused(Exception):
    """A planned demo record broke a rule: a bug in the generator, reported with the patient's MRN."""


@dataclass
class SeedSummary:
    created: Counter = field(default_factory=Counter)
    patients_skipped: int = 0
    # Username to password of each demo login this run created; those that already existed are not here.
    demo_logins_created: dict[str, str] = field(default_factory=dict)
    # The demo clinics' follow-ups by status once seeded, and one working patient link (token shown once).
    follow_up_statuses: Counter = field(default_factory=Counter)
    follow_up_link: str = ""
    follow_up_admin_path: str = ""

    def follow_up_line(self) -> str:
        counts = ", ".join(f"{self.follow_up_statuses[status]} {status}" for status in FollowUpStatus.values)
        return f"Follow-ups of the demo clinics: {counts}."

    def line(self) -> str:
        names = ("clinics", "users", "patients", "presentations", "visits", "treatments", "complications")
        return "Created " + ", ".join(f"{self.created[name]} {name}" for name in names) + "."


@dataclass
class DemoClinic:
    clinic: Clinic
    podiatrists: list[Any]


def _user_ensure(username: str, *, first_name: str, last_name: str, summary: SeedSummary):
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model(username=username, first_name=first_name, last_name=last_name, is_staff=True)
        user.email = f"{username}@example.com"
        user.set_unusable_password()  # demo clinicians never log in; only the demo logins have a password
        user.full_clean()
        user.save()
        summary.created["users"] += 1
    return user


def _membership_ensure(user, clinic: Clinic, role: str) -> None:
    if not Membership.objects.filter(user=user, clinic=clinic).exists():
        membership = Membership(user=user, clinic=clinic, role=role)
        membership.full_clean()
        membership.save()


@transaction.atomic
def clinic_ensure(*, seed: int, number: int, slug: str, name: str, summary: SeedSummary) -> DemoClinic:
    """The demo clinic and its staff (a clinic admin, two or three podiatrists, a reviewer), created if missing."""
    clinic = Clinic.objects.filter(slug=slug).first()
    if clinic is None:
        clinic = Clinic(slug=slug, name=name)
        clinic.full_clean()
        clinic.save()
        summary.created["clinics"] += 1
    rng = random.Random(f"neuroma-demo:{seed}:clinic:{number}")  # noqa: S311 (demo names, not secrets)
    staff = [(f"{slug}-admin", Role.CLINIC_ADMIN)]
    staff += [(f"{slug}-podiatrist-{n}", Role.PODIATRIST) for n in range(1, rng.choice([2, 3]) + 1)]
    staff += [(f"{slug}-reviewer", Role.REVIEWER)]
    podiatrists = []
    for username, role in staff:
        given = rng.choice(FEMALE_GIVEN_NAMES + MALE_GIVEN_NAMES)
        user = _user_ensure(username, first_name=given, last_name=rng.choice(FAMILY_NAMES), summary=summary)
        _membership_ensure(user, clinic, role)
        if role == Role.PODIATRIST:
            podiatrists.append(user)
    return DemoClinic(clinic=clinic, podiatrists=podiatrists)


@transaction.atomic
def demo_logins_ensure(*, clinic: Clinic, summary: SeedSummary) -> None:
    """The demo logins (DEMO_LOGINS): staff, never superusers, each a member of ``clinic`` in its role.

    One that exists keeps its password; one created gets a random password, kept only in ``summary``.
    """
    user_model = get_user_model()
    for username, role, last_name, _ in DEMO_LOGINS:
        user = user_model.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(16)
            user = user_model(username=username, first_name="Demo", last_name=last_name, is_staff=True)
            user.set_password(password)
            user.full_clean()
            user.save()
            summary.created["users"] += 1
            summary.demo_logins_created[username] = password
        _membership_ensure(user, clinic, role)


def patient_write(plan: PatientPlan, *, demo_clinic: DemoClinic, summary: SeedSummary) -> None:
    """Write one planned patient through the services, all or nothing; skip one whose MRN exists."""
    clinic = demo_clinic.clinic
    clinician = demo_clinic.podiatrists[plan.clinician_pick % len(demo_clinic.podiatrists)]
    created: Counter = Counter()
    with transaction.atomic():
        if Patient.objects.filter(clinic=clinic, mrn=plan.mrn).exists():
            summary.patients_skipped += 1
            return
        try:
            patient = services.patient_create(
                clinic=clinic,
                mrn=plan.mrn,
                given_name=plan.given_name,
                family_name=plan.family_name,
                birth_date=plan.birth_date,
                sex=plan.sex,
                phone=plan.phone,
                email=plan.email,
            )
            created["patients"] += 1
            for presentation_plan in plan.presentations:
                presentation = services.presentation_create(patient=patient, **presentation_plan.fields)
                created["presentations"] += 1
                _events_write(presentation, presentation_plan.events, clinician=clinician, created=created)
        except ValidationError as error:
            raise DemoRefused(f"Demo patient {plan.mrn} was refused: {error}") from error
    summary.created.update(created)


def _events_write(presentation: Presentation, events: list[tuple[str, Any]], *, clinician, created: Counter) -> None:
    treatments: dict[int, Treatment] = {}
    for event, plan in events:
        if event == "visit":
            services.visit_record(presentation=presentation, clinician=clinician, **plan.fields())
            created["visits"] += 1
        elif event == "start":
            treatments[plan.pk] = services.treatment_start(
                presentation=presentation,
                kind=plan.kind,
                clinician=clinician,
                started_on=plan.started_on,
                ended_on=plan.ended_on,
                justification=plan.justification,
                **plan.details,
            )
            created["treatments"] += 1
        elif event == "assess":
            services.treatment_update(
                treatment=treatments[plan.pk],
                response=plan.response,
                response_assessed_on=plan.response_assessed_on,
            )
        elif event == "complication":
            services.complication_record(
                treatment=treatments[plan.treatment.pk],
                kind=plan.kind,
                occurred_on=plan.occurred_on,
                notes=plan.notes,
            )
            created["complications"] += 1


def _demo_now(today: datetime.date) -> datetime.datetime:
    """The demo's "now": noon of its reference day, or the real now when that is earlier (seeding on today)."""
    noon = datetime.datetime.combine(today, datetime.time(12), tzinfo=ZoneInfo(settings.TIME_ZONE))
    return min(noon, timezone.now())


def _follow_up_answer(rng: random.Random, follow_up: FollowUp, first_visit) -> dict[str, Any]:
    """What the demo patient answers: their first visit's pain at baseline, then as the treatment's response says."""
    walking = first_visit.pain_walking if first_visit else 6
    rest = first_visit.pain_rest if first_visit else 1
    response = follow_up.treatment.response if follow_up.treatment else None
    if response is None:
        values = (walking, rest, Relief.NONE, GlobalImpression.NO_CHANGE)
    elif response == Response.COMPLETE:
        values = (rng.randint(0, 1), 0, Relief.COMPLETE, rng.choice([1, 2]))
    elif response == Response.PARTIAL:
        reduced = max(1, min(walking - 1, round(walking * (1 - rng.uniform(*PARTIAL_PAIN_REDUCTION)))))
        values = (max(reduced, 0), min(rest, reduced), Relief.PARTIAL, rng.choice([2, 3]))
    else:  # no response, or not yet assessed
        values = (_clamp(walking + rng.choice([-1, 0, 0, 1]), 0, 10), rest, Relief.NONE, rng.choice([4, 4, 5]))
    answer = dict(zip(("pain_walking", "pain_rest", "relief", "global_impression"), values, strict=True))
    moxfq = ("moxfq_walking_standing", "moxfq_pain", "moxfq_social")
    if first_visit is not None and all(getattr(first_visit, name) is not None for name in moxfq):
        # The domains move with walking pain (a demo simplification): the same share of the first visit's score.
        share = Decimal(answer["pain_walking"]) / Decimal(max(walking, 1))
        for name in moxfq:
            answer[name] = min(Decimal(100), (getattr(first_visit, name) * share).quantize(Decimal("0.1")))
    return answer


def follow_ups_write(options: SeedOptions, *, clinics: list[DemoClinic], summary: SeedSummary) -> None:
    """Plan every demo presentation's follow-ups from its first day, answer and decline some, then move statuses.

    Deterministic per presentation (its own ``random.Random``). Answers go through
    ``services.follow_up_answer_record``, recorded by the treating clinician on a day in the window up to
    the demo's today; what nobody answered becomes overdue or missed through
    ``services.follow_up_statuses_refresh`` on the demo's today, exactly as the sending run moves them.
    """
    now = _demo_now(options.today)
    presentations = (
        Presentation.objects.filter(
            patient__clinic__in=[demo.clinic for demo in clinics], patient__mrn__startswith=MRN_PREFIX
        )
        .select_related("patient__clinic")
        .order_by("patient__mrn", "foot", "interspace", "pk")
    )
    for presentation in presentations:
        zone = ZoneInfo(presentation.patient.clinic.time_zone)
        # Reproducible demo data, not secrets (as the plans above).
        rng = random.Random(  # noqa: S311
            f"neuroma-demo:{options.seed}:follow-ups:{presentation.patient.mrn}:{presentation.foot}"
        )
        with transaction.atomic():
            first_visit = presentation.visits.order_by("seen_on", "pk").first()
            planned = services.follow_up_plan(presentation=presentation, today=presentation.first_seen_on)
            for follow_up in planned:
                roll = rng.random()  # drawn for every follow-up, so one's fate never shifts another's
                day = follow_up.window_opens_on + _days(rng.randint(0, 14))
                if follow_up.status not in (FollowUpStatus.SCHEDULED, FollowUpStatus.OVERDUE, FollowUpStatus.SENT):
                    continue
                if (
                    follow_up.window_opens_on > options.today
                    or FollowUp.objects.filter(pk=follow_up.pk, answer__isnull=False).exists()
                ):
                    continue
                clinician = follow_up.clinician or clinics[0].podiatrists[0]
                if roll < FOLLOW_UP_DECLINE_SHARE:
                    services.follow_up_decline(follow_up=follow_up, recorded_by=clinician)
                elif roll < FOLLOW_UP_DECLINE_SHARE + FOLLOW_UP_ANSWER_SHARE[follow_up.time_point]:
                    day = min(day, follow_up.window_closes_on, options.today)
                    answered_at = datetime.datetime.combine(day, datetime.time(rng.randint(9, 16)), tzinfo=zone)
                    services.follow_up_answer_record(
                        follow_up=follow_up,
                        channel=rng.choice([AnswerChannel.IN_CLINIC_TABLET, AnswerChannel.PHONE]),
                        recorded_by=clinician,
                        answered_at=min(answered_at, now),
                        **_follow_up_answer(rng, follow_up, first_visit),
                    )
    services.follow_up_statuses_refresh(now=now)
    demo_follow_ups = FollowUp.objects.filter(presentation__in=presentations)
    summary.follow_up_statuses = Counter(
        dict(demo_follow_ups.order_by().values_list("status").annotate(count=models.Count("pk")))
    )


def follow_up_link_issue(*, clinic: Clinic, summary: SeedSummary) -> None:
    """One working patient link for the demo: the first open, unanswered follow-up whose window is open today.

    Through ``services.follow_up_link_issue`` (audited like any link); the token exists only in this run's
    output. Its window is judged by the clinic's real today, since that is when a person opens it.
    """
    today = clinic.today()
    candidates = FollowUp.objects.filter(
        presentation__patient__clinic=clinic,
        presentation__patient__mrn__startswith=MRN_PREFIX,
        status__in=[FollowUpStatus.SCHEDULED, FollowUpStatus.SENT, FollowUpStatus.OVERDUE],
        window_opens_on__lte=today,
        window_closes_on__gte=today,
        answer__isnull=True,
    ).order_by("due_on", "pk")
    follow_up = candidates.first()
    if follow_up is None:
        return
    _, token = services.follow_up_link_issue(follow_up=follow_up)
    summary.follow_up_link = follow_up_links.url_for(token)
    summary.follow_up_admin_path = reverse("admin:cases_followup_change", args=[follow_up.pk])


def seed(options: SeedOptions, *, on_patient: Callable[[], None] = lambda: None) -> SeedSummary:
    """Create what is missing of the demo dataset that ``options`` describe; each patient in its own transaction."""
    summary = SeedSummary()
    clinics = [
        clinic_ensure(seed=options.seed, number=number, slug=slug, name=name, summary=summary)
        for number, (slug, name) in enumerate(clinic_slugs(options.clinics), start=1)
    ]
    demo_logins_ensure(clinic=clinics[0].clinic, summary=summary)
    conf = ladder.LadderSettings.from_settings()
    for number in range(1, options.patients + 1):
        plan = patient_plan(seed=options.seed, number=number, today=options.today, conf=conf)
        patient_write(plan, demo_clinic=clinics[(number - 1) % len(clinics)], summary=summary)
        on_patient()
    follow_ups_write(options, clinics=clinics, summary=summary)
    follow_up_link_issue(clinic=clinics[0].clinic, summary=summary)
    return summary

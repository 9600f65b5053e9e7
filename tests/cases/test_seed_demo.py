"""`manage.py seed_demo`: deterministic, re-runnable, valid by every rule, and shaped by DOMAIN.md §7."""

import datetime
import io
import itertools
import re
import statistics
from collections import Counter
from urllib.parse import urlsplit

import pytest
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from cases import demo, ladder, selectors, services
from cases.audit import AuditEvent
from cases.choices import Imaging, PresentationStatus, Response, Role, Sex, TreatmentKind
from cases.followups.models import FollowUp, FollowUpAnswer, FollowUpLink, FollowUpMessage
from cases.followups.selectors import link_for_token
from cases.models import Clinic, Complication, Membership, Patient, Presentation, Treatment, Visit
from tests.factories import PatientFactory

TODAY = datetime.date(2026, 6, 30)
MODELS = (Clinic, get_user_model(), Membership, Patient, Presentation, Visit, Treatment, Complication)
TREATMENT_DETAILS = {
    "orthosis_type": "",
    "injection_drug": "",
    "dose_mg": None,
    "volume_ml": None,
    "ultrasound_guided": None,
    "approach": "",
    "histology_confirmed": None,
}
pytestmark = pytest.mark.django_db


def seed_demo(*args, **options) -> str:
    out = io.StringIO()
    options = {"today": TODAY.isoformat(), "no_progress": True, **options}
    call_command("seed_demo", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def written_patient(patient: Patient) -> tuple:
    """A stored patient's history without ids or timestamps (prefetch presentations and below)."""
    presentations = []
    for presentation in patient.presentations.all():
        visits = tuple(
            (
                *(v.seen_on, v.pain_walking, v.pain_rest, v.relief_since_previous),
                *(v.moxfq_walking_standing, v.moxfq_pain, v.moxfq_social, v.notes),
            )
            for v in presentation.visits.all()
        )
        treatments = tuple(
            (
                *(t.kind, t.started_on, t.ended_on, t.response, t.response_assessed_on, t.justification),
                *(getattr(t, name) for name in TREATMENT_DETAILS),
                tuple((c.kind, c.occurred_on, c.notes) for c in t.complications.all()),
            )
            for t in presentation.treatments.all()
        )
        fields = (presentation.foot, presentation.interspace, presentation.onset_on, presentation.first_seen_on)
        fields += (presentation.symptoms, presentation.aggravating_factors, presentation.relieving_factors)
        fields += (presentation.risk_factors, presentation.exam_signs, presentation.pain_at_rest)
        fields += (presentation.imaging, presentation.size_mm, presentation.status, presentation.notes)
        presentations.append((*fields, visits, treatments))
    person = (patient.mrn, patient.given_name, patient.family_name, patient.birth_date, patient.sex)
    return (*person, patient.phone, patient.email, tuple(sorted(presentations, key=lambda p: (p[3], p[0]))))


def planned_patient(plan: demo.PatientPlan) -> tuple:
    """The same shape as ``written_patient``, from the pure plan."""
    presentations = []
    for presentation in plan.presentations:
        events = presentation.events
        visits = tuple(
            (v.seen_on, v.pain_walking, v.pain_rest, v.relief_since_previous, *(v.moxfq or (None,) * 3), v.notes)
            for event, v in events
            if event == "visit"
        )
        treatments = tuple(
            (
                *(t.kind, t.started_on, t.ended_on, t.response, t.response_assessed_on, t.justification),
                *{**TREATMENT_DETAILS, **t.details}.values(),
                tuple(
                    (c.kind, c.occurred_on, c.notes)
                    for event, c in events
                    if event == "complication" and c.treatment is t
                ),
            )
            for event, t in events
            if event == "start"
        )
        f = presentation.fields
        fields = (f["foot"], f["interspace"], f["onset_on"], f["first_seen_on"], f["symptoms"])
        fields += (f["aggravating_factors"], f["relieving_factors"], f["risk_factors"], f["exam_signs"])
        fields += (f["pain_at_rest"], f["imaging"], f["size_mm"], f["status"], f["notes"])
        presentations.append((*fields, visits, treatments))
    person = (plan.mrn, plan.given_name, plan.family_name, plan.birth_date, plan.sex)
    return (*person, plan.phone, plan.email, tuple(sorted(presentations, key=lambda p: (p[3], p[0]))))


def dataset_fingerprint() -> list[tuple]:
    """Everything the demo writes, including who wrote it, without ids, timestamps or the password."""
    patients = (
        Patient.objects.select_related("clinic")
        .prefetch_related("presentations__visits__clinician", "presentations__treatments__complications")
        .order_by("clinic__slug", "mrn")
    )
    staff = sorted(Membership.objects.values_list("clinic__slug", "user__username", "role"))
    clinicians = sorted(Visit.objects.values_list("presentation__patient__mrn", "clinician__username").distinct())
    return [staff, clinicians, *((p.clinic.slug, written_patient(p)) for p in patients)]


def delete_everything() -> None:
    for model in (FollowUpMessage, FollowUpAnswer, FollowUpLink, FollowUp):  # they protect the cases
        model.objects.all().delete()
    for model in reversed(MODELS):
        rows = model.objects.all()
        if model is get_user_model():
            rows = rows.exclude(pk__in=AuditEvent.objects.exclude(actor=None).values("actor"))  # the trail keeps them
        rows.delete()


# Determinism and re-runs


def test_the_same_options_give_the_same_dataset():
    seed_demo(patients=6, seed=7)
    first = dataset_fingerprint()
    delete_everything()
    seed_demo(patients=6, seed=7)
    assert len(first) == 2 + 6
    assert dataset_fingerprint() == first


def test_a_different_seed_gives_a_different_dataset():
    same = [planned_patient(demo.patient_plan(seed=7, number=n, today=TODAY)) for n in range(1, 7)]
    other = [planned_patient(demo.patient_plan(seed=8, number=n, today=TODAY)) for n in range(1, 7)]
    assert same == [planned_patient(demo.patient_plan(seed=7, number=n, today=TODAY)) for n in range(1, 7)]
    assert all(a != b for a, b in zip(same, other, strict=True))


def test_written_patients_are_exactly_the_planned_patients():
    seed_demo(patients=6, seed=5)
    conf = ladder.LadderSettings.from_settings()
    patients = Patient.objects.prefetch_related("presentations__visits", "presentations__treatments__complications")
    written = sorted(written_patient(patient) for patient in patients)
    planned = [planned_patient(demo.patient_plan(seed=5, number=n, today=TODAY, conf=conf)) for n in range(1, 7)]
    assert written == planned


def test_running_twice_creates_nothing_the_second_time():
    seed_demo(patients=8)
    counts, fingerprint = row_counts(), dataset_fingerprint()
    output = seed_demo(patients=8)
    assert row_counts() == counts
    assert dataset_fingerprint() == fingerprint
    assert "Created 0 clinics, 0 users, 0 patients, 0 presentations, 0 visits" in output
    assert "Skipped 8 patients that already exist." in output


def test_a_larger_re_run_adds_only_the_missing_patients_as_a_fresh_run_would():
    seed_demo(patients=4)
    output = seed_demo(patients=6)
    assert "Created 0 clinics, 0 users, 2 patients" in output
    assert "Skipped 4 patients that already exist." in output
    patients = Patient.objects.prefetch_related("presentations__visits", "presentations__treatments__complications")
    written = sorted(written_patient(patient) for patient in patients)
    assert written == [
        planned_patient(demo.patient_plan(seed=demo.DEFAULT_SEED, number=n, today=TODAY)) for n in range(1, 7)
    ]


def test_if_empty_skips_when_any_patient_exists():
    PatientFactory()
    counts = row_counts()
    output = seed_demo("--if-empty", patients=5)
    assert row_counts() == counts
    assert output == "Skipped seeding: the database already has 1 patients (--if-empty).\n"


def test_if_empty_seeds_an_empty_database():
    seed_demo("--if-empty", patients=3)
    assert Patient.objects.count() == 3


def test_a_refused_patient_leaves_nothing_half_written(monkeypatch):
    record_visit = services.visit_record

    def refuse_second_patient(*, presentation, **fields):
        if presentation.patient.mrn == "DEMO-000002":
            raise ValidationError({"pain_walking": "Refused for this test."})
        return record_visit(presentation=presentation, **fields)

    monkeypatch.setattr(services, "visit_record", refuse_second_patient)
    with pytest.raises(CommandError, match=r"Demo patient DEMO-000002 was refused: .*Refused for this test"):
        seed_demo(patients=3)
    assert list(Patient.objects.values_list("mrn", flat=True)) == ["DEMO-000001"]
    assert not Presentation.objects.exclude(patient__mrn="DEMO-000001").exists()


def test_no_progress_bar_is_written_when_not_a_tty(capsys):
    call_command("seed_demo", today=TODAY.isoformat(), patients=2, stdout=io.StringIO())
    assert capsys.readouterr().err == ""


# The default demo (what `make run` shows), seeded once for this class and rolled back after it


@pytest.fixture(scope="class")
def default_demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed_demo()
        transaction.set_rollback(True)


@pytest.mark.usefixtures("default_demo")
class TestTheDefaultDemo:
    def test_every_generated_row_passes_full_clean(self):
        for model in MODELS:
            for row in model.objects.all():
                row.full_clean()

    def test_no_generated_date_is_after_the_reference_day(self):
        dates = [
            *Presentation.objects.values_list("first_seen_on", flat=True),
            *Visit.objects.values_list("seen_on", flat=True),
            *Treatment.objects.values_list("started_on", flat=True),
            *Treatment.objects.exclude(response_assessed_on=None).values_list("response_assessed_on", flat=True),
            *Complication.objects.values_list("occurred_on", flat=True),
        ]
        assert max(dates) <= TODAY

    def test_every_treatment_history_obeys_the_ladder(self):
        for presentation in Presentation.objects.prefetch_related("treatments"):
            treatments = list(presentation.treatments.all())
            for treatment in treatments:
                others = [t for t in treatments if t.pk != treatment.pk]
                if not treatment.justification:
                    assert ladder.treatment_violations(treatment, others) == [], treatment
            assert all(t.justification for t in ladder.skipped_rungs(treatments))
            injections = sorted(t.started_on for t in treatments if t.kind == TreatmentKind.CORTICOSTEROID_INJECTION)
            assert all((later - earlier).days >= 28 for earlier, later in itertools.pairwise(injections))
            assert all(
                first + relativedelta(months=12) <= fourth
                for first, fourth in zip(injections, injections[3:], strict=False)
            )

    def test_the_progression_review_has_content_in_every_list(self, superuser):
        review = selectors.progression_review(user=superuser, today=TODAY)
        assert review.with_reason(selectors.ReviewReason.DUE_FOR_ESCALATION)
        assert review.with_reason(selectors.ReviewReason.STALLED)
        assert review.with_reason(selectors.ReviewReason.SKIPPED_RUNG)
        assert review.with_reason(selectors.ReviewReason.WORSENING)
        assert all(
            t.justification for entry in review.with_reason(selectors.ReviewReason.SKIPPED_RUNG) for t in entry.skipped
        )

    def test_it_has_every_status_some_alternatives_and_a_few_complications(self):
        assert set(Presentation.objects.values_list("status", flat=True)) == set(PresentationStatus.values)
        kinds = set(Treatment.objects.values_list("kind", flat=True))
        assert kinds & set(demo.ALTERNATIVES)
        assert TreatmentKind.NEURECTOMY in kinds
        assert 2 <= Complication.objects.count() <= 10
        assert Visit.objects.filter(moxfq_pain__isnull=False).exists()
        assert Visit.objects.filter(moxfq_pain__isnull=True).exists()

    def test_it_has_due_overdue_completed_missed_and_declined_follow_ups(self):
        statuses = Counter(FollowUp.objects.values_list("status", flat=True))
        for status in ("scheduled", "overdue", "completed", "missed", "declined"):
            assert statuses[status] > 0, status
        due = FollowUp.objects.filter(status="scheduled", window_opens_on__lte=TODAY)
        assert due.exists()  # due now: its window open, not yet answered
        for follow_up in FollowUp.objects.filter(status__in=["overdue", "missed"]).select_related("answer"):
            assert not hasattr(follow_up, "answer")
            assert follow_up.due_on < TODAY or follow_up.due_on < follow_up.presentation.patient.clinic.today()

    def test_follow_up_answers_were_recorded_by_staff_inside_their_windows_by_the_reference_day(self):
        answers = FollowUpAnswer.objects.select_related("follow_up")
        assert answers.count() == FollowUp.objects.filter(status="completed").count()
        for answer in answers:
            follow_up = answer.follow_up
            assert follow_up.window_opens_on <= answer.answered_on <= min(follow_up.window_closes_on, TODAY)
            assert answer.channel in ("in_clinic_tablet", "phone") and answer.recorded_by_id is not None
        assert answers.filter(moxfq_pain__isnull=False).exists()
        assert Counter(answers.values_list("follow_up__time_point", flat=True)).keys() >= {"baseline", "month_6"}

    def test_the_summary_counts_the_follow_ups_by_status(self, default_demo):
        statuses = Counter(FollowUp.objects.values_list("status", flat=True))
        assert f"{statuses['completed']} completed, {statuses['overdue']} overdue, " in default_demo
        assert f"{statuses['missed']} missed" in default_demo

    def test_its_patients_are_mostly_women_with_a_third_interspace_neuroma(self):
        assert Patient.objects.filter(sex=Sex.FEMALE).count() / Patient.objects.count() > 0.7
        assert 0.75 <= Presentation.objects.filter(interspace=3).count() / Presentation.objects.count() <= 0.95

    def test_the_summary_reports_what_was_created(self, default_demo):
        counts = row_counts()
        assert (
            f"Created {counts['Clinic']} clinics, {counts['User']} users, {counts['Patient']} patients, "
            f"{counts['Presentation']} presentations, {counts['Visit']} visits, {counts['Treatment']} treatments, "
            f"{counts['Complication']} complications." in default_demo
        )
        assert counts["Patient"] == demo.DEFAULT_PATIENTS
        assert f"seed {demo.DEFAULT_SEED}, 60 patients over 2 clinics, dated up to 2026-06-30" in default_demo


# The printed follow-up link


def test_the_printed_follow_up_link_opens_and_takes_a_birth_date_and_answers_without_printing_phi(client):
    output = seed_demo(patients=20, today=None)  # seeded on the clinics' today, as `make run` does

    url = re.search(r"follow-up link \(shown only now\): (\S+)", output).group(1)
    assert url.startswith(settings.FOLLOW_UP["BASE_URL"] + "/follow-up/")
    token = url.rstrip("/").rsplit("/", 1)[1]
    link = link_for_token(token)
    patient = link.follow_up.presentation.patient
    for secret in (patient.birth_date.isoformat(), patient.birth_date.strftime("%d/%m/%Y"), patient.mrn):
        assert secret not in output
    assert patient.family_name not in output
    assert f"/admin/cases/followup/{link.follow_up_id}/change/" in output
    page = urlsplit(url).path

    assert client.get(page).status_code == 200
    confirmed = client.post(page, {"birth_date": patient.birth_date.isoformat()})
    assert (confirmed.status_code, confirmed["Location"]) == (302, page)
    submitted = client.post(page, {"pain_walking": 2, "pain_rest": 0, "relief": "partial", "global_impression": 2})

    assert submitted.status_code == 200
    answer = FollowUpAnswer.objects.get(follow_up=link.follow_up)
    assert (answer.channel, answer.link_id, answer.pain_walking) == ("link", link.pk, 2)


# Staff and the demo login


def test_each_clinic_has_a_clinic_admin_two_or_three_podiatrists_and_a_reviewer():
    seed_demo(patients=0, clinics=3)
    assert Clinic.objects.count() == 3
    for clinic in Clinic.objects.all():
        staff = Membership.objects.filter(clinic=clinic).exclude(user__username__in=demo.DEMO_LOGIN_USERNAMES)
        roles = Counter(staff.values_list("role", flat=True))
        assert roles[Role.CLINIC_ADMIN] == 1
        assert roles[Role.REVIEWER] == 1
        assert roles[Role.PODIATRIST] in (2, 3)


def test_demo_clinicians_are_staff_without_a_usable_password():
    seed_demo(patients=0)
    clinicians = get_user_model().objects.exclude(username__in=demo.DEMO_LOGIN_USERNAMES)
    assert clinicians.count() >= 8
    assert all(user.is_staff and not user.is_superuser and not user.has_usable_password() for user in clinicians)


DEMO_LOGINS = {
    "demo-admin": ("a clinic admin", Role.CLINIC_ADMIN),
    "demo-podiatrist": ("a podiatrist", Role.PODIATRIST),
    "demo-reviewer": ("a reviewer (read-only)", Role.REVIEWER),
}


def printed_passwords(output: str) -> dict[str, str]:
    found = re.findall(r"Demo login for (.+?) \(shown only now, store it\): username (\S+) password (\S+)", output)
    assert [(username, role) for role, username, _ in found] == [(u, r) for u, (r, _) in DEMO_LOGINS.items()]
    return {username: password for _, username, password in found}


def test_each_demo_login_is_created_once_and_its_password_is_printed_once():
    first = seed_demo(patients=0)
    passwords = printed_passwords(first)
    first_clinic = demo.clinic_slugs(1)[0][0]
    for username, (_, role) in DEMO_LOGINS.items():
        user = get_user_model().objects.get(username=username)
        assert user.check_password(passwords[username])
        assert user.is_staff and not user.is_superuser
        membership = Membership.objects.get(user=user)
        assert (membership.clinic.slug, membership.role) == (first_clinic, role)

    second = seed_demo(patients=0)
    assert not any(password in second for password in passwords.values())
    assert "Demo login for" not in second
    assert (
        "Demo logins that already exist keep their passwords, which are not shown: "
        "demo-admin, demo-podiatrist, demo-reviewer." in second
    )
    for username, password in passwords.items():
        assert get_user_model().objects.get(username=username).check_password(password)


def test_a_re_run_adds_a_missing_demo_login_and_prints_only_its_password():
    passwords = printed_passwords(seed_demo(patients=0))
    get_user_model().objects.filter(username="demo-reviewer").delete()

    output = seed_demo(patients=0)
    (line,) = [line for line in output.splitlines() if line.startswith("Demo login for")]
    assert line.startswith("Demo login for a reviewer (read-only) (shown only now, store it): username demo-reviewer ")
    assert passwords["demo-admin"] not in output and passwords["demo-podiatrist"] not in output
    assert "already exist keep their passwords, which are not shown: demo-admin, demo-podiatrist." in output


@pytest.mark.parametrize(
    ("username", "writes", "reviews"),
    [("demo-admin", True, True), ("demo-podiatrist", True, False), ("demo-reviewer", False, False)],
)
def test_each_demo_login_signs_in_and_works_in_its_role(client, username, writes, reviews):
    password = printed_passwords(seed_demo(patients=2))[username]
    assert client.login(username=username, password=password)

    assert client.get("/admin/").status_code == 200
    # Patients alternate between the two clinics: each login sees its own clinic's one patient only.
    patients = client.get("/admin/cases/patient/")
    assert patients.status_code == 200
    assert patients.context["cl"].result_count == 1
    assert client.get("/admin/cases/patient/add/").status_code == (200 if writes else 403)
    assert client.get("/admin/cases/presentation/review/").status_code == (200 if reviews else 403)


# Bad options


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (["--patients", "-1"], {}, "--patients must be between 0 and 100000, got -1."),
        (["--patients", "abc"], {}, "--patients must be a whole number, got 'abc'."),
        ([], {"patients": -1}, "--patients must be between 0 and 100000, got -1."),
        ([], {"patients": "abc"}, "--patients must be a whole number, got 'abc'."),
        (["--clinics", "0"], {}, "--clinics must be between 1 and 50, got 0."),
        (["--seed", "1.5"], {}, "--seed must be a whole number, got '1.5'."),
        (["--today", "2026-13-01"], {}, "--today must be a date written YYYY-MM-DD, got '2026-13-01'."),
        (["--today", "2999-01-01"], {}, "--today cannot be in the future: the clinics' today is"),
        (["--today", "1999-12-31"], {}, "--today must be on or after 2000-01-01, got 1999-12-31."),
    ],
)
def test_bad_options_are_refused_with_a_clear_error_and_write_nothing(args, options, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("seed_demo", *args, stdout=io.StringIO(), **options)
    assert not Clinic.objects.exists()
    assert not get_user_model().objects.exists()


# Shape of the data (DOMAIN.md §7). Plans are pure and are exactly what is written (see
# test_written_patients_are_exactly_the_planned_patients), so a large run is checked without the database.


@pytest.fixture(scope="module")
def planned_run():
    conf = ladder.LadderSettings.from_settings()
    return [demo.patient_plan(seed=demo.DEFAULT_SEED, number=n, today=TODAY, conf=conf) for n in range(1, 3001)]


def _presentations(planned_run):
    return [presentation.fields for plan in planned_run for presentation in plan.presentations]


def _assessed(planned_run, *kinds):
    treatments = [
        treatment
        for plan in planned_run
        for presentation in plan.presentations
        for event, treatment in presentation.events
        if event == "start" and treatment.kind in kinds and treatment.response != Response.PENDING
    ]
    shares = Counter(t.response for t in treatments)
    return {response: shares[response] / len(treatments) for response in Response.values}, treatments


def test_sex_age_and_site_follow_the_epidemiology(planned_run):
    assert 0.78 <= sum(p.sex == Sex.FEMALE for p in planned_run) / len(planned_run) <= 0.91  # 4:1 to ~10:1
    ages = [(p.presentations[0].fields["first_seen_on"] - p.birth_date).days / 365.25 for p in planned_run]
    assert 53 <= statistics.mean(ages) <= 58  # trial means 53–58
    assert sum(40 <= age < 60 for age in ages) / len(ages) > 0.6  # typical age 40–60
    presentations = _presentations(planned_run)
    sites = Counter(p["interspace"] for p in presentations)
    assert 0.85 <= sites[3] / len(presentations) <= 0.90  # 85–90 % in the 3rd space
    assert sites[2] > 3 * (sites[1] + sites[4])  # most of the rest in the 2nd
    assert 0.05 <= (len(presentations) - len(planned_run)) / len(planned_run) <= 0.15  # some bilateral


def test_exam_signs_follow_the_diagnostic_sensitivities(planned_run):
    presentations = _presentations(planned_run)
    signs = Counter(sign for p in presentations for sign in p["exam_signs"])
    assert signs["web_space_tenderness"] / len(presentations) == pytest.approx(0.96, abs=0.02)
    assert signs["mulder_click"] / len(presentations) == pytest.approx(0.61, abs=0.03)
    assert signs["lateral_squeeze"] / len(presentations) == pytest.approx(0.41, abs=0.03)


def test_imaged_neuromas_are_about_five_millimetres(planned_run):
    presentations = _presentations(planned_run)
    sizes = [float(p["size_mm"]) for p in presentations if p["size_mm"] is not None]
    assert all(p["imaging"] != Imaging.NONE for p in presentations if p["size_mm"] is not None)
    assert 4.9 <= statistics.mean(sizes) <= 5.4


def test_responses_follow_the_trial_rates(planned_run):
    conservative, _ = _assessed(planned_run, TreatmentKind.FOOTWEAR_MODIFICATION, TreatmentKind.ORTHOSIS)
    assert conservative["complete"] + conservative["partial"] == pytest.approx(0.63, abs=0.04)  # Saygi 2005
    injection, _ = _assessed(planned_run, TreatmentKind.CORTICOSTEROID_INJECTION)
    assert injection["none"] == pytest.approx(0.20, abs=0.04)  # initial relief ~80 %
    assert 0.44 <= injection["partial"] + injection["none"] <= 0.59  # failure in 12 months 48–55 %
    neurectomy, _ = _assessed(planned_run, TreatmentKind.NEURECTOMY)
    assert neurectomy["complete"] == pytest.approx(0.65, abs=0.07)  # pain-free 65 %
    assert neurectomy["complete"] + neurectomy["partial"] == pytest.approx(0.85, abs=0.06)  # good 85 %


def test_complications_follow_the_reported_rates(planned_run):
    complications = Counter(
        c.kind
        for plan in planned_run
        for presentation in plan.presentations
        for event, c in presentation.events
        if event == "complication"
    )
    _, injections = _assessed(planned_run, TreatmentKind.CORTICOSTEROID_INJECTION)
    assert complications["skin_depigmentation"] / len(injections) == pytest.approx(0.026, abs=0.012)
    _, neurectomies = _assessed(planned_run, TreatmentKind.NEURECTOMY)
    numbness = complications["persistent_numbness"] / len(neurectomies)
    assert 0.03 <= numbness <= 0.51 * demo.BOTHERSOME_NUMBNESS_SHARE * 1.6  # only the bothersome share of 51 %

"""The progression review: each case once with all its reasons, its filters and order, its page, and its cost."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib import admin
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import selectors
from cases.choices import PresentationStatus, Response, TreatmentKind
from cases.models import Presentation
from cases.selectors import ReviewFilters, ReviewReason

from ..factories import PatientFactory, PresentationFactory, TreatmentFactory, UserFactory, VisitFactory

D = datetime.date
REVIEW_URL = "admin:cases_presentation_review"
TEMPLATE = "admin/cases/presentation/progression_review.html"
TODAY = D(2026, 3, 16)
START = TODAY - datetime.timedelta(days=70)


def _days(count: int, start: datetime.date = START) -> datetime.date:
    return start + datetime.timedelta(days=count)


def _presentation(clinic, mrn, *, start=START, **fields):
    patient = PatientFactory(clinic=clinic, mrn=mrn, family_name=f"Family-{mrn}", given_name="Pat")
    onset = start - datetime.timedelta(days=60)
    return PresentationFactory(patient=patient, onset_on=onset, first_seen_on=start, **fields)


def _failed_footwear(clinic, mrn, *, start=START, clinician=None):
    """Footwear modification gave no relief after its six weeks: due to escalate to orthosis."""
    presentation = _presentation(clinic, mrn, start=start)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        response=Response.NONE,
        response_assessed_on=_days(42, start),
        **({"clinician": clinician} if clinician else {}),
    )
    return presentation


def _stalled(clinic, mrn, *, start=START):
    """The footwear trial ended four weeks ago and nobody recorded a response."""
    presentation = _presentation(clinic, mrn, start=start)
    TreatmentFactory(presentation=presentation, kind=TreatmentKind.FOOTWEAR_MODIFICATION)
    return presentation


def _skipped(clinic, mrn, *, start=START):
    """Went straight from footwear to an injection (justified), and the injection gave complete relief."""
    presentation = _presentation(clinic, mrn, start=start)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        response=Response.PARTIAL,
        response_assessed_on=_days(42, start),
    )
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.CORTICOSTEROID_INJECTION,
        injection_drug="triamcinolone_acetonide",
        started_on=_days(42, start),
        response=Response.COMPLETE,
        response_assessed_on=_days(70, start),
        justification="Patient is a dancer with a performance in three weeks.",
    )
    return presentation


def _worsening(clinic, mrn, *, start=START):
    """Pain at rest during an orthosis trial that followed partial relief from footwear: due and worsening."""
    presentation = _presentation(clinic, mrn, start=start)
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.FOOTWEAR_MODIFICATION,
        response=Response.PARTIAL,
        response_assessed_on=_days(42, start),
    )
    TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.ORTHOSIS,
        orthosis_type="custom_orthosis",
        started_on=_days(42, start),
    )
    VisitFactory(presentation=presentation, seen_on=_days(42, start), pain_walking=4, pain_rest=0)
    VisitFactory(presentation=presentation, seen_on=_days(63, start), pain_walking=5, pain_rest=3)
    return presentation


def _lost(clinic, mrn, *, start=START):
    """A footwear trial that ended thirteen months ago, nobody seen since: lost to follow-up, and stalled."""
    presentation = _presentation(clinic, mrn, start=start - datetime.timedelta(days=440))
    TreatmentFactory(presentation=presentation, kind=TreatmentKind.FOOTWEAR_MODIFICATION)
    return presentation


def _calm(clinic, mrn, *, start=START):
    presentation = _presentation(clinic, mrn, start=start)
    TreatmentFactory(presentation=presentation, kind=TreatmentKind.ORTHOSIS, orthosis_type="metatarsal_pad")
    presentation.status = PresentationStatus.RESOLVED
    presentation.save(update_fields=["status"])
    return presentation


def _every_kind(clinic, *, start=START, suffix=""):
    for make in (_failed_footwear, _stalled, _skipped, _worsening, _lost, _calm):
        make(clinic, make.__name__.strip("_").upper() + suffix, start=start)


def _review(user, **query):
    return selectors.progression_review(user=user, today=TODAY, query=query)


def _by_mrn(review) -> dict[str, tuple[ReviewReason, ...]]:
    return {entry.presentation.patient.mrn: entry.reasons for entry in review.entries}


# The selector


def test_each_case_appears_once_with_all_its_reasons(clinic_admin, clinic):
    _every_kind(clinic)

    review = _review(clinic_admin)

    assert _by_mrn(review) == {
        "FAILED_FOOTWEAR": (ReviewReason.DUE_FOR_ESCALATION,),
        "STALLED": (ReviewReason.STALLED,),
        "SKIPPED": (ReviewReason.SKIPPED_RUNG,),
        "WORSENING": (ReviewReason.DUE_FOR_ESCALATION, ReviewReason.WORSENING),
        "LOST": (ReviewReason.STALLED, ReviewReason.LOST_TO_FOLLOW_UP),
    }
    assert [entry.presentation.patient.mrn for entry in review.entries] == sorted(_by_mrn(review))
    assert review.total == 5


def test_an_entry_carries_its_public_rung_clinician_and_recommendation(clinic_admin, clinic):
    clinician = UserFactory(username="kim", first_name="Kim", last_name="Osei")
    due = _failed_footwear(clinic, "DUE", clinician=clinician)

    (entry,) = _review(clinic_admin).entries

    assert entry.presentation == due
    assert (entry.rung, entry.rung_label) == (1, "1 · footwear modification")
    assert (entry.clinician, entry.clinician_name) == (clinician, "Kim Osei")
    assert (entry.patient_name, entry.site) == ("Family-DUE, Pat", "Right · interspace 3")
    assert entry.recommendation.summary == "Escalate to 2 · orthosis"
    assert entry.recommendation.reason == (
        "No relief from footwear modification (assessed on 16 Feb 2026; its 6-week trial ended on 16 Feb 2026). "
        "Escalate to 2 · orthosis."
    )


def test_the_old_per_reason_lists_are_views_of_the_same_entries(clinic_admin, clinic):
    _every_kind(clinic)

    review = _review(clinic_admin)

    worsening = review.entries[[e.presentation.patient.mrn for e in review.entries].index("WORSENING")]
    assert worsening in review.with_reason(ReviewReason.DUE_FOR_ESCALATION)
    assert worsening in review.with_reason(ReviewReason.WORSENING)
    assert [e.presentation.patient.mrn for e in review.with_reason(ReviewReason.LOST_TO_FOLLOW_UP)] == ["LOST"]
    assert [[t.kind for t in e.skipped] for e in review.with_reason(ReviewReason.SKIPPED_RUNG)] == [
        [TreatmentKind.CORTICOSTEROID_INJECTION]
    ]


@pytest.mark.parametrize(
    ("query", "listed"),
    [
        ({"reason": "worsening"}, {"WORSENING"}),
        ({"reason": "stalled"}, {"STALLED", "LOST"}),
        ({"reason": "lost_to_follow_up"}, {"LOST"}),
        ({"rung": "2"}, {"WORSENING"}),
        ({"rung": "1", "reason": "due_for_escalation"}, {"FAILED_FOOTWEAR"}),
        ({"rung": "3"}, {"SKIPPED"}),
        ({"rung": "3.5"}, set()),
    ],
)
def test_filters_by_reason_and_public_rung(clinic_admin, clinic, query, listed):
    _every_kind(clinic)

    review = _review(clinic_admin, **query)

    assert set(_by_mrn(review)) == listed
    assert (review.errors, review.total) == ({}, 5)


def test_filters_by_treating_clinician_and_offers_the_clinicians_of_every_listed_case(clinic_admin, clinic):
    kim = UserFactory(username="kim", first_name="Kim", last_name="Osei")
    _failed_footwear(clinic, "KIMS", clinician=kim)
    _stalled(clinic, "OTHER")

    review = _review(clinic_admin, clinician=str(kim.pk))

    assert set(_by_mrn(review)) == {"KIMS"}
    assert len(review.clinicians) == 2 and (kim.pk, "Kim Osei") in review.clinicians


def test_sorts_by_rung_and_by_longest_unseen(clinic_admin, clinic):
    _every_kind(clinic)

    by_rung = [e.presentation.patient.mrn for e in _review(clinic_admin, sort="-rung").entries]
    unseen = [e.presentation.patient.mrn for e in _review(clinic_admin, sort="last_seen").entries]

    assert by_rung[0] == "SKIPPED" and by_rung[1] == "WORSENING"
    assert unseen[0] == "LOST"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"rung": "20"}, "rung", "rung: '20' is not a rung: use 1, 2, 3, 3.5 (alternative) or 4."),
        ({"reason": "sad"}, "reason", "reason must be one of due_for_escalation, stalled, skipped_rung, worsening, "),
        ({"clinician": "kim"}, "clinician", "clinician must be a user id, not 'kim'."),
        ({"sort": "mrn"}, "sort", "sort must be one of clinician, last_seen, patient, rung (a leading - reverses)"),
    ],
)
def test_a_bad_filter_is_named_and_ignored(clinic_admin, clinic, query, field, message):
    _every_kind(clinic)

    review = _review(clinic_admin, **query)

    assert list(review.errors) == [field]
    assert review.errors[field].startswith(message)
    assert len(review.entries) == 5
    assert review.filters == ReviewFilters()


def test_review_leaves_out_other_clinics_cases(clinic_admin, clinic, other_clinic):
    _stalled(clinic, "OURS")
    _stalled(other_clinic, "THEIRS")
    other = UserFactory(username="theirs")
    _failed_footwear(other_clinic, "THEIRS-2", clinician=other)

    review = _review(clinic_admin, clinician=str(other.pk))

    assert review.entries == [] and review.clinicians != [] and review.total == 1
    assert set(_by_mrn(_review(clinic_admin))) == {"OURS"}


def test_the_review_costs_the_same_fixed_queries_for_few_and_many_cases(
    clinic_admin, clinic, other_clinic, django_assert_num_queries
):
    _every_kind(clinic)
    _every_kind(other_clinic)
    # A fresh user object holds no cached clinic roles, so the membership read is counted too.
    fresh = type(clinic_admin).objects.get
    user = fresh(pk=clinic_admin.pk)
    # Memberships, presentations with patient and clinic, treatments with their clinician, visits.
    with django_assert_num_queries(4):
        assert len(_review(user).entries) == 5

    for number in range(10):
        _every_kind(clinic, start=START - datetime.timedelta(days=number), suffix=f"-{number}")
    user = fresh(pk=clinic_admin.pk)
    with django_assert_num_queries(4):
        assert len(_review(user, reason="stalled", sort="-rung").entries) == 22


# The page, rendered from the selector's result (the view in cases/admin.py passes it as ``review``)


def _render(user, **query) -> str:
    request = RequestFactory().get("/admin/cases/presentation/review/", query)
    request.user = user
    context = {
        **admin.site.each_context(request),
        "title": "Progression review",
        "opts": Presentation._meta,
        "review": _review(user, **query),
    }
    return render_to_string(TEMPLATE, context, request=request)


def _row(page: str, presentation) -> str:
    match = re.search(rf'<tr id="case-{presentation.pk}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {presentation.patient.mrn}"
    return match.group(1)


def test_the_page_lists_each_case_in_one_row_with_all_its_reasons(clinic_admin, clinic):
    worsening = _worsening(clinic, "WORSE")
    skipped = _skipped(clinic, "SKIP")

    page = _render(clinic_admin)

    assert page.count(f'<tr id="case-{worsening.pk}">') == 1
    row = _row(page, worsening)
    assert "<li>Due for escalation</li>" in row and "<li>Worsening</li>" in row
    assert f'href="{reverse("admin:cases_presentation_change", args=[worsening.pk])}"' in row
    assert "Family-WORSE, Pat" in row and "2 · orthosis" in row
    assert "Escalate to 3 · corticosteroid injection (worsening)" in row
    assert "rest pain 3/10 at the visit of 9 Mar 2026" in row
    assert "Skipped to: Corticosteroid injection from 16 Feb 2026" in _row(page, skipped)


def test_the_page_shows_every_day_in_the_clinics_locale(clinic_admin, clinic):
    lost = _lost(clinic, "LOST")

    row = _row(_render(clinic_admin), lost)

    assert "<td>22 Oct 2024</td>" in row  # last seen, as the |date filter writes it
    assert "nobody has seen the patient since 22 Oct 2024" in row
    assert not re.search(r"\d{4}-\d{2}-\d{2}", row)


def test_the_filter_form_keeps_the_chosen_values_and_names_ignored_ones(clinic_admin, clinic):
    _every_kind(clinic)

    page = _render(clinic_admin, rung="3.5", reason="worsening", sort="nonsense")

    assert '<option value="3.5" selected>3–4 · alternative</option>' in page
    assert '<option value="worsening" selected>Worsening</option>' in page
    assert 'role="alert"' in page and "sort must be one of" in page
    assert "No cases match these filters." in page
    for control in ("clinician", "rung", "reason", "sort"):
        assert f'<label for="review-{control}">' in page and f'id="review-{control}" name="{control}"' in page


def test_the_page_has_no_inline_script_or_style(clinic_admin, clinic):
    _every_kind(clinic)

    content = _render(clinic_admin).split('<div id="content-main">', 1)[1]

    assert "<script" not in content and "style=" not in content
    assert not re.search(r"\son[a-z]+=", content)


# The page over HTTP


@pytest.mark.parametrize(("role", "status"), [("podiatrist", 403), ("reviewer", 403)])
def test_review_is_forbidden_to_podiatrists_and_reviewers(client, request, role, status):
    client.force_login(request.getfixturevalue(role))

    assert client.get(reverse(REVIEW_URL)).status_code == status


def test_review_needs_a_login(client, db):
    response = client.get(reverse(REVIEW_URL))

    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("role", ["clinic_admin", "superuser"])
def test_clinic_admins_and_superusers_open_the_review_in_the_admins_frame(client, request, role, clinic):
    _stalled(clinic, "R-1")
    client.force_login(request.getfixturevalue(role))

    response = client.get(reverse(REVIEW_URL))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Progression review" in page
    assert 'id="site-name"' in page  # the admin's own header, from admin/base_site.html
    assert response.context["available_apps"]  # each_context: the admin's navigation


def test_the_page_lists_the_clinics_cases_once_each_filtered_by_its_query(client, clinic_admin, clinic, other_clinic):
    start = clinic.today() - datetime.timedelta(days=70)
    _every_kind(clinic, start=start)
    _stalled(other_clinic, "THEIRS", start=start)
    client.force_login(clinic_admin)

    response = client.get(reverse(REVIEW_URL), {"reason": "worsening"})

    review = response.context["review"]
    assert [entry.presentation.patient.mrn for entry in review.entries] == ["WORSENING"]
    assert (review.total, review.filters.reason) == (5, ReviewReason.WORSENING)
    assert "THEIRS" not in response.content.decode()


def test_the_page_costs_the_same_queries_for_few_and_many_cases(
    client, clinic_admin, clinic, django_assert_num_queries
):
    start = clinic.today() - datetime.timedelta(days=70)
    client.force_login(clinic_admin)
    _every_kind(clinic, start=start)
    client.get(reverse(REVIEW_URL))  # warm the session and the site's caches

    with CaptureQueriesContext(connection) as few:
        assert len(client.get(reverse(REVIEW_URL)).context["review"].entries) == 5
    for number in range(10):
        _every_kind(clinic, start=start - datetime.timedelta(days=number), suffix=f"-{number}")

    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(reverse(REVIEW_URL)).context["review"].entries) == 55


def test_presentation_changelist_links_to_the_review_for_clinic_admins_only(client, clinic_admin, podiatrist):
    link = f'href="{reverse(REVIEW_URL)}"'

    client.force_login(clinic_admin)
    assert link in client.get(reverse("admin:cases_presentation_changelist")).content.decode()
    client.force_login(podiatrist)
    assert link not in client.get(reverse("admin:cases_presentation_changelist")).content.decode()

"""A clinician's worklist: their own cases by what each needs, paginated, in constant queries; and its counts
on the admin index."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.choices import Response
from cases.selectors import WorklistSection, clinician_worklist

from .known_case import TODAY, footwear_case

pytestmark = pytest.mark.django_db
D = datetime.date


def test_each_case_is_listed_once_under_what_it_needs(clinic, podiatrist, clinic_admin, case):
    # Trial (6 weeks) ended 12 Apr, no response, seen 1 Mar: trial ended with no response.
    stalled = footwear_case(clinic, podiatrist, started_on=D(2026, 3, 1))
    # No relief assessed: due for a decision (escalate to the orthosis).
    failed = footwear_case(
        clinic, podiatrist, started_on=D(2026, 3, 1), response=Response.NONE, assessed_on=D(2026, 4, 12)
    )
    # Nobody has seen the patient since 5 Oct 2025, more than 26 weeks: lost to follow-up.
    lost = footwear_case(clinic, podiatrist, started_on=D(2025, 10, 5))
    # Within its trial: nothing to do yet.
    footwear_case(clinic, podiatrist, started_on=D(2026, 5, 25))
    # Another clinician's case is on their list, not this one.
    footwear_case(clinic, clinic_admin, started_on=D(2026, 3, 1))

    sections = clinician_worklist(user=podiatrist, today=TODAY)

    ids = {section: [entry.presentation.pk for entry in entries] for section, entries in sections.items()}
    assert ids[WorklistSection.LOST_TO_FOLLOW_UP] == [lost.pk]
    assert sorted(ids[WorklistSection.NO_RESPONSE]) == sorted([stalled.pk, case.presentation.pk])
    assert ids[WorklistSection.DUE_FOR_DECISION] == [failed.pk]
    assert ids[WorklistSection.OVERDUE_FOLLOW_UP] == []  # issue 10's hook: none until follow-ups exist
    stalled_entry = next(e for e in sections[WorklistSection.NO_RESPONSE] if e.presentation.pk == stalled.pk)
    assert stalled_entry.overdue_days == (TODAY - D(2026, 4, 12)).days


def test_the_page_shows_rows_with_their_action_and_pages_each_section(as_podiatrist, clinic, podiatrist):
    for _ in range(27):
        footwear_case(clinic, podiatrist, started_on=D(2026, 3, 1))

    first = as_podiatrist.get(reverse("worklist")).content.decode()
    second = as_podiatrist.get(reverse("worklist"), {"no_response": 2}).content.decode()

    assert first.count('class="worklist-row"') == 25
    assert second.count('class="worklist-row"') == 2
    assert "Trial ended, no response recorded (27)" in first
    assert "Record the response" in first
    assert "Page 1 of 2" in first


def test_the_worklist_costs_the_same_queries_for_two_cases_or_thirty(as_podiatrist, clinic, podiatrist):
    for _ in range(2):
        footwear_case(clinic, podiatrist, started_on=D(2026, 3, 1))
    as_podiatrist.get(reverse("worklist"))
    with CaptureQueriesContext(connection) as few:
        as_podiatrist.get(reverse("worklist"))
    for _ in range(28):
        footwear_case(clinic, podiatrist, started_on=D(2026, 3, 1), response=Response.NONE, assessed_on=D(2026, 4, 12))
    with CaptureQueriesContext(connection) as many:
        as_podiatrist.get(reverse("worklist"))

    assert len(many) == len(few)


def test_a_reviewer_treats_nobody_and_is_refused(client, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("worklist")).status_code == 403


def test_the_admin_index_shows_a_podiatrist_their_counts(as_podiatrist, case):
    page = as_podiatrist.get("/admin/").content.decode()

    assert 'id="worklist-module"' in page
    assert "Trial ended, no response recorded" in page
    assert 'id="outcomes-module"' not in page  # the dashboard is for clinic admins and reviewers


def test_the_admin_index_links_review_and_dashboard_for_a_clinic_admin(client, clinic_admin):
    client.force_login(clinic_admin)
    page = client.get("/admin/").content.decode()

    assert reverse("outcomes-dashboard") in page
    assert reverse("admin:cases_presentation_review") in page

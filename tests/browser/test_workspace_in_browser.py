"""The clinicians' workspace in Chromium: each page as each role, the chart drawn for a known case, the one-screen
visit from the keyboard alone, a refused visit, the print view, and an axe-core scan of every page.

Screenshots at 1280 px go to var/screenshots/workspace/, or to docs/workspace/ (the ones docs/workspace.md shows)
with WORKSPACE_SCREENSHOTS=docs.
"""

import os
from pathlib import Path

import pytest
from django.test import Client

from cases.choices import Response
from cases.models import Clinic, Visit
from tests.workspace.known_case import (
    CHART_POINTS,
    INJECTION_MARKERS,
    TODAY,
    TREATMENT_BANDS,
    footwear_case,
    known_case,
)

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / ("docs/workspace" if os.environ.get("WORKSPACE_SCREENSHOTS") == "docs" else "var/screenshots/workspace")


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    # The live server runs in this process, so the clinic's "today" is pinned for its requests too.
    monkeypatch.setattr(Clinic, "today", lambda clinic: TODAY)


@pytest.fixture
def case(clinic, podiatrist):
    return known_case(clinic, podiatrist)


@pytest.fixture
def people(podiatrist, clinic_admin, reviewer, other_podiatrist):
    return {
        "podiatrist": podiatrist,
        "clinic_admin": clinic_admin,
        "reviewer": reviewer,
        "other_clinic": other_podiatrist,
    }


def signed_in(browser, live_server, user, **options):
    """A 1280-pixel browser context with ``user``'s session (signed in by the test client, not the form)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-GB", **options
    )
    context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": live_server.url,
                "secure": True,
                "httpOnly": True,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def pages_of(case) -> dict[str, str]:
    pk = case.presentation.pk
    return {
        "summary": f"/admin/cases/presentation/{pk}/summary/",
        "follow_up_visit": f"/admin/cases/presentation/{pk}/follow-up-visit/",
        "worklist": "/admin/worklist/",
        "outcomes": "/admin/outcomes/",
    }


# page -> role -> what the role gets: 200, 403, or "not found" (the admin's redirect home, as for a missing id)
EXPECTED = {
    "summary": {"podiatrist": 200, "clinic_admin": 200, "reviewer": 200, "other_clinic": "not found"},
    "follow_up_visit": {"podiatrist": 200, "clinic_admin": 200, "reviewer": 403, "other_clinic": "not found"},
    "worklist": {"podiatrist": 200, "clinic_admin": 200, "reviewer": 403, "other_clinic": 200},
    "outcomes": {"podiatrist": 403, "clinic_admin": 200, "reviewer": 200, "other_clinic": 403},
}


@pytest.mark.parametrize("role", ["podiatrist", "clinic_admin", "reviewer", "other_clinic"])
def test_each_workspace_page_answers_each_role(browser, live_server, case, people, role):
    context, page = signed_in(browser, live_server, people[role])
    try:
        for name, url in pages_of(case).items():
            response = page.goto(url)
            expected = EXPECTED[name][role]
            if expected == "not found":
                assert page.url == f"{live_server.url}/admin/", name
                assert "doesn\u2019t exist" in page.locator(".messagelist").inner_text(), name
            else:
                assert response.status == expected, name
            if role == "other_clinic":
                assert "NS-000042" not in page.content() and "Ashworth" not in page.content(), name
    finally:
        context.close()


CHART_FACTS = """() => {
  const chart = Chart.getChart("case-chart");
  const annotations = Chart.registry.getPlugin("annotation").getAnnotations(chart);
  const ids = annotations.map((element) => element.options.id);
  return {
    points: Object.fromEntries(chart.data.datasets.map((set, index) =>
      [set.measureKey, chart.getDatasetMeta(index).data.filter((point) => !point.skip).length])),
    bands: annotations.filter((e) => e.options.id.startsWith("treatment-") && e.width > 0).length,
    injections: ids.filter((id) => id.startsWith("injection-")).length,
    mcid: ids.includes("mcid-pain_walking"),
    baseline: ids.includes("baseline-pain_walking"),
  };
}"""


def test_the_chart_draws_each_point_and_each_treatment_band(browser, live_server, case, podiatrist):
    context, page = signed_in(browser, live_server, podiatrist)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(pages_of(case)["summary"])
        page.locator("#case-chart[data-ready=true]").wait_for()

        facts = page.evaluate(CHART_FACTS)

        assert facts["points"] == CHART_POINTS
        assert facts["bands"] == TREATMENT_BANDS
        assert facts["injections"] == INJECTION_MARKERS
        assert facts["mcid"] and facts["baseline"]
        assert errors == []  # no CSP refusal, no script error
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "case-summary.png", full_page=True)
    finally:
        context.close()


def test_the_follow_up_visit_is_completed_with_the_keyboard_alone(browser, live_server, case, podiatrist):
    context, page = signed_in(browser, live_server, podiatrist)
    try:
        page.goto(pages_of(case)["follow_up_visit"])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "follow-up-visit.png", full_page=True)

        def tab_to(element_id: str) -> None:
            for _ in range(80):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
                    return
            raise AssertionError(f"Tab never reached #{element_id}")

        tab_to("id_visit-pain_walking")
        page.keyboard.type("4")
        page.keyboard.press("Tab")
        page.keyboard.type("0")
        page.keyboard.press("Tab")
        page.keyboard.type("40")
        tab_to("id_response-response")
        page.keyboard.type("Complete")  # a select picks the option typed
        tab_to("save-visit")
        with page.expect_navigation():
            page.keyboard.press("Enter")

        assert page.url.endswith(f"/admin/cases/presentation/{case.presentation.pk}/summary/")
        visit = Visit.objects.filter(presentation=case.presentation).latest("pk")
        assert (visit.seen_on, visit.pain_walking, visit.pain_rest, visit.moxfq_walking_standing) == (TODAY, 4, 0, 40)
        case.injection.refresh_from_db()
        assert (case.injection.response, case.injection.response_assessed_on) == (Response.COMPLETE, TODAY)
    finally:
        context.close()


def test_an_invalid_visit_shows_the_error_beside_the_field_and_writes_nothing(browser, live_server, case, podiatrist):
    context, page = signed_in(browser, live_server, podiatrist)
    visits_before = Visit.objects.count()
    try:
        page.goto(pages_of(case)["follow_up_visit"])
        page.fill("#id_visit-pain_walking", "11")
        page.fill("#id_visit-pain_rest", "0")
        with page.expect_navigation():
            page.click("#save-visit")

        error = page.locator(".field-pain_walking .errorlist")
        assert "10" in error.inner_text()
        assert page.locator("#visit-errors").is_visible()
        assert Visit.objects.count() == visits_before
        page.screenshot(path=SHOTS / "follow-up-visit-error.png", full_page=True)
    finally:
        context.close()


def test_the_summary_prints_as_a_one_or_two_page_letter(browser, live_server, case, podiatrist):
    context, page = signed_in(browser, live_server, podiatrist)
    try:
        page.goto(pages_of(case)["summary"])
        page.locator("#case-chart[data-ready=true]").wait_for()
        page.emulate_media(media="print")

        assert not page.locator("#header").is_visible()
        assert not page.locator(".workspace-actions").is_visible()
        assert page.locator("#case-chart").is_visible()
        assert page.locator(".print-only").is_visible()
        pdf = page.pdf(format="A4")
        pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        assert 1 <= pages <= 2
        page.screenshot(path=SHOTS / "case-summary-print.png", full_page=True)
    finally:
        context.close()


def worklist_cases(clinic, clinician) -> None:
    import datetime

    footwear_case(clinic, clinician, started_on=datetime.date(2025, 10, 5))  # lost to follow-up
    footwear_case(
        clinic, clinician, started_on=datetime.date(2026, 3, 1), response=Response.NONE, assessed_on=TODAY
    )  # due


AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("summary", "podiatrist"),
        ("follow_up_visit", "podiatrist"),
        ("worklist", "podiatrist"),
        ("outcomes", "clinic_admin"),
    ],
)
def test_no_serious_or_critical_accessibility_violation(browser, live_server, case, people, name, role):
    assert AXE.exists(), "axe-core is installed by `npm ci` (make npm)"
    # axe is injected as an inline script, which the page's CSP rightly refuses: this context bypasses it.
    if name == "worklist":  # a case in each of the other sections, so every kind of row is scanned
        worklist_cases(case.presentation.patient.clinic, people["podiatrist"])
    context, page = signed_in(browser, live_server, people[role], bypass_csp=True)
    try:
        page.goto(pages_of(case)[name])
        if name == "summary":
            page.locator("#case-chart[data-ready=true]").wait_for()
        page.add_script_tag(path=str(AXE))

        assert page.evaluate(AXE_RUN) == []
        if name in ("worklist", "outcomes"):  # the summary and the visit are shot by their own tests
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    finally:
        context.close()


MRN_WHITE_SPACE = """[...document.querySelectorAll("td.field-mrn, th.field-mrn, .mrn")]
  .map((cell) => getComputedStyle(cell).whiteSpace)"""


def test_the_admin_fits_a_1280_pixel_screen(browser, live_server, case, clinic_admin):
    pk, patient_id = case.presentation.pk, case.presentation.patient_id
    urls = [
        "/admin/",
        "/admin/cases/patient/",
        "/admin/cases/presentation/",
        "/admin/cases/visit/",
        "/admin/cases/treatment/",
        "/admin/cases/complication/",
        f"/admin/cases/patient/{patient_id}/change/",
        f"/admin/cases/presentation/{pk}/change/",
        f"/admin/cases/treatment/{case.injection.pk}/change/",
        f"/admin/cases/visit/{case.visits[0].pk}/change/",
        "/admin/cases/presentation/review/",
        *pages_of(case).values(),
    ]
    context, page = signed_in(browser, live_server, clinic_admin)
    try:
        for url in urls:
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280, url
            mrn_wrap = page.evaluate(MRN_WHITE_SPACE)
            assert set(mrn_wrap) <= {"nowrap"}, url
        page.goto(f"/admin/cases/presentation/{pk}/change/")
        assert page.locator("h1").inner_text() == "Joan Ashworth · Right foot, interspace 3"
        page.goto("/admin/cases/visit/")
        dates = page.locator("#result_list tbody .field-seen_on").all_inner_texts()
        assert dates[0] == "11 May 2026" and dates[-1] == "5 Jan 2026"  # newest first, one date format
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.goto("/admin/cases/complication/")
        page.screenshot(path=SHOTS / "complications.png", full_page=True)
        page.goto("/admin/cases/presentation/")
        page.screenshot(path=SHOTS / "presentations.png", full_page=True)
        page.goto(f"/admin/cases/patient/{patient_id}/change/")
        assert page.locator(".summary-card a").first.get_attribute("href") == f"/admin/cases/presentation/{pk}/summary/"
        page.screenshot(path=SHOTS / "patient-cards.png", full_page=True)
    finally:
        context.close()


def test_the_admin_index_shows_a_podiatrist_their_worklist_counts(browser, live_server, case, podiatrist):
    context, page = signed_in(browser, live_server, podiatrist)
    try:
        page.goto("/admin/")
        row = page.locator("#worklist-module tr", has_text="Trial ended, no response recorded")
        assert row.locator(".worklist-count").inner_text() == "1"
        page.screenshot(path=SHOTS / "index-podiatrist.png", full_page=True)
    finally:
        context.close()


def test_the_chart_draws_follow_up_answers_when_the_hook_gives_them(
    browser, live_server, case, podiatrist, monkeypatch
):
    import datetime

    from cases import selectors

    marker = selectors.FollowUpMarker(datetime.date(2026, 5, 25), "6 weeks", {"pain_walking": 2, "pain_rest": 0})
    monkeypatch.setattr(selectors, "follow_up_markers", lambda presentation: [marker])
    context, page = signed_in(browser, live_server, podiatrist)
    try:
        page.goto(pages_of(case)["summary"])
        page.locator("#case-chart[data-ready=true]").wait_for()

        assert page.evaluate(CHART_FACTS)["points"] == {**CHART_POINTS, "follow_up": 2}
    finally:
        context.close()

"""Under the Content-Security-Policy, Swagger UI and the admin still work in a real browser, with no violation."""

import pytest

from cases.choices import Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def violations(page):
    """Every CSP violation the page reports, from the browser's own securitypolicyviolation event."""
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    console = []
    page.on("console", lambda message: console.append(message.text))

    def read() -> list[str]:
        reported = page.evaluate("window.__cspViolations")
        return reported + [text for text in console if "Content Security Policy" in text]

    return read


def test_swagger_ui_renders_the_api_under_the_policy(page, violations):
    response = page.goto("/api/docs/")

    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Neuroma case tracker API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 0
    assert violations() == []


def test_the_admin_signs_in_and_lists_cases_under_the_policy(page, violations, clinic):
    admin = UserFactory(username="lead-podiatrist")
    MembershipFactory(user=admin, clinic=clinic, role=Role.CLINIC_ADMIN)

    page.goto("/admin/login/")
    page.fill("#id_username", "lead-podiatrist")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    page.goto("/admin/cases/presentation/")
    page.goto("/admin/cases/patient/add/")

    assert page.locator("#patient_form").count() == 1
    assert violations() == []

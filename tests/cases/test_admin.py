"""The admin through real HTTP: what each clinic role sees and may do, clinic scoping, and bad input refused."""

from __future__ import annotations

import datetime
from html import escape
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases import services
from cases.audit import acting
from cases.choices import PresentationStatus, Response, Role, TreatmentKind
from cases.models import Clinic, Complication, Patient, Presentation

from ..factories import (
    ClinicFactory,
    MembershipFactory,
    PatientFactory,
    PresentationFactory,
    TreatmentFactory,
    UserFactory,
    VisitFactory,
)

D = datetime.date
FIRST_SEEN = D(2026, 1, 5)


# The one helper for admin POSTs: submit what a browser would, read from the rendered page.


class _BrowserForm(HTMLParser):
    """Collects the values a browser would submit from the ``<form id=form_id>`` of an admin page.

    Inline "add another" templates (names containing ``__prefix__``) are kept too, so a test can add a
    row the way the admin's JavaScript does: by copying the template under the next index.
    """

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.values: dict[str, list[str]] = {}
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text: list[str] = []

    def _add(self, name: str, value: str) -> None:
        self.values.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
            return
        if not self.inside or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self._add(name, attrs.get("value") or "on")
                return
            self._add(name, attrs.get("value") or "")
        elif tag == "select" and name:
            self._select, self._options = (name, "multiple" in attrs), []
        elif tag == "option" and self._select:
            self._options.append((attrs.get("value") or "", "selected" in attrs))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]  # a browser submits the first option when none is selected
            for value in chosen:
                self._add(name, value)
            self._select = None
        elif tag == "textarea" and self._textarea:
            self._add(self._textarea, "".join(self._text).removeprefix("\n"))
            self._textarea = None


def _post_value(value) -> list[str]:
    if value is None:
        return [""]
    if isinstance(value, bool):
        return ["on"] if value else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if hasattr(value, "isoformat"):
        return [value.isoformat()]
    if hasattr(value, "pk"):
        return [str(value.pk)]
    return [str(value)]


class ChangePage:
    """An admin add/change page as a browser holds it: its current values, editable, then posted."""

    def __init__(self, client, url: str, form_id: str):
        self.client, self.url = client, url
        self.response = client.get(url)
        assert self.response.status_code == 200, self.response.status_code
        parser = _BrowserForm(form_id)
        parser.feed(self.response.content.decode())
        assert parser.values, f"no <form id={form_id}> on {url}"
        self.values = parser.values

    def set(self, **fields) -> ChangePage:
        for name, value in fields.items():
            self.values[name] = _post_value(value)
        return self

    def add_row(self, prefix: str, **fields) -> int:
        """Add an inline row from the page's empty-form template, as "Add another" does; returns its index."""
        index = int(self.values[f"{prefix}-TOTAL_FORMS"][0])
        template = f"{prefix}-__prefix__-"
        assert any(name.startswith(template) for name in self.values), f"no add-row template for {prefix}"
        for name, value in list(self.values.items()):
            if name.startswith(template):
                self.values[f"{prefix}-{index}-{name.removeprefix(template)}"] = list(value)
        self.values[f"{prefix}-TOTAL_FORMS"] = [str(index + 1)]
        self.set_row(prefix, index, **fields)
        return index

    def set_row(self, prefix: str, index: int, **fields) -> None:
        self.set(**{f"{prefix}-{index}-{name}": value for name, value in fields.items()})

    def row_of(self, prefix: str, record) -> int:
        total = int(self.values[f"{prefix}-TOTAL_FORMS"][0])
        return next(i for i in range(total) if self.values.get(f"{prefix}-{i}-id") == [str(record.pk)])

    def post(self):
        return self.client.post(self.url, {k: v for k, v in self.values.items() if "__prefix__" not in k})


def change_page(client, record) -> ChangePage:
    opts = record._meta
    return ChangePage(client, admin_url(f"{opts.model_name}_change", record.pk), f"{opts.model_name}_form")


def add_page(client, model) -> ChangePage:
    name = model._meta.model_name
    return ChangePage(client, admin_url(f"{name}_add"), f"{name}_form")


def admin_url(name: str, *args) -> str:
    return reverse(f"admin:cases_{name}", args=args)


def form_errors(response) -> list[str]:
    """Every error the admin shows on a re-rendered form, its inlines included."""
    return [str(message) for error_list in response.context["errors"] for message in error_list]


def assert_refused(response, fragment: str) -> None:
    assert response.status_code == 200, f"expected the form again with errors, got {response.status_code}"
    messages = form_errors(response)
    assert any(fragment in message for message in messages), messages
    assert escape(fragment) in response.content.decode()


# Fixtures


@pytest.fixture
def patient(clinic):
    return PatientFactory(clinic=clinic, mrn="N-1001", given_name="Ada", family_name="Okafor")


@pytest.fixture
def presentation(patient):
    return PresentationFactory(patient=patient, first_seen_on=FIRST_SEEN)


@pytest.fixture
def other_presentation(other_clinic):
    patient = PatientFactory(clinic=other_clinic, mrn="S-2002", given_name="Bea", family_name="Southby")
    return PresentationFactory(patient=patient, first_seen_on=FIRST_SEEN)


def _failed(presentation, kind, started_on, clinician, **fields):
    """A conservative treatment that gave no relief, recorded through the service (so the ladder judged it)."""
    treatment = services.treatment_start(
        presentation=presentation, kind=kind, clinician=clinician, started_on=started_on, **fields
    )
    return services.treatment_update(
        treatment=treatment, response=Response.NONE, response_assessed_on=started_on + datetime.timedelta(weeks=6)
    )


def _up_to_injections(presentation, clinician):
    """Footwear and orthosis both failed, so the injection rung is the next step."""
    _failed(presentation, TreatmentKind.FOOTWEAR_MODIFICATION, D(2026, 1, 5), clinician)
    _failed(presentation, TreatmentKind.ORTHOSIS, D(2026, 2, 16), clinician, orthosis_type="metatarsal_pad")


def _inject(presentation, day, clinician, **fields):
    return services.treatment_start(
        presentation=presentation,
        kind=TreatmentKind.CORTICOSTEROID_INJECTION,
        clinician=clinician,
        started_on=day,
        injection_drug="methylprednisolone_acetate",
        **fields,
    )


INJECTION_ROW = {"kind": TreatmentKind.CORTICOSTEROID_INJECTION, "injection_drug": "methylprednisolone_acetate"}


# What each role sees and may do


ROLES = ["podiatrist", "clinic_admin", "reviewer", "superuser"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_presentation_changelist_with_rung_pain_and_last_visit(client, request, role, presentation):
    TreatmentFactory(presentation=presentation, kind=TreatmentKind.FOOTWEAR_MODIFICATION)
    VisitFactory(presentation=presentation, seen_on=D(2026, 2, 2), pain_walking=7)
    client.force_login(request.getfixturevalue(role))

    response = client.get(admin_url("presentation_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    for shown in ["N-1001", "Okafor, Ada", "Right · interspace 3", "1 · footwear modification", ">7<", "2 Feb 2026"]:
        assert shown in page, shown


@pytest.mark.parametrize(("role", "may_change"), [*zip(ROLES, [True, True, False, True], strict=True)])
def test_change_page_is_editable_for_writers_and_read_only_for_reviewers(
    client, request, role, may_change, presentation
):
    client.force_login(request.getfixturevalue(role))

    response = client.get(admin_url("presentation_change", presentation.pk))

    assert response.status_code == 200
    assert response.context["has_change_permission"] is may_change
    assert ('name="_save"' in response.content.decode()) is may_change
    inline_prefixes = {inline.formset.prefix for inline in response.context["inline_admin_formsets"]}
    assert inline_prefixes == {"visits", "treatments"}


@pytest.mark.parametrize(("role", "may_add"), [*zip(ROLES, [True, True, False, True], strict=True)])
def test_only_writers_open_the_add_forms(client, request, role, may_add):
    client.force_login(request.getfixturevalue(role))

    for model in ("patient", "presentation"):
        response = client.get(admin_url(f"{model}_add"))
        assert response.status_code == (200 if may_add else 403), model


def test_reviewer_cannot_save_a_change(client, reviewer, podiatrist, presentation):
    client.force_login(podiatrist)
    page = change_page(client, presentation).set(notes="Reviewer was here")
    client.force_login(reviewer)

    response = page.post()

    assert response.status_code == 403
    presentation.refresh_from_db()
    assert presentation.notes == ""


def test_reviewer_cannot_add_a_patient(client, reviewer, clinic):
    client.force_login(reviewer)

    response = client.post(
        admin_url("patient_add"),
        {"clinic": clinic.pk, "mrn": "R-1", "given_name": "A", "family_name": "B", "birth_date": "1970-01-01"},
    )

    assert response.status_code == 403
    assert not Patient.objects.filter(mrn="R-1").exists()


def test_reviewer_has_the_module_but_no_add_links(client, reviewer, presentation):
    client.force_login(reviewer)

    response = client.get(reverse("admin:index"))

    models = {entry["object_name"]: entry for app in response.context["app_list"] for entry in app["models"]}
    assert {"Patient", "Presentation", "Visit", "Treatment"} <= set(models)
    assert not any(entry["perms"]["add"] for entry in models.values())
    assert "Clinic" not in models and "Membership" not in models


@pytest.mark.parametrize("role", ["podiatrist", "clinic_admin"])
def test_nobody_but_a_superuser_deletes_clinical_records(client, request, role, presentation):
    client.force_login(request.getfixturevalue(role))

    for url in (
        admin_url("presentation_delete", presentation.pk),
        admin_url("patient_delete", presentation.patient.pk),
    ):
        assert client.post(url, {"post": "yes"}).status_code == 403
    assert Presentation.objects.filter(pk=presentation.pk).exists()


def test_superuser_may_delete_a_presentation_with_no_history(client, superuser, presentation):
    client.force_login(superuser)

    response = client.post(admin_url("presentation_delete", presentation.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Presentation.objects.filter(pk=presentation.pk).exists()


def test_archive_action_archives_through_the_service_and_keeps_the_record(as_podiatrist, patient):
    response = as_podiatrist.post(
        admin_url("patient_changelist"), {"action": "archive_selected", "_selected_action": [patient.pk]}
    )

    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.archived is True


def test_reviewer_is_offered_no_actions_and_cannot_archive(client, reviewer, patient):
    client.force_login(reviewer)
    page = client.get(admin_url("patient_changelist"))
    assert page.context["action_form"] is None

    client.post(admin_url("patient_changelist"), {"action": "archive_selected", "_selected_action": [patient.pk]})

    patient.refresh_from_db()
    assert patient.archived is False


def test_clinic_admin_manages_own_clinic_memberships_but_not_clinics(
    client, clinic_admin, podiatrist, other_podiatrist
):
    # The staff rules themselves are specified in tests/cases/test_staff.py.
    client.force_login(clinic_admin)

    listing = client.get(reverse("admin:cases_membership_changelist"))
    own = podiatrist.memberships.get()
    changed = client.post(reverse("admin:cases_membership_change", args=[own.pk]), {"role": Role.REVIEWER})

    assert listing.status_code == 200
    assert {m.user.username for m in listing.context["cl"].result_list} == {"clinic-admin", "podiatrist"}
    assert changed.status_code == 302
    own.refresh_from_db()
    assert own.role == Role.REVIEWER
    assert client.get(reverse("admin:cases_clinic_changelist")).status_code == 403


def test_podiatrist_cannot_see_memberships_or_clinics(as_podiatrist):
    assert as_podiatrist.get(reverse("admin:cases_membership_changelist")).status_code == 403
    assert as_podiatrist.get(reverse("admin:cases_clinic_changelist")).status_code == 403


# Clinic scoping


def _other_clinic_records(other_presentation):
    treatment = TreatmentFactory(presentation=other_presentation)
    visit = VisitFactory(presentation=other_presentation)
    return {
        "patient": other_presentation.patient,
        "presentation": other_presentation,
        "visit": visit,
        "treatment": treatment,
    }


@pytest.mark.parametrize("model", ["patient", "presentation", "visit", "treatment"])
def test_another_clinics_record_by_direct_url_does_not_exist(as_podiatrist, other_presentation, model):
    record = _other_clinic_records(other_presentation)[model]

    response = as_podiatrist.get(admin_url(f"{model}_change", record.pk), follow=True)

    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert "Perhaps it was deleted?" in response.content.decode()
    assert "S-2002" not in response.content.decode() and "Southby" not in response.content.decode()


@pytest.mark.parametrize("model", ["patient", "presentation", "visit", "treatment"])
def test_another_clinics_record_cannot_be_changed_by_posting_to_its_url(as_podiatrist, other_presentation, model):
    record = _other_clinic_records(other_presentation)[model]

    response = as_podiatrist.post(admin_url(f"{model}_change", record.pk), {"notes": "changed"})

    assert response.status_code == 302 and response.url == reverse("admin:index")
    assert type(record).objects.filter(pk=record.pk, updated_at=record.updated_at).exists()


@pytest.mark.parametrize("model", ["patient", "presentation", "visit", "treatment"])
def test_another_clinics_rows_are_absent_from_changelists(as_podiatrist, presentation, other_presentation, model):
    _other_clinic_records(other_presentation)
    TreatmentFactory(presentation=presentation)
    VisitFactory(presentation=presentation)

    response = as_podiatrist.get(admin_url(f"{model}_changelist"))

    page = response.content.decode()
    assert "N-1001" in page
    assert "S-2002" not in page and "Southby" not in page


def test_superuser_sees_every_clinic(client, superuser, presentation, other_presentation):
    client.force_login(superuser)

    page = client.get(admin_url("presentation_changelist")).content.decode()

    assert "N-1001" in page and "S-2002" in page


def test_a_member_of_two_clinics_writes_only_where_their_role_allows(client, presentation, other_presentation):
    user = UserFactory(username="split-role")
    MembershipFactory(user=user, clinic=presentation.patient.clinic, role=Role.PODIATRIST)
    MembershipFactory(user=user, clinic=other_presentation.patient.clinic, role=Role.REVIEWER)
    client.force_login(user)

    own = client.get(admin_url("presentation_change", presentation.pk))
    reviewed = client.get(admin_url("presentation_change", other_presentation.pk))

    assert own.context["has_change_permission"] is True
    assert reviewed.status_code == 200 and reviewed.context["has_change_permission"] is False
    patient_choices = add_page(client, Presentation).response.context["adminform"].form.fields["patient"].queryset
    assert list(patient_choices) == [presentation.patient]


def test_patient_choices_exclude_other_clinics_and_archived_patients(as_podiatrist, patient, other_presentation):
    archived = PatientFactory(clinic=patient.clinic, archived=True)

    choices = add_page(as_podiatrist, Presentation).response.context["adminform"].form.fields["patient"].queryset

    assert patient in choices
    assert other_presentation.patient not in choices and archived not in choices


def test_a_presentation_cannot_be_added_for_another_clinics_patient(as_podiatrist, other_presentation):
    page = add_page(as_podiatrist, Presentation).set(
        patient=other_presentation.patient, foot="left", interspace=2, first_seen_on=FIRST_SEEN
    )

    response = page.post()

    assert_refused(response, "Select a valid choice")
    assert other_presentation.patient.presentations.count() == 1


def test_clinic_choices_are_the_clinics_the_user_writes_in(as_podiatrist, clinic, other_clinic):
    form = add_page(as_podiatrist, Patient).response.context["adminform"].form

    assert list(form.fields["clinic"].queryset) == [clinic]
    assert form.initial["clinic"] == clinic.pk


def test_clinician_choices_are_the_treating_staff_of_the_presentations_clinic(
    as_podiatrist, podiatrist, clinic_admin, reviewer, other_podiatrist, presentation
):
    response = change_page(as_podiatrist, presentation).response

    for inline in response.context["inline_admin_formsets"]:
        clinicians = set(inline.formset.form.base_fields["clinician"].queryset)
        # A reviewer reads only, and another clinic's podiatrist treats nobody here.
        assert clinicians == {podiatrist, clinic_admin}, inline.formset.prefix


def test_a_reviewer_posted_as_clinician_is_a_field_error_and_nothing_is_saved(as_podiatrist, reviewer, presentation):
    page = change_page(as_podiatrist, presentation)
    page.add_row("visits", seen_on=D(2026, 2, 2), pain_walking=5, pain_rest=0, clinician=reviewer.pk)

    response = page.post()

    assert response.status_code == 200
    visits = next(i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == "visits")
    assert [list(form.errors) for form in visits.forms if form.errors] == [["clinician"]]
    assert not presentation.visits.exists()


# Saving through the rules


def test_adding_a_visit_inline_saves_it_with_the_logged_in_clinician(as_podiatrist, podiatrist, presentation):
    page = change_page(as_podiatrist, presentation)
    page.add_row("visits", seen_on=D(2026, 2, 2), pain_walking=5, pain_rest=0)

    response = page.post()

    assert response.status_code == 302, form_errors(response)
    visit = presentation.visits.get()
    assert (visit.seen_on, visit.pain_walking, visit.clinician) == (D(2026, 2, 2), 5, podiatrist)


def test_adding_a_patient_then_a_presentation_inline(as_podiatrist, clinic):
    page = add_page(as_podiatrist, Patient).set(
        mrn="N-2000", given_name="Cy", family_name="Doe", birth_date=D(1968, 3, 1), sex="male"
    )
    assert page.post().status_code == 302
    patient = Patient.objects.get(mrn="N-2000", clinic=clinic)

    page = change_page(as_podiatrist, patient)
    page.set_row("presentations", 0, foot="left", interspace=3, first_seen_on=FIRST_SEEN)
    response = page.post()

    assert response.status_code == 302, form_errors(response)
    assert patient.presentations.get().foot == "left"


def test_pain_above_ten_on_a_visit_is_refused(as_podiatrist, presentation):
    page = change_page(as_podiatrist, presentation)
    page.add_row("visits", seen_on=D(2026, 2, 2), pain_walking=11, pain_rest=0)

    response = page.post()

    assert_refused(response, "Ensure this value is less than or equal to 10.")
    assert not presentation.visits.exists()


def test_treatment_ending_before_it_started_is_refused(as_podiatrist, presentation):
    page = change_page(as_podiatrist, presentation)
    page.add_row(
        "treatments", kind=TreatmentKind.FOOTWEAR_MODIFICATION, started_on=D(2026, 1, 5), ended_on=D(2026, 1, 1)
    )

    response = page.post()

    assert_refused(response, "The end date cannot be before the start date.")
    assert not presentation.treatments.exists()


def test_duplicate_mrn_in_the_same_clinic_is_refused(as_podiatrist, patient):
    page = add_page(as_podiatrist, Patient).set(
        mrn=patient.mrn, given_name="Other", family_name="Person", birth_date=D(1980, 1, 1), sex="female"
    )

    response = page.post()

    assert_refused(response, "A patient with this medical record number already exists in this clinic.")
    assert Patient.objects.filter(mrn=patient.mrn).count() == 1


def test_same_mrn_in_another_clinic_is_allowed(client, superuser, patient, other_clinic):
    client.force_login(superuser)
    page = add_page(client, Patient).set(
        clinic=other_clinic, mrn=patient.mrn, given_name="Other", family_name="Person", birth_date=D(1980, 1, 1)
    )
    page.set(sex="female")

    assert page.post().status_code == 302
    assert Patient.objects.filter(mrn=patient.mrn).count() == 2


def test_duplicate_mrn_is_refused_when_editing_a_patient_too(as_podiatrist, patient):
    other = PatientFactory(clinic=patient.clinic, mrn="N-1002")
    page = change_page(as_podiatrist, other).set(mrn=patient.mrn)

    response = page.post()

    assert_refused(response, "A patient with this medical record number already exists in this clinic.")
    other.refresh_from_db()
    assert other.mrn == "N-1002"


def test_neurectomy_with_no_conservative_history_or_justification_is_refused(as_podiatrist, presentation):
    page = change_page(as_podiatrist, presentation)
    page.add_row("treatments", kind=TreatmentKind.NEURECTOMY, approach="dorsal", started_on=D(2026, 2, 2))

    response = page.post()

    assert_refused(response, "Neurectomy needs at least one conservative treatment with partial or no relief")
    assert not presentation.treatments.exists()


def test_neurectomy_with_a_justification_is_accepted(as_podiatrist, presentation):
    page = change_page(as_podiatrist, presentation)
    page.add_row(
        "treatments",
        kind=TreatmentKind.NEURECTOMY,
        approach="dorsal",
        started_on=D(2026, 2, 2),
        justification="14 mm neuroma on MRI; patient's informed choice.",
    )

    response = page.post()

    assert response.status_code == 302, form_errors(response)
    assert presentation.treatments.get().kind == TreatmentKind.NEURECTOMY


def test_fourth_injection_within_twelve_months_added_inline_is_refused(as_podiatrist, podiatrist, presentation):
    _up_to_injections(presentation, podiatrist)
    for day in (D(2026, 3, 30), D(2026, 4, 27), D(2026, 5, 25)):
        _inject(presentation, day, podiatrist)
    page = change_page(as_podiatrist, presentation)
    page.add_row("treatments", started_on=D(2026, 6, 22), **INJECTION_ROW)

    response = page.post()

    assert_refused(response, "At most 3 corticosteroid injections are allowed in any 12 months")
    assert presentation.treatments.filter(kind=TreatmentKind.CORTICOSTEROID_INJECTION).count() == 3


def test_two_injections_less_than_four_weeks_apart_in_one_submission_are_refused(
    as_podiatrist, podiatrist, presentation
):
    _up_to_injections(presentation, podiatrist)
    page = change_page(as_podiatrist, presentation)
    page.add_row("treatments", started_on=D(2026, 3, 30), **INJECTION_ROW)
    page.add_row("treatments", started_on=D(2026, 4, 6), **INJECTION_ROW)

    response = page.post()

    assert_refused(response, "Corticosteroid injections must be at least 4 weeks apart; this one is 7 days")
    assert not presentation.treatments.filter(kind=TreatmentKind.CORTICOSTEROID_INJECTION).exists()


def test_two_injections_four_weeks_apart_in_one_submission_are_accepted(as_podiatrist, podiatrist, presentation):
    _up_to_injections(presentation, podiatrist)
    page = change_page(as_podiatrist, presentation)
    page.add_row("treatments", started_on=D(2026, 3, 30), **INJECTION_ROW)
    page.add_row("treatments", started_on=D(2026, 4, 27), **INJECTION_ROW)

    response = page.post()

    assert response.status_code == 302, form_errors(response)
    assert presentation.treatments.filter(kind=TreatmentKind.CORTICOSTEROID_INJECTION).count() == 2


def test_a_fourth_injection_in_one_submission_with_the_third_is_refused(as_podiatrist, podiatrist, presentation):
    _up_to_injections(presentation, podiatrist)
    for day in (D(2026, 3, 30), D(2026, 4, 27)):
        _inject(presentation, day, podiatrist)
    page = change_page(as_podiatrist, presentation)
    page.add_row("treatments", started_on=D(2026, 5, 25), **INJECTION_ROW)
    page.add_row("treatments", started_on=D(2026, 6, 22), **INJECTION_ROW)

    response = page.post()

    assert_refused(response, "At most 3 corticosteroid injections are allowed in any 12 months")
    assert presentation.treatments.filter(kind=TreatmentKind.CORTICOSTEROID_INJECTION).count() == 2


def test_recording_a_response_does_not_reopen_the_ladder_against_later_treatments(
    as_podiatrist, podiatrist, presentation
):
    _up_to_injections(presentation, podiatrist)
    first = _inject(presentation, D(2026, 3, 30), podiatrist)
    _inject(presentation, D(2026, 4, 27), podiatrist)
    _inject(presentation, D(2026, 5, 25), podiatrist)
    _inject(presentation, D(2026, 6, 22), podiatrist, justification="Patient declines surgery; relief lasts 4 weeks.")
    page = change_page(as_podiatrist, presentation)
    page.set_row(
        "treatments", page.row_of("treatments", first), response="partial", response_assessed_on=D(2026, 4, 27)
    )

    response = page.post()

    assert response.status_code == 302, form_errors(response)
    first.refresh_from_db()
    assert first.response == Response.PARTIAL


def test_unusual_dose_needs_the_visible_confirmation(as_podiatrist, podiatrist, presentation):
    _up_to_injections(presentation, podiatrist)
    page = change_page(as_podiatrist, presentation)
    assert "treatments-__prefix__-unusual_dose_confirmed" in page.response.content.decode()
    index = page.add_row("treatments", started_on=D(2026, 3, 30), dose_mg=80, **INJECTION_ROW)

    refused = page.post()
    page.set_row("treatments", index, unusual_dose_confirmed=True)
    accepted = page.post()

    assert_refused(refused, "A dose of 80 mg of methylprednisolone acetate is outside the usual 20–40 mg.")
    assert accepted.status_code == 302, form_errors(accepted)


def test_two_active_presentations_of_one_site_in_one_submission_are_refused(as_podiatrist, patient):
    page = change_page(as_podiatrist, patient)
    page.set_row("presentations", 0, foot="left", interspace=2, first_seen_on=FIRST_SEEN)
    page.add_row("presentations", foot="left", interspace=2, first_seen_on=FIRST_SEEN)

    response = page.post()

    assert_refused(response, "This patient already has an active presentation for this foot and interspace.")
    assert not patient.presentations.exists()


def test_treatment_page_redating_an_injection_too_close_to_another_is_refused(as_podiatrist, podiatrist, presentation):
    _up_to_injections(presentation, podiatrist)
    _inject(presentation, D(2026, 3, 30), podiatrist)
    second = _inject(presentation, D(2026, 4, 27), podiatrist)
    page = change_page(as_podiatrist, second).set(started_on=D(2026, 4, 13))

    response = page.post()

    assert_refused(response, "Corticosteroid injections must be at least 4 weeks apart")
    second.refresh_from_db()
    assert second.started_on == D(2026, 4, 27)


def test_a_treatment_added_in_the_admin_is_judged_again_under_its_presentations_lock(
    as_podiatrist, presentation, on_postgres
):
    # The form's validation runs before any lock (it only decides what to show); the service then locks the
    # presentation and judges the row against its siblings again before inserting it.
    page = change_page(as_podiatrist, presentation)
    page.add_row("treatments", kind=TreatmentKind.FOOTWEAR_MODIFICATION, started_on=D(2026, 1, 5))

    with CaptureQueriesContext(connection) as queries:
        assert page.post().status_code == 302

    statements = [query["sql"] for query in queries.captured_queries]
    insert = next(i for i, sql in enumerate(statements) if sql.startswith('INSERT INTO "cases_treatment"'))
    lock = max(i for i, sql in enumerate(statements[:insert]) if "FOR UPDATE" in sql and '"cases_presentation"' in sql)
    # The service reads the siblings with the visits in one UNION ALL (cases.outcomes.presentation_history).
    sibling_reads = [
        i
        for i, sql in enumerate(statements[:insert])
        if sql.lstrip("(").startswith("SELECT") and 'FROM "cases_treatment"' in sql
    ]
    assert sibling_reads and lock < sibling_reads[-1] < insert


def test_treatments_are_started_from_their_presentation_not_a_separate_add_form(as_podiatrist):
    assert as_podiatrist.get(admin_url("treatment_add")).status_code == 403
    assert as_podiatrist.get(admin_url("visit_add")).status_code == 403


def test_complication_is_recorded_on_its_treatments_page(as_podiatrist, podiatrist, presentation):
    _up_to_injections(presentation, podiatrist)
    injection = _inject(presentation, D(2026, 3, 30), podiatrist)
    page = change_page(as_podiatrist, injection)
    page.set_row("complications", 0, kind="skin_depigmentation", occurred_on=D(2026, 4, 20))

    response = page.post()

    assert response.status_code == 302, form_errors(response)
    assert Complication.objects.get().treatment == injection


def test_complication_before_its_treatment_is_refused(as_podiatrist, podiatrist, presentation):
    _up_to_injections(presentation, podiatrist)
    injection = _inject(presentation, D(2026, 3, 30), podiatrist)
    page = change_page(as_podiatrist, injection)
    page.set_row("complications", 0, kind="skin_depigmentation", occurred_on=D(2026, 3, 1))

    response = page.post()

    assert_refused(response, "A complication cannot precede its treatment")
    assert not Complication.objects.exists()


def test_presentation_page_shows_the_recommendation(as_podiatrist, podiatrist, presentation, monkeypatch):
    _failed(presentation, TreatmentKind.FOOTWEAR_MODIFICATION, D(2026, 1, 5), podiatrist)
    # The ladder judges on the clinic's today: a fixed one, so the case is not lost to follow-up by the wall clock.
    monkeypatch.setattr(Clinic, "today", lambda clinic: D(2026, 3, 1))

    page = as_podiatrist.get(admin_url("presentation_change", presentation.pk)).content.decode()

    assert "Escalate to 2 · orthosis" in page
    assert (
        "No relief from footwear modification (assessed on 16 Feb 2026; its 6-week trial ended on 16 Feb 2026). "
        "Escalate to 2 · orthosis."
    ) in page


# Changelist filters and search


def _case(clinic, mrn, *, family_name="Case", steps=(), response=Response.PENDING):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic, mrn=mrn, family_name=family_name))
    for kind in steps:
        TreatmentFactory(
            presentation=presentation,
            kind=kind,
            orthosis_type="metatarsal_pad" if kind == TreatmentKind.ORTHOSIS else "",
            response=response,
            response_assessed_on=None if response == Response.PENDING else FIRST_SEEN + datetime.timedelta(weeks=6),
        )
    return presentation


def _listed_mrns(client, **params) -> set[str]:
    response = client.get(admin_url("presentation_changelist"), params)
    assert response.status_code == 200
    return {presentation.patient.mrn for presentation in response.context["cl"].result_list}


def test_rung_filter_includes_none_yet(as_podiatrist, clinic):
    _case(clinic, "A-NONE")
    _case(clinic, "A-FOOT", steps=[TreatmentKind.FOOTWEAR_MODIFICATION])
    _case(clinic, "A-ORTH", steps=[TreatmentKind.FOOTWEAR_MODIFICATION, TreatmentKind.ORTHOSIS])

    assert _listed_mrns(as_podiatrist, rung="none") == {"A-NONE"}
    assert _listed_mrns(as_podiatrist, rung="2") == {"A-ORTH"}
    assert _listed_mrns(as_podiatrist, rung="not-a-rung") == {"A-NONE", "A-FOOT", "A-ORTH"}


def test_response_filter_matches_the_current_treatments_response(as_podiatrist, clinic):
    failed = _case(clinic, "B-FAILED", steps=[TreatmentKind.FOOTWEAR_MODIFICATION], response=Response.NONE)
    _case(clinic, "B-PENDING", steps=[TreatmentKind.FOOTWEAR_MODIFICATION])
    # Footwear failed earlier, but the current rung (orthosis) is still pending: not a "no relief" case.
    moved_on = _case(clinic, "B-MOVED", steps=[TreatmentKind.FOOTWEAR_MODIFICATION], response=Response.NONE)
    TreatmentFactory(presentation=moved_on, kind=TreatmentKind.ORTHOSIS, orthosis_type="metatarsal_pad")

    assert _listed_mrns(as_podiatrist, current_response="none") == {failed.patient.mrn}
    assert _listed_mrns(as_podiatrist, current_response="pending") == {"B-PENDING", "B-MOVED"}


def test_status_and_interspace_filters(as_podiatrist, clinic):
    _case(clinic, "C-ACTIVE")
    closed = _case(clinic, "C-CLOSED")
    closed.status, closed.interspace = PresentationStatus.CLOSED, 2
    closed.save(update_fields=["status", "interspace"])

    assert _listed_mrns(as_podiatrist, status__exact="closed") == {"C-CLOSED"}
    assert _listed_mrns(as_podiatrist, interspace="3") == {"C-ACTIVE"}


def test_clinic_filter_offers_only_the_users_clinics(client, presentation, other_presentation):
    third = _case(ClinicFactory(name="Third Clinic"), "T-1")
    user = UserFactory(username="two-clinics")
    for own in (presentation, other_presentation):
        MembershipFactory(user=user, clinic=own.patient.clinic, role=Role.PODIATRIST)
    client.force_login(user)

    response = client.get(admin_url("presentation_changelist"))

    clinic_filter = next(f for f in response.context["cl"].filter_specs if f.title == "clinic")
    offered = {name for _, name in clinic_filter.lookup_choices}
    assert offered == {"Northside Foot Clinic", "Southside Podiatry"}
    assert third.patient.clinic.name not in response.content.decode()


def test_clinic_filter_is_hidden_for_a_single_clinic_user(as_podiatrist, presentation, other_presentation):
    response = as_podiatrist.get(admin_url("presentation_changelist"))

    assert "clinic" not in {f.title for f in response.context["cl"].filter_specs}
    assert "Southside Podiatry" not in response.content.decode()


def test_search_by_mrn_and_by_patient_name(as_podiatrist, clinic):
    _case(clinic, "D-123", family_name="Mulder")
    _case(clinic, "D-456", family_name="Morton")

    assert _listed_mrns(as_podiatrist, q="D-456") == {"D-456"}
    assert _listed_mrns(as_podiatrist, q="mulder") == {"D-123"}


# Query counts: a list page costs the same whatever its length


def _presentations_with_history(clinic, count: int, start: int) -> None:
    for number in range(start, start + count):
        presentation = _case(clinic, f"Q-{number:03d}", steps=[TreatmentKind.FOOTWEAR_MODIFICATION])
        VisitFactory(presentation=presentation, pain_walking=number % 11)


@pytest.mark.parametrize("model", ["presentation", "patient", "visit", "treatment"])
def test_changelist_query_count_is_the_same_for_5_and_30_rows(
    as_podiatrist, clinic, other_clinic, model, django_assert_num_queries
):
    url = admin_url(f"{model}_changelist")
    _presentations_with_history(clinic, 5, start=0)
    _presentations_with_history(other_clinic, 3, start=100)
    with CaptureQueriesContext(connection) as five_rows:
        assert len(as_podiatrist.get(url).context["cl"].result_list) == 5

    _presentations_with_history(clinic, 25, start=5)

    with django_assert_num_queries(len(five_rows.captured_queries)):
        assert len(as_podiatrist.get(url).context["cl"].result_list) == 30


def test_clinic_filtered_superuser_changelist_has_constant_queries(
    client, superuser, clinic, django_assert_num_queries
):
    client.force_login(superuser)
    url = admin_url("presentation_changelist") + f"?patient__clinic__id__exact={clinic.pk}&rung=1"
    _presentations_with_history(clinic, 5, start=0)
    with CaptureQueriesContext(connection) as five_rows:
        client.get(url)
    _presentations_with_history(clinic, 25, start=5)

    with django_assert_num_queries(len(five_rows.captured_queries)):
        assert len(client.get(url).context["cl"].result_list) == 30


# One write path


def _trail_of(record) -> tuple[list[tuple], list[tuple]]:
    """The audit events and history rows that writes to ``record`` left, without what differs by door or time."""
    from cases.audit import AuditEvent

    events = AuditEvent.objects.filter(object_type=record._meta.label_lower, object_id=str(record.pk)).exclude(
        action="view"
    )
    history = type(record).history.filter(id=record.pk).order_by("history_id")
    return (
        [(e.action, e.actor_id, e.role, e.clinic_id, e.patient_ids) for e in events.order_by("pk")],
        [(h.history_type, h.history_user_id, h.pain_walking, h.notes, h.history_change_reason or "") for h in history],
    )


def test_an_admin_save_and_an_api_save_of_the_same_change_leave_the_same_audit_and_history(
    as_podiatrist, podiatrist, presentation
):
    from rest_framework.test import APIClient

    with acting(user=podiatrist):
        through_admin, through_api = (
            services.visit_record(
                presentation=presentation, clinician=podiatrist, seen_on=FIRST_SEEN, pain_walking=6, pain_rest=0
            )
            for _ in range(2)
        )

    page = change_page(as_podiatrist, through_admin)
    assert page.set(pain_walking=3, notes="Wider shoes help.").post().status_code == 302
    api = APIClient()
    api.force_authenticate(podiatrist)
    response = api.patch(
        f"/api/v1/visits/{through_api.pk}/", {"pain_walking": 3, "notes": "Wider shoes help."}, format="json"
    )
    assert response.status_code == 200, response.content

    admin_trail, api_trail = _trail_of(through_admin), _trail_of(through_api)
    assert admin_trail == api_trail
    assert [event[0] for event in admin_trail[0]] == ["create", "update"]
    assert [row[:3] for row in admin_trail[1]] == [("+", podiatrist.pk, 6), ("~", podiatrist.pk, 3)]


def test_an_admin_save_that_changes_nothing_writes_no_history(as_podiatrist, podiatrist, presentation):
    with acting(user=podiatrist):
        visit = services.visit_record(
            presentation=presentation, clinician=podiatrist, seen_on=FIRST_SEEN, pain_walking=6, pain_rest=0
        )

    assert change_page(as_podiatrist, visit).post().status_code == 302

    assert visit.history.count() == 1
    assert _trail_of(visit)[0] == [
        ("create", podiatrist.pk, Role.PODIATRIST, presentation.patient.clinic_id, [presentation.patient_id])
    ]

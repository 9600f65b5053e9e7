"""Every routed URL, as every role, answers what docs/permissions.md says — and another clinic's record is never found.

The matrix is read from the document, not repeated here. Data is built once per module inside an
outer transaction; each test runs in a savepoint, and each request in its own, so a write by one
request never changes what the next one sees.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.forms import MultiWidget
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken, TokenScope
from cases.choices import ComplicationKind, Foot, InjectionDrug, Role, TreatmentKind
from cases.followups.models import FollowUp, FollowUpAnswer
from cases.models import Clinic, Complication, Membership, Patient, Presentation, Treatment, Visit

from .factories import (
    ClinicFactory,
    ComplicationFactory,
    MembershipFactory,
    PatientFactory,
    PresentationFactory,
    TreatmentFactory,
    UserFactory,
    VisitFactory,
)
from .followups.factories import FollowUpFactory, FollowUpLinkFactory
from .permission_matrix import (
    FORMAT_SUFFIX,
    MATRIX_DOC,
    ROLES,
    MatrixRow,
    read_matrix,
    routed_templates,
    suffix_variants,
    without_format_suffix,
)

MATRIX = read_matrix()
PEOPLE = ("podiatrist", "clinic_admin", "reviewer", "superuser")
TOKENS = {"token_read": TokenScope.READ, "token_read_write": TokenScope.READ_WRITE}
CLINIC_MEMBERS = ("podiatrist", "clinic_admin", "reviewer", "token_read", "token_read_write")
DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(weeks=1)
LOGIN_PATH = "/admin/login/"
NOT_FOUND_REDIRECT = "/admin/"
UNUSED_PK = 987_654
User = get_user_model()


# The two clinics


@dataclass
class ClinicRecords:
    """One clinic's records: a case on its third rung, plus records nothing depends on (for deletes)."""

    clinic: Clinic
    patient: Patient
    presentation: Presentation
    visit: Visit
    orthosis: Treatment
    injection: Treatment
    complication: Complication
    membership: Membership
    spare_patient: Patient
    spare_presentation: Presentation
    follow_up: FollowUp | None = None

    @property
    def identifiers(self) -> list[str]:
        """What must never appear in another clinic's responses."""
        return [self.patient.mrn, self.patient.given_name, self.patient.family_name, self.spare_patient.mrn]


@dataclass
class World:
    own: ClinicRecords
    other: ClinicRecords
    users: dict[str, object]
    token_secrets: dict[str, str]
    group: Group
    spare_clinic: Clinic
    spare_user: object
    annex: Clinic  # a second clinic the clinic admin administers, where their staff can be given a membership
    admin_bodies: dict[str, dict] = field(default_factory=dict)


def _clinic_records(slug: str, mrn: str, given: str, family: str, clinician) -> ClinicRecords:
    clinic = ClinicFactory(name=f"{slug.title()} Foot Clinic", slug=slug)
    membership = MembershipFactory(user=clinician, clinic=clinic, role=Role.PODIATRIST)
    today = clinic.today()
    first_seen = today - 200 * DAY
    patient = PatientFactory(clinic=clinic, mrn=mrn, given_name=given, family_name=family)
    presentation = PresentationFactory(patient=patient, onset_on=None, first_seen_on=first_seen)
    TreatmentFactory(presentation=presentation, clinician=clinician)
    orthosis = TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.ORTHOSIS,
        orthosis_type="metatarsal_pad",
        started_on=first_seen + 6 * WEEK,
        clinician=clinician,
    )
    injection = TreatmentFactory(
        presentation=presentation,
        kind=TreatmentKind.CORTICOSTEROID_INJECTION,
        injection_drug=InjectionDrug.METHYLPREDNISOLONE_ACETATE,
        dose_mg=Decimal("40"),
        volume_ml=Decimal("1.0"),
        started_on=first_seen + 12 * WEEK,
        clinician=clinician,
    )
    spare_presentation = PresentationFactory(
        patient=patient, foot=Foot.LEFT, interspace=1, onset_on=None, first_seen_on=first_seen
    )
    # The baseline due today, its window open, with one live link: every follow-up action can run on it.
    follow_up = FollowUpFactory(presentation=presentation, due_on=today)
    FollowUpLinkFactory(follow_up=follow_up)
    return ClinicRecords(
        follow_up=follow_up,
        clinic=clinic,
        patient=patient,
        presentation=presentation,
        visit=VisitFactory(presentation=presentation, clinician=clinician, pain_walking=6),
        orthosis=orthosis,
        injection=injection,
        complication=ComplicationFactory(treatment=injection, kind=ComplicationKind.SKIN_DEPIGMENTATION),
        membership=membership,
        spare_patient=PatientFactory(clinic=clinic, mrn=f"{mrn}-SPARE", given_name=given, family_name=family),
        spare_presentation=spare_presentation,
    )


def _build_world() -> World:
    users = {
        "podiatrist": UserFactory(username="matrix-podiatrist"),
        "clinic_admin": UserFactory(username="matrix-clinic-admin"),
        "reviewer": UserFactory(username="matrix-reviewer"),
        "superuser": UserFactory(username="matrix-root", is_superuser=True),
    }
    own = _clinic_records("northgate", "NG-0001", "Ottoline", "Quarrington", users["podiatrist"])
    other = _clinic_records("southmere", "SM-0001", "Zebedee", "Vandersloot", UserFactory(username="south-podiatrist"))
    MembershipFactory(user=users["clinic_admin"], clinic=own.clinic, role=Role.CLINIC_ADMIN)
    MembershipFactory(user=users["reviewer"], clinic=own.clinic, role=Role.REVIEWER)
    annex = ClinicFactory(name="Annex Foot Clinic", slug="annex")
    MembershipFactory(user=users["clinic_admin"], clinic=annex, role=Role.CLINIC_ADMIN)
    secrets = {}
    for role in PEOPLE:
        _, secrets[role] = ApiToken.issue(user=users[role], name=f"{role} integration", scope=TokenScope.READ_WRITE)
    for role, scope in TOKENS.items():
        _, secrets[role] = ApiToken.issue(user=users["podiatrist"], name=f"{role} integration", scope=scope)
    return World(
        own=own,
        other=other,
        users=users,
        token_secrets=secrets,
        group=Group.objects.create(name="Matrix readers"),
        spare_clinic=ClinicFactory(name="Spare Clinic", slug="spare"),
        spare_user=UserFactory(username="matrix-spare"),
        annex=annex,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The module's records, built once; rolled back when the module is done."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# Which record fills a row's placeholders, and what a write sends


def _audit_event(records: ClinicRecords) -> models.Model:
    # The audit trail is being added alongside this test; its events are looked up, not built, when it lands.
    audit_event = apps.get_model("cases", "AuditEvent")
    action, via = audit_event._meta.get_field("action").choices[0][0], audit_event._meta.get_field("via").choices[0][0]
    return audit_event.objects.create(
        clinic_id=records.clinic.pk, action=action, via=via, object_type="cases.patient",
        object_id=str(records.patient.pk), patient_id=records.patient.pk,
    )  # fmt: skip


RECORD_OF: dict[str, Callable[[World, ClinicRecords], models.Model]] = {
    "patient": lambda world, records: records.patient,
    "presentation": lambda world, records: records.presentation,
    "visit": lambda world, records: records.visit,
    "treatment": lambda world, records: records.injection,
    "complication": lambda world, records: records.complication,
    "follow-up": lambda world, records: records.follow_up,
    "membership": lambda world, records: records.membership,
    "clinic": lambda world, records: records.clinic,
    "API token": lambda world, records: ApiToken.objects.filter(user=world.users["podiatrist"]).first(),
    "user": lambda world, records: records.membership.user,  # the clinic's podiatrist
    "group": lambda world, records: world.group,
    "audit event": lambda world, records: _audit_event(records),
    "sign-in attempt": lambda world, records: AccessAttempt.objects.create(
        username="matrix-podiatrist", failures_since_start=1, ip_address="192.0.2.1"
    ),
    "sign-in log": lambda world, records: AccessLog.objects.create(
        username="matrix-podiatrist", ip_address="192.0.2.1"
    ),
    "failed sign-in": lambda world, records: AccessFailureLog.objects.create(
        username="matrix-podiatrist", ip_address="192.0.2.1"
    ),
}
# What a delete is tried on: a record nothing else depends on (every clinical foreign key is PROTECT).
DELETABLE: dict[str, Callable[[World, ClinicRecords], models.Model]] = {
    "patient": lambda world, records: records.spare_patient,
    "presentation": lambda world, records: records.spare_presentation,
    "visit": lambda world, records: records.visit,
    "treatment": lambda world, records: records.orthosis,
    "clinic": lambda world, records: world.spare_clinic,
    "user": lambda world, records: world.spare_user,
}
CLINIC_SCOPED = frozenset(
    {"patient", "presentation", "visit", "treatment", "complication", "follow-up", "membership", "audit event", "user"}
)
STAFF_PASSWORD = "matrix lantern plantar 42"


def api_create_body(resource: str, records: ClinicRecords) -> dict:
    first_seen = records.presentation.first_seen_on
    return {
        "patient": lambda: {
            "clinic": records.clinic.pk, "mrn": "NG-2001", "given_name": "Grace", "family_name": "Newcomer",
            "birth_date": "1971-09-02", "sex": "female",
        },
        "presentation": lambda: {
            "patient": records.patient.pk, "foot": "left", "interspace": 2, "first_seen_on": str(first_seen),
            "symptoms": ["burning"], "exam_signs": ["mulder_click"],
        },
        "visit": lambda: {
            "presentation": records.presentation.pk, "seen_on": str(first_seen + 16 * WEEK),
            "pain_walking": 4, "pain_rest": 0,
        },
        "treatment": lambda: {
            "presentation": records.presentation.pk, "kind": "corticosteroid_injection",
            "injection_drug": "triamcinolone_acetonide", "dose_mg": "40.0", "volume_ml": "1.5",
            "started_on": str(records.injection.started_on + 6 * WEEK),
        },
        "complication": lambda: {
            "treatment": records.injection.pk, "kind": "fat_pad_atrophy",
            "occurred_on": str(records.injection.started_on + 8 * WEEK),
        },
    }[resource]()  # fmt: skip


def api_change_body(resource: str, records: ClinicRecords) -> dict:
    return {
        "patient": {"phone": "+44 20 7946 0999"},
        "presentation": {"notes": "Wider shoes tried."},
        "visit": {"pain_walking": 3},
        "treatment": {"response": "partial", "response_assessed_on": str(records.injection.started_on + 4 * WEEK)},
        "complication": {"resolved": True},
    }[resource]


def follow_up_action(row: MatrixRow, follow_up: FollowUp) -> tuple[dict, Callable[[], bool] | None]:
    """What a follow-up action sends, and how to tell that it took effect on ``follow_up``."""
    fresh = lambda: FollowUp.objects.get(pk=follow_up.pk)  # noqa: E731
    action = row.route.removeprefix("api/v1/follow-ups/<pk>/")
    return {
        "link/": ({}, lambda: follow_up.links.count() > 1),
        "link/revoke/": (
            {"reason": "Sent to an old address."},
            lambda: not follow_up.links.filter(revoked_at__isnull=True).exists(),
        ),
        "answer/": (
            {"channel": "phone", "pain_walking": 2, "pain_rest": 0, "relief": "partial", "global_impression": 2},
            lambda: FollowUpAnswer.objects.filter(follow_up=follow_up).exists(),
        ),
        "resend/": ({}, lambda: fresh().next_message_at is not None),
        "decline/": ({}, lambda: fresh().status == "declined"),
    }.get(action, ({}, None))


def _form_values(form) -> dict:
    """What a browser would submit for an unchanged admin form."""
    body = {}
    for name, form_field in form.fields.items():
        if form_field.disabled:
            continue
        key, value = form.add_prefix(name), form[name].value()
        if isinstance(form_field.widget, MultiWidget):
            for index, part in enumerate(form_field.widget.decompress(value)):
                body[f"{key}_{index}"] = "" if part is None else str(part)
        elif value is None:
            body[key] = ""
        elif isinstance(value, bool):
            if value:
                body[key] = "on"
        elif isinstance(value, list | tuple):
            body[key] = [str(part) for part in value]
        else:
            body[key] = str(value)
    return body


def admin_change_body(world: World, change_url: str) -> dict:
    """The change form as the superuser sees it, unchanged, with its inlines submitted empty."""
    if change_url not in world.admin_bodies:
        client = Client()
        client.force_login(world.users["superuser"])
        response = client.get(change_url)
        assert response.status_code == 200, f"cannot read the form at {change_url}: {response.status_code}"
        body = _form_values(response.context["adminform"].form)
        for inline in response.context["inline_admin_formsets"]:
            prefix = inline.formset.prefix
            body |= {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
        world.admin_bodies[change_url] = body
    return dict(world.admin_bodies[change_url])


def _token_expiry_fields() -> dict:
    expires = timezone.localtime(timezone.now() + 30 * DAY)
    return {"expires_at_0": expires.strftime("%d/%m/%Y"), "expires_at_1": expires.strftime("%H:%M:%S")}


def staff_write(row: MatrixRow, world: World, records: ClinicRecords) -> tuple[dict, Callable[[], bool]] | None:
    """What a staff page's POST sends and how its effect is seen (docs/permissions.md, staff and tokens)."""
    if row.method != "POST":
        return None
    user = records.membership.user  # the clinic's podiatrist, whom its clinic admin manages
    membership = records.membership
    token = RECORD_OF["API token"](world, records)
    writes = {
        ("user", "add/"): lambda: (
            {"username": "matrix-newcomer", "first_name": "Nadia", "last_name": "Okafor", "email": "n@clinic.test",
             "password1": STAFF_PASSWORD, "password2": STAFF_PASSWORD, "clinic": records.clinic.pk,
             "role": Role.PODIATRIST},
            lambda: User.objects.filter(username="matrix-newcomer").exists(),
        ),
        ("user", "change/"): lambda: (
            admin_change_body(world, f"/admin/auth/user/{world.own.membership.user_id}/change/")
            | {"first_name": "Renamed"},
            lambda: User.objects.get(pk=user.pk).first_name == "Renamed",
        ),
        ("user", "password/"): lambda: (
            {"password1": STAFF_PASSWORD, "password2": STAFF_PASSWORD},
            lambda: User.objects.get(pk=user.pk).check_password(STAFF_PASSWORD),
        ),
        ("membership", "add/"): lambda: (
            {"user": user.pk, "clinic": world.annex.pk, "role": Role.REVIEWER},
            lambda: Membership.objects.filter(user=user, clinic=world.annex).exists(),
        ),
        ("membership", "change/"): lambda: (
            {"role": Role.REVIEWER},
            lambda: Membership.objects.get(pk=membership.pk).role == Role.REVIEWER,
        ),
        ("membership", "delete/"): lambda: (
            {"post": "yes"},
            lambda: not Membership.objects.filter(pk=membership.pk).exists(),
        ),
        ("API token", "add/"): lambda: (
            {"user": user.pk, "name": "Matrix bridge", "scope": TokenScope.READ, **_token_expiry_fields()},
            lambda: ApiToken.objects.filter(name="Matrix bridge", user=user).exists(),
        ),
        ("API token", "revoke"): lambda: (
            {"action": "revoke", "_selected_action": [str(token.pk)]},
            lambda: ApiToken.objects.get(pk=token.pk).revoked_at is not None,
        ),
    }  # fmt: skip
    key = (row.resource, row.admin_action or row.route.rstrip("/").rsplit("/", 1)[-1] + "/")
    return writes[key]() if key in writes else None


# Requests


@dataclass
class Attempt:
    """One request of a row, as a role, about one record; its effect is checked after the response."""

    row: MatrixRow
    role: str
    url: str
    body: dict | None = None
    changed: Callable[[], bool] | None = None


MODEL_OF: dict[str, type[models.Model]] = {
    "patient": Patient,
    "presentation": Presentation,
    "visit": Visit,
    "treatment": Treatment,
    "complication": Complication,
}
# What an allowed admin save changes on the record, so the matrix sees the write happen.
ADMIN_CHANGE: dict[str, tuple[str, str]] = {
    "patient": ("phone", "+44 20 7946 0998"),
    "presentation": ("notes", "Changed by the permission matrix."),
    "visit": ("notes", "Changed by the permission matrix."),
    "treatment": ("justification", "Changed by the permission matrix."),
    "complication": ("notes", "Changed by the permission matrix."),
}


def _one_more(model: type[models.Model]) -> Callable[[], bool]:
    before = model.objects.count()
    return lambda: model.objects.count() == before + 1


def _holds(record: models.Model, values: dict) -> Callable[[], bool]:
    """Whether the stored record now holds ``values`` (compared as the API and forms send them: text)."""

    def check() -> bool:
        stored = type(record).objects.get(pk=record.pk)
        return all(str(getattr(stored, name)) == str(value) for name, value in values.items())

    return check


def _fill(row: MatrixRow, world: World, records: ClinicRecords, *, pk=None, record=None) -> str:
    url = "/" + row.url
    for name, value in _example_values(row.url):
        url = url.replace(f"<{name}={value}>", value)
    if record is None and row.resource in RECORD_OF and row.names_a_record:
        record = RECORD_OF[row.resource](world, records)
    if record is not None:
        object_pk = str(record.pk if pk is None else pk)
        for placeholder in ("<pk>", "<object_id>", "<id>"):
            url = url.replace(placeholder, object_pk)
        url = url.replace("<content_type_id>", str(ContentType.objects.get_for_model(record).pk))
        if "<history_id>" in url:
            url = url.replace("<history_id>", str(record.history.order_by("history_id").first().history_id))
    assert "<" not in url, f"{row.url}: no record fills its placeholders; add '{row.resource}' to RECORD_OF"
    return url


def _example_values(url: str) -> list[tuple[str, str]]:
    return re.findall(r"<(\w+)=([^>]*)>", url)


def attempt_for(
    row: MatrixRow, role: str, world: World, records: ClinicRecords, *, pk=None, record: models.Model | None = None
) -> Attempt:
    """The request a row makes about ``records``' clinic (with ``pk`` instead of the record's own, if given)."""
    if row.method == "POST" and row.route.endswith("/delete/") and row.resource in DELETABLE:
        record = DELETABLE[row.resource](world, records)
    url = _fill(row, world, records, pk=pk, record=record)
    attempt = Attempt(row, role, url)
    if not row.is_api and (staff := staff_write(row, world, records)) is not None:
        attempt.body, attempt.changed = staff
    elif row.admin_action == "archive_selected":
        patient = records.spare_patient
        attempt.body = {"action": "archive_selected", "_selected_action": [str(pk or patient.pk)]}
        attempt.changed = lambda: Patient.objects.get(pk=patient.pk).archived
    elif row.is_api and row.method == "POST" and row.resource == "follow-up":
        follow_up = record if record is not None else records.follow_up
        attempt.body, attempt.changed = follow_up_action(row, follow_up)
    elif row.is_api and row.method == "POST" and not row.route.endswith("/archive/") and row.resource in MODEL_OF:
        attempt.body = api_create_body(row.resource, records)
        attempt.changed = _one_more(MODEL_OF[row.resource])
        if role == "superuser" and row.resource in ("visit", "treatment"):
            # A superuser treats nobody: they record a visit or treatment in the name of the clinic's podiatrist.
            attempt.body["clinician"] = records.membership.user_id
    elif row.is_api and row.method == "PATCH":
        attempt.body = api_change_body(row.resource, records)
        attempt.changed = _holds(RECORD_OF[row.resource](world, records), attempt.body)
    elif row.is_api and row.method == "PUT":
        reader = APIClient()
        reader.force_authenticate(world.users["superuser"])
        current = reader.get(_fill(row, world, records))
        attempt.body = {
            **(current.json() if current.status_code == 200 else {}),
            **api_change_body(row.resource, records),
        }
        attempt.changed = _holds(RECORD_OF[row.resource](world, records), api_change_body(row.resource, records))
    elif not row.is_api and row.method == "POST" and row.route.endswith("/add/"):
        own_record = RECORD_OF[row.resource](world, world.own)
        attempt.body = admin_change_body(world, f"/{row.route.removesuffix('add/')}{own_record.pk}/change/")
        owner = {"clinic": world.own.clinic.pk, "patient": world.own.patient.pk}
        attempt.body |= {"mrn": "NG-ADMIN-NEW", "interspace": "4", **{k: str(v) for k, v in owner.items()}}
        if row.resource in MODEL_OF:
            attempt.changed = _one_more(MODEL_OF[row.resource])
    elif not row.is_api and row.method == "POST" and row.route.endswith("/change/"):
        own_record = RECORD_OF[row.resource](world, world.own)
        attempt.body = admin_change_body(world, _fill(row, world, world.own, record=own_record))
        if row.resource in ADMIN_CHANGE:
            # The form with one field changed, so an allowed save shows its effect and a refused one its absence.
            name, value = ADMIN_CHANGE[row.resource]
            attempt.body[name] = value
            target = RECORD_OF[row.resource](world, records)
            attempt.changed = _holds(target, {name: value})
    elif row.route.endswith("/delete/") and row.method == "POST":
        attempt.body = {"post": "yes"}
    elif row.method == "POST":
        attempt.body = {}
    return attempt


def client_for(world: World, role: str, *, surface_is_api: bool, via_token: bool = False) -> Client:
    """People sign in with a session (or, in the API, also a read-write token); tokens send a bearer header."""
    client = APIClient() if surface_is_api else Client()
    secret = world.token_secrets.get(role) if (role in TOKENS or via_token) else None
    if secret is not None:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    elif role in PEOPLE:
        client.force_login(world.users[role])
    return client


def send(client: Client, attempt: Attempt, url: str | None = None):
    """Make the request in a savepoint that is rolled back, so nothing it writes outlives it."""
    url = url or attempt.url
    method = attempt.row.method.lower()
    with transaction.atomic():
        if attempt.row.is_api:
            response = getattr(client, method)(url, attempt.body, format="json")
        else:
            response = getattr(client, method)(url, attempt.body or {})
        effect = attempt.changed() if attempt.changed else None
        transaction.set_rollback(True)
    return response, effect


# What each cell means


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _location(response) -> str:
    return response.headers.get("Location", "")


def outcome_problem(attempt: Attempt, response, effect) -> str | None:
    """Why the response does not match the row's cell for the role, or None when it does."""
    expected, status, role = attempt.row.cells[attempt.role], response.status_code, attempt.role
    sent_as = f"{attempt.row.action} {attempt.url} as {role}: expected {expected}, got {status} {_location(response)}"
    if attempt.row.is_api:
        wanted = {
            "allow": range(200, 300),
            "deny": (401,) if role == "anonymous" else (403,),
            "404": (404,),
            "405": (405,),
        }[expected]
        if status not in wanted:
            return sent_as
        if expected == "deny" and role == "anonymous" and "Bearer" not in response.headers.get("WWW-Authenticate", ""):
            return f"{sent_as} (no WWW-Authenticate: Bearer)"
        if expected == "allow" and effect is False:
            return f"{sent_as} (nothing changed)"
        if expected != "allow" and effect:
            return f"{sent_as} (and it changed the record)"
        return None
    to_login = status == 302 and _location(response).startswith(LOGIN_PATH)
    if expected == "allow":
        body = _body(response) if status == 200 else b""
        if status not in (200, 302) or to_login:
            return sent_as
        if attempt.row.method == "POST" and (b'class="errornote"' in body or b'class="errorlist' in body):
            return f"{sent_as} (the form was refused)"
        if effect is False:
            return f"{sent_as} (nothing changed)"
        return None
    if expected == "deny" and attempt.row.admin_action and role not in ("anonymous", *TOKENS):
        # Django offers a role only the actions it may run: another is ignored, and the changelist shown again.
        # A role that may not see the changelist at all is refused outright.
        return None if status in (200, 302, 403) and effect is False else sent_as
    if expected == "deny":
        denied = to_login if role in ("anonymous", *TOKENS) else status == 403
        if not denied or effect:
            return sent_as + (" (and it changed the record)" if effect else "")
        return None
    return None if status == int(expected) else sent_as


# The tests


def test_every_routed_url_has_a_row_in_the_matrix():
    routed = {without_format_suffix(template) for template in routed_templates()}
    described = {row.route for row in MATRIX}

    assert sorted(routed - described) == [], "routes with no rule in docs/permissions.md"


def test_every_row_of_the_matrix_names_a_routed_url():
    routed = {without_format_suffix(template) for template in routed_templates()}

    unrouted = sorted(f"line {row.line}: {row.url}" for row in MATRIX if not row.planned and row.route not in routed)

    assert unrouted == [], "rows of docs/permissions.md that match no route (mark routes still to come '(planned)')"


def test_the_matrix_names_each_request_once():
    keys = [(row.url, row.action) for row in MATRIX]

    assert sorted({key for key in keys if keys.count(key) > 1}) == []


def _routed(row: MatrixRow) -> bool:
    return not row.planned or row.route in {without_format_suffix(t) for t in routed_templates()}


ROUTED_ROWS = [row for row in MATRIX if _routed(row)]
SUFFIXED = suffix_variants(routed_templates())
ROLE_CASES = [
    pytest.param(row, role, id=row.case_id(role)) for row in ROUTED_ROWS for role in ROLES if row.cells[role] != "n/a"
]


@pytest.mark.parametrize(("row", "role"), ROLE_CASES)
def test_row_answers_as_the_matrix_says(db, world, row, role):
    attempt = attempt_for(row, role, world, world.own)
    clients = [client_for(world, role, surface_is_api=row.is_api)]
    if row.is_api and role in PEOPLE:
        clients.append(client_for(world, role, surface_is_api=True, via_token=True))
    urls = [attempt.url]
    if row.is_api and row.route in SUFFIXED:
        base = attempt.url.split("?")[0]
        dotted = SUFFIXED[row.route].endswith("." + FORMAT_SUFFIX)
        urls.append((base.rstrip("/") if dotted else base) + ".json")

    problems = []
    for client in clients:
        for url in urls:
            response, effect = send(client, attempt, url)
            problem = outcome_problem(Attempt(row, role, url, attempt.body, attempt.changed), response, effect)
            if problem:
                problems.append(problem)
            if role not in ("superuser", "anonymous"):
                leaked = [name for name in world.other.identifiers if name.encode() in _body(response)]
                if leaked:
                    problems.append(f"{row.action} {url} as {role}: shows the other clinic's {leaked}")

    assert problems == []


CROSS_CLINIC_CASES = [
    pytest.param(row, role, id=row.case_id(role))
    for row in ROUTED_ROWS
    if row.names_a_record and row.resource in CLINIC_SCOPED
    for role in CLINIC_MEMBERS
    if row.is_api or role not in TOKENS
]


@pytest.mark.parametrize(("row", "role"), CROSS_CLINIC_CASES)
def test_another_clinics_record_answers_as_if_it_did_not_exist(db, world, row, role):
    other_record = RECORD_OF[row.resource](world, world.other)
    if row.admin_action:
        other_record = world.other.spare_patient
    before = model_to_dict(other_record)
    client = client_for(world, role, surface_is_api=row.is_api)

    foreign = attempt_for(row, role, world, world.other, record=None if row.admin_action else other_record)
    if row.admin_action:
        foreign.changed = lambda: Patient.objects.get(pk=other_record.pk).archived
    foreign_response, changed = send(client, foreign)
    missing = attempt_for(row, role, world, world.other, pk=UNUSED_PK, record=other_record)
    missing_response, _ = send(client, missing)

    assert foreign_response.status_code == missing_response.status_code
    assert _location(foreign_response).replace(str(other_record.pk), "<pk>") == _location(missing_response).replace(
        str(UNUSED_PK), "<pk>"
    )
    if row.cells[role] == "allow" and not row.admin_action and not row.route.endswith("<object_id>/"):
        if row.is_api:
            assert foreign_response.status_code == 404
        else:
            assert (foreign_response.status_code, _location(foreign_response)) == (302, NOT_FOUND_REDIRECT)
    assert not changed
    assert [name for name in world.other.identifiers if name.encode() in _body(foreign_response)] == []
    type(other_record).objects.get(pk=other_record.pk)  # still there
    assert model_to_dict(type(other_record).objects.get(pk=other_record.pk)) == before


def test_every_table_row_of_the_document_is_a_matrix_row():
    # A parse that silently skipped rows (a table whose header drifted) would pass every case above.
    lines = MATRIX_DOC.read_text().splitlines()
    columns = 3 + len(ROLES)  # URL, resource, action, then one per role
    table_rows = [
        number
        for number, line in enumerate(lines, start=1)
        if line.startswith("| `") and line.count("|") == columns + 1
    ]

    assert sorted(row.line for row in MATRIX) == table_rows
    assert FORMAT_SUFFIX not in {row.route for row in MATRIX}

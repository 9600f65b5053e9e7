"""/api/v1/follow-ups/ over HTTP: the list and its filters, the actions, bad input, scoping, roles, audit, queries."""

import datetime
import json
import logging
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api import representations
from api.models import TokenScope
from api.serializers import FollowUpSerializer
from cases.audit import AuditAction, AuditEvent
from cases.followups import links
from cases.followups.models import FollowUp, FollowUpAnswer, FollowUpLink
from cases.followups.selectors import follow_up_list
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory
from tests.followups.factories import FollowUpAnswerFactory, FollowUpFactory, FollowUpLinkFactory

DAY = datetime.timedelta(days=1)
BASE = "/api/v1/follow-ups/"
ANSWERS = {"channel": "phone", "pain_walking": 3, "pain_rest": 1, "relief": "partial", "global_impression": 2}
# Placeholder texts only: the licensed MOxFQ wording never enters the repository (DOMAIN.md §6).
PLACEHOLDER_DOMAINS = ["walking-standing"] * 7 + ["pain"] * 5 + ["social-interaction"] * 4


def open_follow_up(clinic, **fields) -> FollowUp:
    """A baseline due on the clinic's today: its window is open."""
    patient = PatientFactory(clinic=clinic)
    presentation = PresentationFactory(patient=patient, first_seen_on=clinic.today())
    return FollowUpFactory(presentation=presentation, **fields)


def url(follow_up, action: str = "") -> str:
    return f"{BASE}{follow_up.pk}/" + (f"{action}/" if action else "")


def errors_of(response) -> dict:
    assert response["Content-Type"] == "application/problem+json", response.content
    return response.json()["errors"]


@pytest.fixture
def follow_up(clinic):
    return open_follow_up(clinic)


@pytest.fixture
def moxfq_form(tmp_path, settings, clinic):
    path = tmp_path / "moxfq-placeholder.json"
    path.write_text(
        json.dumps(
            {
                "response_labels": [f"Placeholder answer {n}" for n in range(5)],
                "items": [{"domain": d, "text": f"Placeholder item {n}"} for n, d in enumerate(PLACEHOLDER_DOMAINS)],
            }
        )
    )
    settings.FOLLOW_UP = {**settings.FOLLOW_UP, "MOXFQ_ITEMS_FILES": {clinic.slug: str(path)}}
    return path


# --- reading ----------------------------------------------------------------------------------------


def test_list_shows_the_clinics_follow_ups_with_window_status_answer_and_links(api, clinic, other_clinic):
    follow_up = open_follow_up(clinic)
    FollowUpLinkFactory(follow_up=follow_up, birth_date_attempts=5, locked_at=timezone.now())
    open_follow_up(other_clinic)

    response = api.get(BASE)

    assert response.status_code == 200
    (row,) = response.json()["results"]
    today = clinic.today()
    assert row["id"] == follow_up.pk
    assert row["patient"] == follow_up.presentation.patient_id
    assert (row["time_point"], row["status"], row["due_on"]) == ("baseline", "scheduled", today.isoformat())
    assert (row["window_opens_on"], row["window_closes_on"]) == (str(today - 7 * DAY), str(today + 28 * DAY))
    assert row["answer"] is None
    # Staff see why a link opens nothing: its wrong birth dates and the lock; never a token or digest.
    (link,) = row["links"]
    assert (link["birth_date_attempts"], link["locked_at"] is not None) == (5, True)
    assert "token" not in link and "token_digest" not in link


def test_list_filters_by_status_due_range_presentation_patient_and_clinician(api, clinic, podiatrist):
    due_today = open_follow_up(clinic)
    later = open_follow_up(clinic, due_on=clinic.today() + 10 * DAY, status="sent")
    treatment = TreatmentFactory(presentation=later.presentation, clinician=podiatrist, kind="alcohol_injection")
    by_podiatrist = FollowUpFactory(
        presentation=later.presentation, treatment=treatment, time_point="week_6", clinician=podiatrist,
        due_on=clinic.today() + 40 * DAY,
    )  # fmt: skip

    def ids(query: str) -> list[int]:
        response = api.get(f"{BASE}?{query}")
        assert response.status_code == 200, response.content
        return sorted(row["id"] for row in response.json()["results"])

    assert ids("status=sent") == [later.pk]
    assert ids("status=sent&status=scheduled") == sorted([due_today.pk, later.pk, by_podiatrist.pk])
    assert ids(f"due_on_after={clinic.today() + DAY}") == sorted([later.pk, by_podiatrist.pk])
    assert ids(f"due_on_before={clinic.today() + 10 * DAY}") == sorted([due_today.pk, later.pk])
    assert ids(f"presentation={later.presentation_id}") == sorted([later.pk, by_podiatrist.pk])
    assert ids(f"patient={due_today.presentation.patient_id}") == [due_today.pk]
    assert ids(f"clinician={podiatrist.pk}") == [by_podiatrist.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("due_on_after=2026-13-01", "due_on"),
        ("patient=0", "patient"),
        ("clinician=x", "clinician"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(api, follow_up, query, field):
    response = api.get(f"{BASE}?{query}")

    assert response.status_code == 400
    assert any(name.startswith(field) for name in errors_of(response))


def test_retrieve_is_audited_as_a_view_with_an_etag(api, follow_up):
    response = api.get(url(follow_up))

    assert response.status_code == 200
    assert response["ETag"]
    event = AuditEvent.objects.get(action=AuditAction.VIEW, object_type="cases.followup")
    assert (event.object_id, event.patient_id) == (str(follow_up.pk), follow_up.presentation.patient_id)


def test_list_is_audited_with_the_patients_of_the_page(api, clinic):
    shown = [open_follow_up(clinic) for _ in range(2)]

    assert api.get(BASE).status_code == 200

    event = AuditEvent.objects.get(action=AuditAction.LIST, object_type="cases.followup")
    assert sorted(event.patient_ids) == sorted(f.presentation.patient_id for f in shown)


def test_another_clinics_follow_up_answers_exactly_like_a_missing_one(api, other_clinic):
    foreign = open_follow_up(other_clinic)
    FollowUpLinkFactory(follow_up=foreign)
    missing_pk = FollowUp.objects.order_by("-pk").first().pk + 1000

    for action, method in [("", "get"), ("link", "post"), ("link/revoke", "post"), ("answer", "post")]:
        body = {"reason": "x"} if action == "link/revoke" else (ANSWERS if action == "answer" else {})
        responses = [
            getattr(api, method)(f"{BASE}{pk}/" + (f"{action}/" if action else ""), body, format="json")
            for pk in (foreign.pk, missing_pk)
        ]
        assert [r.status_code for r in responses] == [404, 404]
        assert responses[0].json() == responses[1].json()
    assert not FollowUpAnswer.objects.exists()
    assert FollowUpLink.objects.filter(follow_up=foreign).count() == 1
    assert not FollowUpLink.objects.filter(revoked_at__isnull=False).exists()


# --- the link ----------------------------------------------------------------------------------------


def test_issuing_a_link_shows_its_token_once_and_stores_only_a_digest(api, follow_up, caplog):
    caplog.set_level(logging.DEBUG)

    response = api.post(url(follow_up, "link"), {}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    link = FollowUpLink.objects.get(follow_up=follow_up)
    assert body["id"] == link.pk and body["follow_up"] == follow_up.pk
    assert link.token_digest == links.digest(body["token"]) != body["token"]
    assert body["url"].endswith(f"/follow-up/{body['token']}/")
    assert body["expires_at"] == link.expires_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    assert response["Cache-Control"] == "no-store"
    assert all(body["token"] not in record.getMessage() for record in caplog.records)
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_type="cases.followuplink").count() == 1
    # The token is never readable again: the follow-up lists its links without it.
    assert body["token"] not in api.get(url(follow_up)).content.decode()


def test_a_link_for_a_closed_window_is_refused_and_nothing_is_written(api, clinic):
    closed = open_follow_up(clinic, due_on=clinic.today() - 40 * DAY)

    response = api.post(url(closed, "link"), {}, format="json")

    assert response.status_code == 409
    assert "follow_up" in errors_of(response)
    assert not FollowUpLink.objects.exists()


def test_revoking_needs_a_reason_and_then_closes_every_live_link(api, follow_up):
    live = FollowUpLinkFactory(follow_up=follow_up)
    FollowUpLinkFactory(follow_up=follow_up)

    refused = api.post(url(follow_up, "link/revoke"), {}, format="json")
    assert refused.status_code == 400
    assert "reason" in errors_of(refused)
    assert not FollowUpLink.objects.filter(revoked_at__isnull=False).exists()

    response = api.post(url(follow_up, "link/revoke"), {"reason": "Sent to an old address."}, format="json")

    assert response.status_code == 200
    assert {link["revoked_reason"] for link in response.json()["links"]} == {"Sent to an old address."}
    live.refresh_from_db()
    assert links.link_state(live, now=timezone.now()) == links.LinkState.REVOKED


# --- answers -----------------------------------------------------------------------------------------


def test_recording_an_answer_completes_the_follow_up_and_names_who_recorded_it(api, follow_up, podiatrist):
    response = api.post(url(follow_up, "answer"), {**ANSWERS, "channel": "in_clinic_tablet"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed"
    assert body["answer"]["channel"] == "in_clinic_tablet"
    assert body["answer"]["recorded_by"] == podiatrist.pk
    assert (body["answer"]["pain_walking"], body["answer"]["global_impression"]) == (3, 2)
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="cases.followupanswer")
    assert event.actor == podiatrist


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pain_walking": 11}, "pain_walking"),
        ({"pain_rest": -1}, "pain_rest"),
        ({"pain_walking": "5"}, "pain_walking"),
        ({"global_impression": 8}, "global_impression"),
        ({"relief": "some"}, "relief"),
        ({"channel": "link"}, "channel"),
        ({"moxfq_pain": "100.5"}, "moxfq_pain"),
        ({"pain_score": 3}, "pain_score"),
    ],
)
def test_a_bad_answer_is_refused_naming_the_field_and_writes_nothing(api, follow_up, change, field):
    response = api.post(url(follow_up, "answer"), {**ANSWERS, **change}, format="json")

    assert response.status_code == 400
    assert field in errors_of(response)
    assert not FollowUpAnswer.objects.exists()
    follow_up.refresh_from_db()
    assert follow_up.status == "scheduled"


@pytest.mark.parametrize("missing", ["pain_walking", "pain_rest", "relief", "global_impression", "channel"])
def test_a_missing_answer_is_refused_naming_it(api, follow_up, missing):
    body = {name: value for name, value in ANSWERS.items() if name != missing}

    response = api.post(url(follow_up, "answer"), body, format="json")

    assert response.status_code == 400
    assert missing in errors_of(response)


def test_answering_twice_is_a_conflict_and_keeps_the_first_answer(api, follow_up):
    assert api.post(url(follow_up, "answer"), ANSWERS, format="json").status_code == 201

    second = api.post(url(follow_up, "answer"), {**ANSWERS, "pain_walking": 9}, format="json")

    assert second.status_code == 409
    assert "follow_up" in errors_of(second)
    assert FollowUpAnswer.objects.get().pain_walking == 3


@pytest.mark.parametrize(("due", "field_code"), [(-40, "closed on"), (30, "opens on")])
def test_an_answer_outside_the_window_is_refused(api, clinic, due, field_code):
    outside = open_follow_up(clinic, due_on=clinic.today() + due * DAY)

    response = api.post(url(outside, "answer"), ANSWERS, format="json")

    assert response.status_code == 409
    assert field_code in errors_of(response)["follow_up"][0]
    assert not FollowUpAnswer.objects.exists()


def test_moxfq_items_are_refused_where_the_clinic_has_not_configured_its_licensed_texts(api, follow_up):
    response = api.post(url(follow_up, "answer"), {**ANSWERS, "moxfq_items": [2] * 16}, format="json")

    assert response.status_code == 400
    assert "moxfq_items" in errors_of(response)
    assert not FollowUpAnswer.objects.exists()


def test_moxfq_items_are_scored_7_5_4_and_a_domain_with_a_missing_item_is_left_unscored(api, follow_up, moxfq_form):
    items = [4] * 7 + [2, 2, None, 2, 2] + [1, 1, 1, 1]

    response = api.post(url(follow_up, "answer"), {**ANSWERS, "moxfq_items": items}, format="json")

    assert response.status_code == 201, response.content
    answer = response.json()["answer"]
    assert (answer["moxfq_walking_standing"], answer["moxfq_pain"], answer["moxfq_social"]) == ("100.0", None, "25.0")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"moxfq_items": [2] * 15}, "moxfq_items"),
        ({"moxfq_items": [2] * 15 + [5]}, "moxfq_items"),
        ({"moxfq_items": [2] * 16, "moxfq_pain": 40}, "moxfq_items"),
    ],
)
def test_bad_moxfq_items_are_refused(api, follow_up, moxfq_form, change, field):
    response = api.post(url(follow_up, "answer"), {**ANSWERS, **change}, format="json")

    assert response.status_code == 400
    assert any(name.startswith(field) for name in errors_of(response))
    assert not FollowUpAnswer.objects.exists()


def test_domain_scores_entered_by_a_clinician_are_kept_as_given(api, follow_up):
    scores = {"moxfq_walking_standing": "43.5", "moxfq_pain": 40, "moxfq_social": 12.5}

    response = api.post(url(follow_up, "answer"), {**ANSWERS, **scores}, format="json")

    assert response.status_code == 201, response.content
    answer = response.json()["answer"]
    assert (answer["moxfq_walking_standing"], answer["moxfq_pain"], answer["moxfq_social"]) == ("43.5", "40.0", "12.5")


def test_an_idempotency_key_replays_the_first_answer(api, follow_up):
    first = api.post(url(follow_up, "answer"), ANSWERS, format="json", HTTP_IDEMPOTENCY_KEY="tablet-17")
    again = api.post(url(follow_up, "answer"), ANSWERS, format="json", HTTP_IDEMPOTENCY_KEY="tablet-17")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert FollowUpAnswer.objects.count() == 1


# --- resend, decline, preconditions ----------------------------------------------------------------------


def test_resend_makes_a_message_due_now(api, follow_up):
    response = api.post(url(follow_up, "resend"), {}, format="json")

    assert response.status_code == 200
    follow_up.refresh_from_db()
    assert follow_up.next_message_at is not None and follow_up.next_message_at <= timezone.now()


def test_decline_closes_the_follow_up_and_revokes_its_links_and_cannot_be_repeated(api, follow_up):
    link = FollowUpLinkFactory(follow_up=follow_up)

    response = api.post(url(follow_up, "decline"), {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    link.refresh_from_db()
    assert link.revoked_at is not None
    again = api.post(url(follow_up, "decline"), {}, format="json")
    assert again.status_code == 409
    assert "follow_up" in errors_of(again)


def test_an_answered_follow_up_cannot_be_resent_or_declined(api, clinic):
    answered = FollowUpAnswerFactory(follow_up=open_follow_up(clinic, status="completed")).follow_up

    for action in ("resend", "decline", "link"):
        response = api.post(url(answered, action), {}, format="json")
        assert response.status_code == 409, action
        assert "follow_up" in errors_of(response)


@pytest.mark.parametrize("action", ["link", "resend", "decline"])
def test_an_action_without_properties_refuses_one(api, follow_up, action):
    response = api.post(url(follow_up, action), {"force": True}, format="json")

    assert response.status_code == 400
    assert "force" in errors_of(response)
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.next_message_at) == ("scheduled", None)
    assert not FollowUpLink.objects.exists()


def test_a_stale_if_match_is_refused_and_the_current_one_accepted(api, follow_up):
    etag = api.get(url(follow_up))["ETag"]
    assert api.post(url(follow_up, "resend"), {}, format="json", HTTP_IF_MATCH=etag).status_code == 200

    stale = api.post(url(follow_up, "decline"), {}, format="json", HTTP_IF_MATCH=etag)

    assert stale.status_code == 412
    follow_up.refresh_from_db()
    assert follow_up.status == "scheduled"


# --- roles -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["link", "link/revoke", "answer", "resend", "decline"])
def test_reviewers_and_read_tokens_may_read_but_not_act(bearer, reviewer, podiatrist, follow_up, action):
    FollowUpLinkFactory(follow_up=follow_up)
    body = ANSWERS if action == "answer" else ({"reason": "x"} if action == "link/revoke" else {})

    for client in (bearer(reviewer), bearer(podiatrist, scope=TokenScope.READ)):
        assert client.get(url(follow_up)).status_code == 200
        assert client.post(url(follow_up, action), body, format="json").status_code == 403

    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.next_message_at) == ("scheduled", None)
    assert FollowUpLink.objects.filter(follow_up=follow_up, revoked_at__isnull=True).count() == 1
    assert not FollowUpAnswer.objects.exists()


# --- queries and schema --------------------------------------------------------------------------------


def _list_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{BASE}?page_size=50")
    assert response.status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_for_one_follow_up_or_a_page_of_them(api, clinic):
    api.get(BASE)  # stamp the token's last use first
    one = open_follow_up(clinic)
    FollowUpLinkFactory(follow_up=one)
    alone = _list_queries(api)

    for _ in range(12):
        more = open_follow_up(clinic)
        FollowUpLinkFactory(follow_up=more)
        FollowUpAnswerFactory(follow_up=open_follow_up(clinic, status="completed"))

    assert _list_queries(api) == alone


def test_the_schema_offers_each_follow_up_operation_with_strict_bodies(schema):
    operations = {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        if path.startswith(BASE)
        for method, operation in item.items()
    }

    assert sorted(operations) == [
        ("GET", "/api/v1/follow-ups/"),
        ("GET", "/api/v1/follow-ups/{id}/"),
        ("POST", "/api/v1/follow-ups/{id}/answer/"),
        ("POST", "/api/v1/follow-ups/{id}/decline/"),
        ("POST", "/api/v1/follow-ups/{id}/link/"),
        ("POST", "/api/v1/follow-ups/{id}/link/revoke/"),
        ("POST", "/api/v1/follow-ups/{id}/resend/"),
    ]
    components = schema["components"]["schemas"]
    for (method, _path), operation in operations.items():
        if method == "POST":
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert components[ref.rsplit("/", 1)[1]]["additionalProperties"] is False
    parameters = {p["name"] for p in operations[("GET", BASE)]["parameters"]}
    assert {"status", "due_on_after", "due_on_before", "presentation", "patient", "clinician"} <= parameters
    channel = components["FollowUpAnswerRecordRequest"]["properties"]["channel"]["$ref"].rsplit("/", 1)[1]
    assert components[channel]["enum"] == ["in_clinic_tablet", "phone"]


def test_the_compiled_output_equals_drfs_walk_of_the_declared_fields(clinic, podiatrist, monkeypatch):
    FollowUpLinkFactory(follow_up=open_follow_up(clinic), revoked_at=timezone.now(), revoked_reason="Wrong address.")
    FollowUpAnswerFactory(
        follow_up=open_follow_up(clinic, status="completed"), recorded_by=podiatrist, moxfq_items=[1] * 16,
        moxfq_walking_standing=Decimal("25.0"), moxfq_pain=Decimal("25.0"), moxfq_social=Decimal("25.0"),
    )  # fmt: skip
    serializer = FollowUpSerializer()
    follow_ups = follow_up_list(clinics=[clinic.pk]).prefetch_related("links")

    for follow_up in follow_ups:
        compiled = serializer.to_representation(follow_up)
        with monkeypatch.context() as patched:
            patched.delattr(representations.CompiledOutput, "to_representation")
            walked = serializer.to_representation(follow_up)
        assert json.loads(json.dumps(compiled, default=str)) == json.loads(json.dumps(walked, default=str))

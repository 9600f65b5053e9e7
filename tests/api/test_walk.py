"""One case walked from the first visit to the neurectomy outcome, using only HTTP calls."""

import datetime

import pytest

from cases.models import Clinic
from tests.fhir_validation import assert_valid_r4_bundle

pytestmark = pytest.mark.django_db


DATE_FIELDS = ("first_seen_on", "seen_on", "started_on", "response_assessed_on", "occurred_on", "ended_on")


class Walk:
    """Walks a case over HTTP; the clinic's today moves with the dates it records (the ladder judges on it)."""

    def __init__(self, client, monkeypatch):
        self.client = client
        self.today = datetime.date(2025, 1, 1)
        monkeypatch.setattr(Clinic, "today", lambda clinic: self.today)

    def _advance(self, body):
        for name in DATE_FIELDS:
            if name in body:
                self.today = max(self.today, datetime.date.fromisoformat(body[name]))

    def post(self, path, body, expect=201):
        self._advance(body)
        response = self.client.post(f"/api/v1/{path}", body)
        assert response.status_code == expect, response.content
        return response.json()

    def patch(self, path, body):
        self._advance(body)
        current = self.client.get(f"/api/v1/{path}")
        response = self.client.patch(f"/api/v1/{path}", body, HTTP_IF_MATCH=current.headers["ETag"])
        assert response.status_code == 200, response.content
        return response.json()

    def get(self, path):
        response = self.client.get(f"/api/v1/{path}")
        assert response.status_code == 200, response.content
        return response.json()

    def visit(self, presentation, seen_on, walking, rest=0, relief=""):
        body = {"presentation": presentation, "seen_on": seen_on, "pain_walking": walking, "pain_rest": rest}
        return self.post("visits/", {**body, "relief_since_previous": relief})

    def respond(self, treatment, response, on):
        return self.patch(f"treatments/{treatment}/", {"response": response, "response_assessed_on": on})


def test_a_case_walks_the_ladder_from_first_visit_to_neurectomy_outcome(api, monkeypatch):
    walk = Walk(api, monkeypatch)
    patient = walk.post(
        "patients/",
        {"mrn": "NW-1001", "given_name": "Ada", "family_name": "Okafor", "birth_date": "1971-03-09", "sex": "female"},
    )
    case = walk.post(
        "presentations/",
        {
            "patient": patient["id"],
            "foot": "left",
            "interspace": 3,
            "onset_on": "2025-01-10",
            "first_seen_on": "2025-03-03",
            "symptoms": ["burning", "numbness", "stone_sensation"],
            "aggravating_factors": ["footwear", "walking"],
            "relieving_factors": ["shoe_removal", "massage"],
            "risk_factors": ["high_heels_or_narrow_shoes"],
            "exam_signs": ["web_space_tenderness", "mulder_click"],
            "imaging": "ultrasound",
            "size_mm": "5.2",
            "icd10_code": "G57.62",
        },
    )
    pid = case["id"]
    assert case["current_rung"] is None
    assert case["recommendation"]["action"] == "escalate"
    assert case["recommendation"]["target_rung"] == 1

    # Rung 1: footwear, no relief after its six-week trial.
    walk.visit(pid, "2025-03-03", walking=7)
    footwear = walk.post(
        "treatments/", {"presentation": pid, "kind": "footwear_modification", "started_on": "2025-03-03"}
    )
    assert walk.get(f"presentations/{pid}/next-step/")["action"] == "stay"
    walk.visit(pid, "2025-04-14", walking=7, relief="none")
    walk.respond(footwear["id"], "none", "2025-04-14")
    step = walk.get(f"presentations/{pid}/next-step/")
    assert (step["action"], step["target_rung"]) == ("escalate", 2)

    # Rung 2: a metatarsal pad; partial relief.
    orthosis = walk.post(
        "treatments/",
        {"presentation": pid, "kind": "orthosis", "orthosis_type": "metatarsal_pad", "started_on": "2025-04-14"},
    )
    walk.visit(pid, "2025-05-26", walking=5, relief="partial")
    walk.respond(orthosis["id"], "partial", "2025-05-26")
    assert walk.get(f"presentations/{pid}/next-step/")["target_rung"] == 3

    # Rung 3: an ultrasound-guided injection; a second one too soon is refused by the ladder.
    injection = {
        "presentation": pid,
        "kind": "corticosteroid_injection",
        "injection_drug": "methylprednisolone_acetate",
        "dose_mg": "40.0",
        "volume_ml": "1.5",
        "ultrasound_guided": True,
    }
    first = walk.post("treatments/", {**injection, "started_on": "2025-05-26"})
    refused = walk.post("treatments/", {**injection, "started_on": "2025-06-09"}, expect=409)
    assert refused["rules"] == ["injection_interval"]
    walk.visit(pid, "2025-06-23", walking=6, rest=2, relief="none")
    walk.respond(first["id"], "none", "2025-06-23")
    step = walk.get(f"presentations/{pid}/next-step/")
    assert (step["action"], step["target_rung"], step["worsening"]) == ("consider_surgery", 4, True)

    # Rung 4: neurectomy, then complete relief confirmed at a later visit, with numbness as a complication.
    surgery = walk.post(
        "treatments/",
        {
            "presentation": pid,
            "kind": "neurectomy",
            "approach": "dorsal",
            "started_on": "2025-08-04",
            "histology_confirmed": True,
        },
    )
    walk.post(
        "complications/", {"treatment": surgery["id"], "kind": "persistent_numbness", "occurred_on": "2025-08-18"}
    )
    walk.visit(pid, "2025-09-15", walking=1, relief="complete")
    walk.respond(surgery["id"], "complete", "2025-09-15")
    walk.patch(f"treatments/{surgery['id']}/", {"ended_on": "2025-09-15"})
    assert walk.get(f"presentations/{pid}/next-step/")["action"] == "stay"  # relief not yet confirmed
    walk.visit(pid, "2025-11-10", walking=0, relief="complete")

    final = walk.get(f"presentations/{pid}/")
    assert final["current_rung"] == 4.0
    assert final["latest_pain_walking"] == 0
    assert final["last_visit_on"] == "2025-11-10"
    assert final["recommendation"]["action"] == "discharge"

    resolved = walk.patch(f"presentations/{pid}/", {"status": "resolved"})
    assert resolved["status"] == "resolved"

    timeline = walk.get(f"presentations/{pid}/timeline/")
    dates = [event["date"] for event in timeline["events"]]
    assert dates == sorted(dates)
    assert [p["pain_walking"] for p in timeline["pain_trajectory"]] == [7, 7, 5, 6, 1, 0]
    kinds = [e["event"] for e in timeline["events"]]
    assert kinds.count("treatment_started") == 4
    assert kinds.count("complication") == 1
    assert kinds.count("response_assessed") == 4
    assert "treatment_ended" in kinds

    treatments = walk.get(f"treatments/?presentation={pid}&ordering=started_on")["results"]
    assert [(t["kind"], t["response"]) for t in treatments] == [
        ("footwear_modification", "none"),
        ("orthosis", "partial"),
        ("corticosteroid_injection", "none"),
        ("neurectomy", "complete"),
    ]

    export = api.get(f"/api/v1/patients/{patient['id']}/fhir/")
    assert export.status_code == 200
    assert export["Content-Type"] == "application/fhir+json"
    bundle = export.json()
    assert_valid_r4_bundle(bundle)
    types = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert types.count("Encounter") == 6
    assert types.count("Procedure") == 4
    assert types.count("Observation") >= 12  # walking and rest pain for each of the six visits

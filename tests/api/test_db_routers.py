"""The read-replica router: reports and exports read from the replica, every write and other read from the primary."""

import datetime
from types import SimpleNamespace

import pytest
from django.db import connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from cases.models import Presentation, Treatment
from clinic.db_routers import REPLICA, ReplicaRouter, replica_reads
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory

pytestmark = [
    pytest.mark.django_db(databases=["default", REPLICA]),
    pytest.mark.usefixtures("with_replica_router"),
]


@pytest.fixture
def with_replica_router():
    with override_settings(DATABASE_ROUTERS=["clinic.db_routers.ReplicaRouter"]):
        yield


def test_reads_go_to_the_primary_unless_they_ask_for_the_replica():
    router = ReplicaRouter()
    assert router.db_for_read(Presentation) is None  # Django's default: the primary
    with replica_reads():
        assert router.db_for_read(Presentation) == REPLICA
    assert router.db_for_read(Presentation) is None


def test_writes_and_migrations_never_go_to_the_replica():
    router = ReplicaRouter()
    with replica_reads():
        assert router.db_for_write(Treatment) == "default"
    assert router.allow_migrate(REPLICA, "cases") is False
    assert router.allow_migrate("default", "cases") is True


def test_without_a_replica_configured_asking_for_it_changes_nothing(monkeypatch):
    monkeypatch.setattr("clinic.db_routers.settings", SimpleNamespace(DATABASES={"default": {}}))
    with replica_reads():
        assert ReplicaRouter().db_for_read(Presentation) is None


# The replica is a second connection, as in production, so it sees only committed rows: these tests
# commit (transaction=True) rather than run inside the usual rolled-back transaction.
through_the_mirror = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])


def queries_on(alias, run):
    with CaptureQueriesContext(connections[alias]) as captured:
        response = run()
    assert response.status_code == 200, response.content
    return response, [query["sql"] for query in captured.captured_queries]


@through_the_mirror
def test_the_outcome_report_reads_its_figures_from_the_replica(api, clinic, podiatrist):
    presentation = PresentationFactory(patient=PatientFactory(clinic=clinic))
    TreatmentFactory(presentation=presentation, clinician=podiatrist, started_on=datetime.date(2026, 1, 5))
    api.get("/api/v1/reports/outcomes/")  # stamp the token's last use, a write to the primary

    _, replica = queries_on(REPLICA, lambda: api.get("/api/v1/reports/outcomes/"))

    assert any("cases_treatment" in sql for sql in replica)


@through_the_mirror
def test_the_csv_export_streams_from_the_replica(api, clinic, podiatrist):
    PresentationFactory(patient=PatientFactory(clinic=clinic))
    api.get("/api/v1/presentations/export/")

    def download():
        response = api.get("/api/v1/presentations/export/")
        response.body = b"".join(response.streaming_content)
        return response

    response, replica = queries_on(REPLICA, download)

    assert any("cases_presentation" in sql for sql in replica)
    assert response.body.count(b"\n") == 2  # the header and the one presentation, read through the mirror


@through_the_mirror
def test_a_list_page_stays_on_the_primary(api, clinic, podiatrist):
    PresentationFactory(patient=PatientFactory(clinic=clinic))
    api.get("/api/v1/presentations/")
    _, replica = queries_on(REPLICA, lambda: api.get("/api/v1/presentations/"))
    assert replica == []

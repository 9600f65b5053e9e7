"""The presentations CSV export: scoped, streamed in chunks, a fixed number of queries whatever its length."""

import csv
import io
from unittest import mock

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from api import exports
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/presentations/export/"


def add_presentations(clinic, clinician, count, **patient_fields):
    for _ in range(count):
        presentation = PresentationFactory(patient=PatientFactory(clinic=clinic, **patient_fields))
        VisitFactory(presentation=presentation, clinician=clinician, pain_walking=5)
        TreatmentFactory(presentation=presentation, clinician=clinician)


def download(client, url=URL, **headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_export_has_one_row_per_presentation_of_the_callers_clinics(
    api, clinic, other_clinic, podiatrist, other_podiatrist
):
    add_presentations(clinic, podiatrist, 3)
    add_presentations(other_clinic, other_podiatrist, 2)

    rows = download(api)

    assert len(rows) == 3
    assert {row["clinic_id"] for row in rows} == {str(clinic.pk)}
    assert rows[0]["current_rung"] == "1" and rows[0]["latest_pain_walking"] == "5"
    assert rows[0]["current_rung_label"] == "1 · footwear modification"
    assert "given_name" not in rows[0] and "phone" not in rows[0]


def test_a_client_may_ask_for_text_csv(api, clinic, podiatrist):
    add_presentations(clinic, podiatrist, 1)
    response = api.get(URL, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="presentations.csv"' in response["Content-Disposition"]


def test_the_export_costs_the_same_queries_for_5_or_60_presentations(api, clinic, podiatrist):
    add_presentations(clinic, podiatrist, 5)
    api.get(URL)  # stamp the token's last use, which writes once a minute
    with CaptureQueriesContext(connection) as few:
        assert len(download(api)) == 5
    add_presentations(clinic, podiatrist, 55)
    with CaptureQueriesContext(connection) as many:
        assert len(download(api)) == 60
    assert len(few) == len(many)


def test_the_rows_are_fetched_with_a_chunked_iterator_never_all_at_once(api, clinic, podiatrist):
    add_presentations(clinic, podiatrist, 3)
    with mock.patch.object(QuerySet, "iterator", autospec=True, side_effect=QuerySet.iterator) as iterator:
        assert len(download(api)) == 3
    assert iterator.call_args.kwargs == {"chunk_size": exports.CHUNK_ROWS}


def test_a_cell_that_looks_like_a_formula_is_exported_as_text(api, clinic, podiatrist):
    add_presentations(clinic, podiatrist, 1, mrn="=HYPERLINK(1)")
    assert download(api)[0]["mrn"] == "'=HYPERLINK(1)"


def test_the_lists_filters_apply_to_the_export(api, clinic, podiatrist):
    add_presentations(clinic, podiatrist, 2)
    PresentationFactory(patient=PatientFactory(clinic=clinic), interspace=2)
    assert [row["interspace"] for row in download(api, f"{URL}?interspace=2")] == ["2"]


def test_the_export_needs_a_token(anonymous):
    assert anonymous.get(URL).status_code == 401

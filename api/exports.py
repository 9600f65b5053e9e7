"""Whole-collection exports streamed row by row, so memory stays flat however many records a clinic holds.

The rows come from the database in chunks (``QuerySet.iterator``: a server-side cursor on
PostgreSQL) as plain tuples, are written as CSV and sent as they are made: neither the queryset's
result cache nor the response body ever holds the whole export.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

import orjson
from django.db import router
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

from clinic.db_routers import replica_reads

from . import representations
from .serializers import PresentationSerializer

CHUNK_ROWS = 2000
"""Rows fetched from the database per round trip."""

# The minimum an integration needs to follow cases: identifiers and clinical state, no names or
# contact details (those stay behind the patient endpoint). Each column: its header, the database
# column it is read from, and the field of the API's presentation whose formatting it takes (None
# for a bare id), so a rung, a date or a size reads in the CSV as it does in the JSON.
PRESENTATION_COLUMNS = (
    ("id", "id", "id"),
    ("patient_id", "patient_id", "patient"),
    ("clinic_id", "patient__clinic_id", None),
    ("mrn", "patient__mrn", "patient_summary.mrn"),
    ("sex", "patient__sex", "patient_summary.sex"),
    ("birth_date", "patient__birth_date", "patient_summary.birth_date"),
    ("foot", "foot", "foot"),
    ("interspace", "interspace", "interspace"),
    ("onset_on", "onset_on", "onset_on"),
    ("first_seen_on", "first_seen_on", "first_seen_on"),
    ("imaging", "imaging", "imaging"),
    ("size_mm", "size_mm", "size_mm"),
    ("status", "status", "status"),
    ("current_rung", "current_step", "current_rung"),
    ("current_rung_label", "current_step", "current_rung_label"),
    ("last_visit_on", "last_visit_on", "last_visit_on"),
    ("latest_pain_walking", "latest_pain_walking", "latest_pain_walking"),
    ("latest_pain_rest", "latest_pain_rest", "latest_pain_rest"),
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CSVRenderer(BaseRenderer):
    """Lets a client ask for ``text/csv``; the export view streams its own body (errors stay problem JSON)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return orjson.dumps(data) if data is not None else b""


class _Line:
    """A file-like sink that hands back each CSV line the writer produces."""

    def write(self, line: str) -> str:
        return line


def _cell(value) -> object:
    # A spreadsheet runs a cell that starts like a formula; an MRN typed as "=1+1" must stay text.
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_lines(header: Iterable[str], rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def _column_formatters() -> list:
    serializer = PresentationSerializer()
    named = [name for _, _, name in PRESENTATION_COLUMNS if name]
    by_name = dict(zip(named, representations.formatters(serializer, named), strict=True))
    return [by_name[name] if name else (lambda value: value) for _, _, name in PRESENTATION_COLUMNS]


def presentation_rows(presentations: QuerySet) -> Iterator[list]:
    """The export's rows in id order, fetched ``CHUNK_ROWS`` at a time, formatted as the API's JSON formats them."""
    sources = list(dict.fromkeys(source for _, source, _ in PRESENTATION_COLUMNS))
    at = [sources.index(source) for _, source, _ in PRESENTATION_COLUMNS]
    formats = list(zip(at, _column_formatters(), strict=True))
    for row in presentations.order_by("pk").values_list(*sources).iterator(chunk_size=CHUNK_ROWS):
        yield [fmt(row[index]) for index, fmt in formats]


def presentations_csv(presentations: QuerySet, *, filename: str = "presentations.csv") -> StreamingHttpResponse:
    """Stream ``presentations`` (already scoped to the caller, annotated ``with_summary``) as CSV.

    The rows are read after this returns, while the body streams, so the database is chosen here:
    the replica when one is configured (an export may lag the primary by the replication delay).
    """
    with replica_reads():
        presentations = presentations.using(router.db_for_read(presentations.model))
    header = [name for name, _, _ in PRESENTATION_COLUMNS]
    response = StreamingHttpResponse(
        _csv_lines(header, presentation_rows(presentations)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

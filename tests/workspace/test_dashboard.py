"""The outcomes dashboard: the report's figures with their n, conversion to surgery, filters, CSV, who may read it."""

import csv
import datetime
import io

import pytest
from django.urls import reverse

from cases.choices import Response, TreatmentKind
from cases.selectors import surgery_conversion
from tests.factories import PatientFactory, PresentationFactory, TreatmentFactory

pytestmark = pytest.mark.django_db
D = datetime.date


@pytest.fixture
def outcomes(clinic, podiatrist, other_clinic, other_podiatrist):
    def case(clinic, clinician, interspace, response, then_surgery):
        presentation = PresentationFactory(
            patient=PatientFactory(clinic=clinic), interspace=interspace, onset_on=None, first_seen_on=D(2026, 1, 5)
        )
        TreatmentFactory(
            presentation=presentation,
            clinician=clinician,
            kind=TreatmentKind.CORTICOSTEROID_INJECTION,
            started_on=D(2026, 1, 5),
            response=response,
            response_assessed_on=D(2026, 2, 2),
        )
        if then_surgery:
            TreatmentFactory(
                presentation=presentation,
                clinician=clinician,
                kind=TreatmentKind.NEURECTOMY,
                started_on=D(2026, 3, 2),
                justification="Large neuroma on imaging.",
            )

    case(clinic, podiatrist, 3, Response.COMPLETE, False)
    case(clinic, podiatrist, 3, Response.NONE, True)
    case(clinic, podiatrist, 2, Response.PARTIAL, True)
    case(other_clinic, other_podiatrist, 3, Response.NONE, True)  # never counted for this clinic


def test_conversion_to_surgery_counts_later_neurectomies_in_the_callers_clinics(clinic, outcomes):
    conversion = surgery_conversion(clinic_ids=[clinic.pk])[TreatmentKind.CORTICOSTEROID_INJECTION]
    assert (conversion.started, conversion.converted) == (3, 2)
    narrowed = surgery_conversion(clinic_ids=[clinic.pk], interspace=3)[TreatmentKind.CORTICOSTEROID_INJECTION]
    assert (narrowed.started, narrowed.converted) == (2, 1)


def test_a_clinic_admin_reads_each_figure_with_its_n(client, clinic_admin, outcomes):
    client.force_login(clinic_admin)

    page = client.get(reverse("outcomes-dashboard")).content.decode()

    row = page[page.index('<th scope="row">Corticosteroid injection</th>') :]
    row = row[: row.index("</tr>")]
    assert "33 % (1/3)" in row  # complete relief over the assessed
    assert "67 % (2/3)" in row  # conversion to surgery over those started
    assert 'id="outcomes-chart-data"' in page


def test_the_filters_narrow_the_figures_and_the_csv_is_the_table(client, clinic_admin, outcomes):
    client.force_login(clinic_admin)

    response = client.get(reverse("outcomes-dashboard"), {"interspace": "2", "format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    injection = next(row for row in rows if row["treatment"] == TreatmentKind.CORTICOSTEROID_INJECTION)
    assert (injection["started (n)"], injection["partial relief (n)"], injection["converted to surgery (n)"]) == (
        "1",
        "1",
        "1",
    )


def test_a_bad_filter_is_named_and_ignored(client, clinic_admin, outcomes):
    client.force_login(clinic_admin)

    response = client.get(reverse("outcomes-dashboard"), {"date_from": "2026-05-01", "date_to": "2026-01-01"})

    assert response.status_code == 200
    assert "The end of the range cannot be before its start." in response.content.decode()


def test_a_reviewer_reads_it_and_a_podiatrist_is_refused(client, reviewer, podiatrist):
    client.force_login(reviewer)
    assert client.get(reverse("outcomes-dashboard")).status_code == 200
    client.force_login(podiatrist)
    assert client.get(reverse("outcomes-dashboard")).status_code == 403

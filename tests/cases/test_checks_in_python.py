"""Check constraints judged in Python (cases/models/checks.py) agree with the database, case for case.

The cases are the raw-SQL ones of test_constraints.py: each breaks one named constraint, and each edge
value is a valid row. Python must refuse exactly what the database's own evaluation refuses, with the
same message, and judge every check of the clinical records without a query.
"""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from cases.models import Timestamped
from cases.models.checks import check_holds
from tests.cases.test_constraints import EDGE_VALUES, VIOLATIONS

pytestmark = pytest.mark.django_db


def _checks(model) -> list[models.CheckConstraint]:
    return [c for c in model._meta.constraints if isinstance(c, models.CheckConstraint)]


def _database_refuses(constraint, row) -> bool:
    try:
        constraint.validate(type(row), row)
    except ValidationError:
        return True
    return False


def _python_refuses(constraint, row) -> bool:
    with CaptureQueriesContext(connection) as queries:
        try:
            check_holds(constraint, type(row), row, exclude=(), using="default")
        except ValidationError as error:
            assert error.messages == [constraint.get_violation_error_message()]
            refused = True
        else:
            refused = False
    assert len(queries) == 0, f"{constraint.name} went to the database"
    return refused


CHECK_CASES = [
    (name, n)
    for name, makers in VIOLATIONS.items()
    for n in range(len(makers))
    if name.split("_")[0] in {"patient", "presentation", "visit", "treatment", "complication"}
]


@pytest.mark.parametrize(("constraint_name", "case"), CHECK_CASES)
def test_python_refuses_what_the_database_refuses(constraint_name, case):
    row, changes = VIOLATIONS[constraint_name][case]()
    if not isinstance(row, Timestamped):
        pytest.skip("not a clinical record")
    constraint = next((c for c in _checks(type(row)) if c.name == constraint_name), None)
    if constraint is None:
        pytest.skip("a unique constraint: the database still judges it")
    for constraint_of_row in _checks(type(row)):  # the valid row passes every check, both ways
        assert not _python_refuses(constraint_of_row, row) and not _database_refuses(constraint_of_row, row)
    for name, value in changes.items():
        setattr(row, name, value)
    assert _database_refuses(constraint, row)
    assert _python_refuses(constraint, row)


@pytest.mark.parametrize("edge", EDGE_VALUES)
def test_python_accepts_the_edge_of_every_rule(edge):
    row, changes = EDGE_VALUES[edge]()
    for name, value in changes.items():
        setattr(row, name, value)
    for constraint in _checks(type(row)):
        assert not _database_refuses(constraint, row), constraint.name
        assert not _python_refuses(constraint, row), constraint.name


def test_a_check_python_cannot_read_goes_to_the_database(monkeypatch):
    from tests.factories import VisitFactory

    visit = VisitFactory()
    odd = models.CheckConstraint(
        condition=models.Q(notes__startswith=""), name="visit_notes_anything"
    )  # a lookup the module does not evaluate
    with CaptureQueriesContext(connection) as queries:
        check_holds(odd, type(visit), visit, exclude=(), using="default")
    assert len(queries) >= 1

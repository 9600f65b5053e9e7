"""Check constraints judged in Python when ``full_clean()`` validates a record, instead of one query each.

Django validates a ``CheckConstraint`` by sending its condition to the database as
``SELECT 1 WHERE COALESCE(<condition>, true)``, inside a savepoint: three round trips per constraint,
so 18 for a visit and 36 for a treatment on every save. The conditions of the case record are plain
comparisons of a row's own fields (``pain_walking__gte=0``, ``kind__in=[…]``, ``ended_on__gte=F("started_on")``),
which Python answers exactly, with SQL's three-valued logic: a comparison with NULL is unknown, and an
unknown condition passes (as the ``COALESCE(…, true)`` does, and as the database itself treats a CHECK).

Anything this module does not know how to read — another lookup, an expression, a string ordering
(collations differ), a related field's attributes — goes to the database as before, so every
constraint is still validated; and the database constraint itself still refuses any row that gets past.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, router
from django.db.models import F, Q


class _CannotJudge(Exception):
    """The condition uses something this module does not evaluate: the database decides."""


_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _field_value(instance: models.Model, name: str, exclude: Collection[str]) -> Any:
    if name == "pk":
        return instance.pk
    try:
        field = instance._meta.get_field(name)
    except FieldDoesNotExist:
        raise _CannotJudge(name) from None
    if not field.concrete or field.many_to_many or field.one_to_many:
        raise _CannotJudge(name)
    if field.name in exclude:
        raise _Skipped
    return getattr(instance, field.attname)


class _Skipped(Exception):
    """The condition reads a field excluded from validation (already in error): Django skips it too."""


def _operand(instance: models.Model, value: Any, exclude: Collection[str]) -> Any:
    if isinstance(value, F):
        return _field_value(instance, value.name, exclude)
    if hasattr(value, "resolve_expression"):
        raise _CannotJudge(value)
    return value


def _lookup(instance: models.Model, key: str, value: Any, exclude: Collection[str]) -> bool | None:
    name, _, lookup = key.partition("__")
    lookup = lookup or "exact"
    if "__" in lookup:
        raise _CannotJudge(key)  # a transform or a related field: the database decides
    left = _field_value(instance, name, exclude)
    right = _operand(instance, value, exclude)
    if lookup == "isnull":
        return (left is None) == bool(right)
    if lookup == "exact" and right is None:
        return left is None  # Q(x=None) means IS NULL
    if left is None or right is None:
        return None
    if lookup == "exact":
        return left == right
    if lookup == "in":
        values = [v for v in right if v is not None]
        return True if left in values else (None if len(values) < len(right) else False)
    if lookup in _ORDERINGS:
        if isinstance(left, str) or isinstance(right, str):
            raise _CannotJudge(key)
        try:
            return _ORDERINGS[lookup](left, right)
        except TypeError:
            raise _CannotJudge(key) from None
    raise _CannotJudge(key)


def _and(verdicts: list[bool | None]) -> bool | None:
    if any(v is False for v in verdicts):
        return False
    return None if any(v is None for v in verdicts) else True


def _or(verdicts: list[bool | None]) -> bool | None:
    if any(v is True for v in verdicts):
        return True
    return None if any(v is None for v in verdicts) else False


def _judge(instance: models.Model, node: Q, exclude: Collection[str]) -> bool | None:
    verdicts = [
        _judge(instance, child, exclude) if isinstance(child, Q) else _lookup(instance, *child, exclude)
        for child in node.children
    ]
    if node.connector == Q.AND:
        verdict = _and(verdicts)
    elif node.connector == Q.OR:
        verdict = _or(verdicts)
    else:
        raise _CannotJudge(node.connector)
    return (None if verdict is None else not verdict) if node.negated else verdict


def check_holds(
    constraint: models.CheckConstraint,
    model: type[models.Model],
    instance: models.Model,
    exclude: Collection[str],
    using: str,
) -> bool:
    """Whether ``instance`` satisfies the constraint (unknown counts as satisfied), asking the database only if needed.

    Raises the constraint's own ``ValidationError`` when it is broken, as ``constraint.validate`` does.
    """
    try:
        verdict = _judge(instance, Q(constraint.condition), exclude)
    except _Skipped:
        return True
    except _CannotJudge:
        constraint.validate(model, instance, exclude=exclude, using=using)
        return True
    if verdict is False:
        raise ValidationError(constraint.get_violation_error_message(), code=constraint.violation_error_code)
    return True


class ChecksInPython(models.Model):
    """``validate_constraints()`` that judges plain check constraints in Python (``check_holds``).

    Unique and other constraints, which need other rows, are still validated by the database, as Django does.
    """

    class Meta:
        abstract = True

    def validate_constraints(self, exclude=None) -> None:
        exclude = set(exclude or ())
        using = router.db_for_write(type(self), instance=self)
        errors: dict = {}
        for model_class, model_constraints in self.get_constraints():
            for constraint in model_constraints:
                try:
                    if isinstance(constraint, models.CheckConstraint):
                        check_holds(constraint, model_class, self, exclude, using)
                    else:
                        constraint.validate(model_class, self, exclude=exclude, using=using)
                except ValidationError as error:
                    # The same grouping as Model.validate_constraints: a one-field unique rule names its field.
                    fields = getattr(constraint, "fields", ())
                    if getattr(error, "code", None) == "unique" and len(fields) == 1:
                        errors.setdefault(fields[0], []).append(error)
                    else:
                        errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

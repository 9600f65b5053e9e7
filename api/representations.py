"""The serializers' declared output, compiled once into plain getters and formatters, and the facts it reads.

The serializers in ``api/serializers.py`` are the one definition of each resource's JSON: the schema,
the list, the detail, the CSV export and the benchmark's naive reference all read them. DRF walks a
serializer's fields through several layers per value (``get_attribute`` with its mapping and callable
checks, a ``PKOnlyObject`` per reference, then ``to_representation``); a page of 50 presentations with
their patients, treatments and recommendations runs a few thousand of those. ``writer(serializer)``
reads the same bound fields once and returns a function that does only the per-value work: read the
attribute and format it with the field's own ``to_representation`` (so dates, timestamps and decimals
are formatted by DRF as its settings say). ``tests/api/test_representations.py`` holds the compiled
output equal to DRF's own walk for every resource.

``attach_facts`` loads what a presentation's representation reads — its treatments and visits as
plain rows, its summary and the ladder's next step — for a whole page in one query.
"""

from __future__ import annotations

import datetime
import functools
import operator
import types
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

import orjson
from django.db import NotSupportedError
from django.db.models import DateField, Expression, F, IntegerField, TextField, Value
from django.db.models.manager import BaseManager
from django.utils import timezone
from rest_framework import ISO_8601, relations, serializers
from rest_framework.fields import SkipField, empty
from rest_framework.settings import api_settings

from cases import ladder
from cases.models import Clinic, Presentation, Treatment, Visit

Writer = Callable[[Any], dict[str, Any]]
Formatter = Callable[[Any], Any]


_NULL_DATE = Value(None, output_field=DateField())
_NULL_NUMBER = Value(None, output_field=IntegerField())
_EMPTY = Value("", output_field=TextField())
# One column list for both kinds of row: (is a visit, presentation, id, date, then each kind's own).
_FACT_COLUMNS = ("f_visit", "f_presentation", "f_pk", "f_day", "f_kind", "f_ended", "f_response", "f_assessed")
_FACT_COLUMNS += ("f_justification", "f_clinician", "f_pain_walking", "f_pain_rest")


def _facts_of_page(presentation_ids) -> Iterable[tuple]:
    """The page's treatments and visits in one query (a UNION ALL), each kind in the ladder's order (date, id)."""
    treatments = (
        Treatment.objects.filter(presentation_id__in=presentation_ids)
        .order_by()
        .annotate(
            f_visit=Value(False),
            f_presentation=F("presentation_id"),
            f_pk=F("pk"),
            f_day=F("started_on"),
            f_kind=F("kind"),
            f_ended=F("ended_on"),
            f_response=F("response"),
            f_assessed=F("response_assessed_on"),
            f_justification=F("justification"),
            f_clinician=F("clinician_id"),
            f_pain_walking=_NULL_NUMBER,
            f_pain_rest=_NULL_NUMBER,
        )
        .values_list(*_FACT_COLUMNS)
    )
    visits = (
        Visit.objects.filter(presentation_id__in=presentation_ids)
        .order_by()
        .annotate(
            f_visit=Value(True),
            f_presentation=F("presentation_id"),
            f_pk=F("pk"),
            f_day=F("seen_on"),
            f_kind=_EMPTY,
            f_ended=_NULL_DATE,
            f_response=F("relief_since_previous"),
            f_assessed=_NULL_DATE,
            f_justification=_EMPTY,
            f_clinician=F("clinician_id"),
            f_pain_walking=F("pain_walking"),
            f_pain_rest=F("pain_rest"),
        )
        .values_list(*_FACT_COLUMNS)
    )
    return treatments.union(visits, all=True).order_by("f_day", "f_pk")


# The columns each JSON row carries (``with_fact_rows``), in this order.
_TREATMENT_ROW = (
    "id",
    "kind",
    "started_on",
    "ended_on",
    "response",
    "response_assessed_on",
    "justification",
    "clinician_id",
)
_VISIT_ROW = ("id", "seen_on", "pain_walking", "pain_rest", "relief_since_previous")


class _RowsOfPresentation(Expression):
    """The outer presentation's treatments or visits as a JSON array of arrays: a correlated subquery on the
    page query's own row, so that the page and what its representation reads arrive in one round trip.

    JSON, not the ORM's rows: each row is a handful of values, and one JSON text per presentation is
    decoded far faster than a second query's rows are compiled, fetched and converted. Rows come unordered
    (SQLite's ``json_group_array`` promises no order); ``attach_facts`` puts them in the ladder's order.
    """

    output_field = TextField()

    def __init__(self, model, columns: tuple[str, ...]):
        super().__init__()
        self.model, self.columns = model, columns

    def as_sql(self, compiler, connection):
        quote = connection.ops.quote_name
        outer = f"{compiler.quote_name_unless_alias(compiler.query.get_initial_alias())}.{quote('id')}"
        values = ", ".join(f"r.{quote(column)}" for column in self.columns)
        table = quote(self.model._meta.db_table)
        if connection.vendor == "postgresql":
            rows = f"json_agg(json_build_array({values}))::text"
        elif connection.vendor == "sqlite":
            rows = f"json_group_array(json_array({values}))"
        else:
            raise NotSupportedError(f"with_fact_rows has no SQL for {connection.vendor}")
        # Only the models' own table and column names are interpolated; the subquery takes no value.
        return f"(SELECT {rows} FROM {table} r WHERE r.{quote('presentation_id')} = {outer})", []  # noqa: S608


def with_fact_rows(presentations):
    """The presentations with their treatments and visits read in the same query (``attach_facts`` uses them)."""
    return presentations.annotate(
        treatment_rows=_RowsOfPresentation(Treatment, _TREATMENT_ROW),
        visit_rows=_RowsOfPresentation(Visit, _VISIT_ROW),
    )


def _day(value: str | None) -> datetime.date | None:
    return None if value is None else datetime.date.fromisoformat(value)


def _fact_rows_of(presentation: Presentation) -> tuple[list[ladder.PlainTreatment], list[ladder.PlainVisit]]:
    """What ``with_fact_rows`` read, as the rows ``attach_facts`` gives, in the ladder's order (date, then id)."""
    pk = presentation.pk
    treatments = [
        ladder.PlainTreatment(row[0], pk, row[1], _day(row[2]), _day(row[3]), row[4], _day(row[5]), row[6], row[7])
        for row in orjson.loads(presentation.treatment_rows or "[]")
    ]
    treatments.sort(key=operator.attrgetter("started_on", "pk"))
    visits = sorted(
        (_day(row[1]), row[0], ladder.PlainVisit(pk, _day(row[1]), row[2], row[3], row[4]))
        for row in orjson.loads(presentation.visit_rows or "[]")
    )
    return treatments, [visit for _, _, visit in visits]


def attach_facts(presentations: Iterable[Presentation]) -> None:
    """Give each presentation what its representation reads: from its own row when the queryset read them
    (``with_fact_rows``, as the list does), otherwise in one query for the lot.

    ``treatment_facts`` and ``visit_facts`` are plain rows (``ladder.PlainTreatment``, ``ladder.PlainVisit``),
    in the order the ladder reads them (date, then id); the summary
    (``current_step``, ``last_visit_on``, ``latest_pain_walking``, ``latest_pain_rest``) comes from them
    unless the queryset annotated it (``with_summary``), and
    ``next_step`` is the ladder's recommendation on the clinic's today. The presentations need their
    patient loaded, and their clinic's time zone: annotated as ``clinic_time_zone`` (as the list does),
    or with the clinic loaded.
    """
    by_pk = {p.pk: p for p in presentations}
    unread = {}
    for p in by_pk.values():
        if hasattr(p, "treatment_rows"):
            p.treatment_facts, p.visit_facts = _fact_rows_of(p)
        else:
            p.treatment_facts, p.visit_facts = [], []
            unread[p.pk] = p
    if unread:
        for is_visit, presentation_id, pk, day, kind, ended, response, assessed, *rest in _facts_of_page(list(unread)):
            justification, clinician, walking, at_rest = rest
            facts = unread[presentation_id]
            if is_visit:
                facts.visit_facts.append(ladder.PlainVisit(presentation_id, day, walking, at_rest, response))
            else:
                treatment = (pk, presentation_id, kind, day, ended, response, assessed, justification, clinician)
                facts.treatment_facts.append(ladder.PlainTreatment(*treatment))

    conf = ladder.LadderSettings.from_settings()
    today_in: dict[str, datetime.date] = {}
    for p in by_pk.values():
        if not hasattr(p, "current_step"):  # not annotated: the same facts from the rows just read
            latest = p.visit_facts[-1] if p.visit_facts else None
            p.current_step = ladder.highest_step(p.treatment_facts)
            p.last_visit_on = latest and latest.seen_on
            p.latest_pain_walking = latest and latest.pain_walking
            p.latest_pain_rest = latest and latest.pain_rest
        zone = p.clinic_time_zone if hasattr(p, "clinic_time_zone") else p.patient.clinic.time_zone
        if zone not in today_in:
            today_in[zone] = Clinic.today_in(zone)
        p.next_step = p.recommendation(
            today=today_in[zone], treatments=p.treatment_facts, visits=p.visit_facts, conf=conf
        )


def has_facts(presentation: Presentation) -> bool:
    return hasattr(presentation, "next_step")


# --- the compiled writer ------------------------------------------------------------------------


def _skip_marker(field: serializers.Field) -> Callable[[Any], Any]:
    """DRF's own attribute lookup, with a field it would leave out (``SkipField``) marked as such."""

    def get(instance: Any) -> Any:
        try:
            return field.get_attribute(instance)
        except SkipField:
            return _SKIP

    return get


_SKIP = object()


def _is_foreign_key_id(field: serializers.Field) -> bool:
    # DRF's pk-only optimisation reads the foreign key's column with no join; a one-step source reads it directly.
    pk_only = isinstance(field, relations.PrimaryKeyRelatedField) and field.pk_field is None
    return pk_only and len(field.source_attrs) == 1


def _may_name_a_method(field: serializers.Field) -> bool:
    """Whether the field's source could be a method, which DRF calls: not when the model says it is data."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or len(field.source_attrs) != 1:
        return True
    return isinstance(getattr(model, field.source_attrs[0], None), _SIMPLE_CALLABLES)


def _getter(field: serializers.Field) -> Callable[[Any], Any]:
    """A plain attribute read (``operator.attrgetter``) where DRF's lookup would come to the same value."""
    if isinstance(field, serializers.SerializerMethodField) or field.source == "*":
        return lambda instance: instance
    if _is_foreign_key_id(field):
        name = field.source_attrs[0]
        model = getattr(getattr(field.parent, "Meta", None), "model", None)
        if model is not None:  # what serializable_value reads: the foreign key's column
            return operator.attrgetter(model._meta.get_field(name).attname)
        return lambda instance: instance.serializable_value(name)
    if isinstance(field, relations.RelatedField) or type(field).get_attribute is not serializers.Field.get_attribute:
        return _skip_marker(field)  # a field with its own lookup keeps it
    fast = operator.attrgetter(".".join(field.source_attrs))
    if not _may_name_a_method(field):
        return fast

    def get(instance: Any) -> Any:
        value = fast(instance)
        return value() if isinstance(value, _SIMPLE_CALLABLES) else value  # a method named as a source is called

    return get


_SIMPLE_CALLABLES = (types.FunctionType, types.MethodType, functools.partial)


def _formatter(field: serializers.Field) -> Formatter:
    """The field's own ``to_representation``, or a shortcut that gives the same for the common value types."""
    if isinstance(field, serializers.ListSerializer):
        child = writer(field.child)
        return lambda items: [child(item) for item in (items.all() if isinstance(items, BaseManager) else items)]
    if isinstance(field, serializers.BaseSerializer):
        return writer(field)
    if isinstance(field, serializers.SerializerMethodField):
        return getattr(field.parent, field.method_name)
    if _is_foreign_key_id(field):
        return lambda pk: pk
    drf = field.to_representation
    kind = type(field).to_representation
    if kind is serializers.IntegerField.to_representation:
        return int
    if kind is serializers.CharField.to_representation:
        return str
    if kind is serializers.ReadOnlyField.to_representation:
        return lambda value: value
    if kind is serializers.BooleanField.to_representation:
        return lambda value: value if value is True or value is False else drf(value)
    if kind is serializers.ChoiceField.to_representation:
        codes = field.choice_strings_to_values
        return lambda value: codes.get(value, value) if type(value) is str else drf(value)
    if kind is serializers.DateField.to_representation and _date_format(field).lower() == ISO_8601:
        return lambda value: value.isoformat() if type(value) is datetime.date else drf(value)
    if kind is serializers.DateTimeField.to_representation and not hasattr(field, "timezone"):
        # DRF's formatting, with the current time zone read once per writer (a writer serves one
        # request) instead of once per timestamp: the lookup costs more than the formatting.
        zone = field.default_timezone()
        return serializers.DateTimeField(
            format=getattr(field, "format", empty), default_timezone=zone
        ).to_representation
    return drf


def _date_format(field: serializers.DateField) -> str:
    output_format = getattr(field, "format", api_settings.DATE_FORMAT)
    return output_format if isinstance(output_format, str) else ""


def writer(serializer: serializers.BaseSerializer) -> Writer:
    """A function giving what ``serializer.to_representation`` gives, compiled from its bound fields.

    A plain attribute that is missing (a mapping, a related row that does not exist, a field with a
    default) is looked up again by DRF, which decides: a default, None, or leaving the field out.
    """
    fields = list(serializer._readable_fields)
    plan = [(field.field_name, _getter(field), _formatter(field)) for field in fields]
    drf_lookup = {field.field_name: _skip_marker(field) for field in fields}

    def write(instance: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, get, fmt in plan:
            try:
                value = get(instance)
            except (AttributeError, KeyError):
                value = drf_lookup[name](instance)
            if value is _SKIP:
                continue
            out[name] = None if value is None else fmt(value)
        return out

    return write


_WRITERS: dict[tuple[type, str], Writer] = {}


def _binds_to_its_instance(serializer_class: type) -> bool:
    """Whether a serializer's output reads the serializer instance itself (a method field, at any depth)."""
    for field in getattr(serializer_class, "_declared_fields", {}).values():
        nested = getattr(field, "child", field)
        if isinstance(field, serializers.SerializerMethodField) or (
            isinstance(nested, serializers.BaseSerializer) and _binds_to_its_instance(type(nested))
        ):
            return True
    return False


class CompiledOutput:
    """A serializer mixin: its output comes from ``writer``, compiled once per serializer class and time zone.

    Building a serializer's fields and compiling them costs as much as writing a page, so the writer is
    compiled from a fresh instance with no context (the output of these fields reads no request) and
    shared; a serializer whose output reads its instance (a method field) compiles its own.
    """

    @cached_property
    def compiled_writer(self) -> Writer:
        cls = type(self)
        if _binds_to_its_instance(cls):
            return writer(self)
        key = (cls, timezone.get_current_timezone_name())  # timestamps are written in the current zone
        if key not in _WRITERS:
            _WRITERS[key] = writer(cls())
        return _WRITERS[key]

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return self.compiled_writer(instance)


def formatters(serializer: serializers.BaseSerializer, names: Iterable[str]) -> list[Formatter]:
    """The formatters of the named fields (dotted into nested serializers), for values read elsewhere (a CSV row).

    None stays None, as DRF writes it, unless the field reads it as something else (``none_as``).
    """

    def formatter(path: str) -> Formatter:
        field: Any = serializer
        for part in path.split("."):
            field = field.fields[part]
        fmt, none_as = _formatter(field), getattr(field, "none_as", None)
        none = None if none_as is None else fmt(none_as)
        return lambda value: none if value is None else fmt(value)

    return [formatter(name) for name in names]

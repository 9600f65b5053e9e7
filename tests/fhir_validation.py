"""Checks that an exported bundle is valid FHIR R4 (4.0.1), independently of the code that built it.

The judge is fhirclient's R4 model set (SMART Health IT, generated from the 4.0.1
StructureDefinitions; pinned in requirements-dev.txt). Parsed in strict mode it rejects unknown
elements (so R5-only shapes fail), missing mandatory elements, wrong JSON types and malformed dates.
Walking the parsed models with their own element metadata then adds what strict parsing lets
through: two choices of one ``value[x]``-style element, a wrong type in any list member after the
first, ``true`` where a number belongs.

Two kinds of rule are written out here because the models do not carry them, and are copied from
the 4.0.1 specification rather than from the exporter: FHIR JSON's ban on null and empty values,
and the required value-set bindings and reference target types of the elements an export uses.
Last, an export must be self-contained: every reference is the fullUrl of an entry.

Use ``assert_valid_r4_bundle`` in tests; ``r4_bundle_problems`` lists what is wrong.
"""

from __future__ import annotations

import inspect
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fhirclient.models.bundle as r4_bundle
from fhirclient.models.fhirabstractbase import FHIRAbstractBase, FHIRValidationError
from fhirclient.models.fhirdate import FHIRDate
from fhirclient.models.fhirreference import FHIRReference

R4_VERSION = "4.0.1"

# A newer fhirclient may be generated from another FHIR release; fail loudly rather than validate
# R4 exports against R5 models.
_MODELS_HEADER = inspect.getsource(r4_bundle).splitlines()[0]
if f"Generated from FHIR {R4_VERSION}" not in _MODELS_HEADER:
    raise ImportError(f"fhirclient's models are not FHIR {R4_VERSION} ({_MODELS_HEADER!r}); see requirements-dev.txt")

RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

# Required bindings of code elements (R4 4.0.1 value sets), keyed by the fhirclient class and element.
REQUIRED_CODES: dict[tuple[str, str], frozenset[str]] = {
    ("Bundle", "type"): frozenset(
        {
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        }
    ),
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Observation", "status"): frozenset(
        {"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
    ),
    ("Encounter", "status"): frozenset(
        {
            "planned",
            "arrived",
            "triaged",
            "in-progress",
            "onleave",
            "finished",
            "cancelled",
            "entered-in-error",
            "unknown",
        }
    ),
    ("Procedure", "status"): frozenset(
        {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed", "entered-in-error", "unknown"}
    ),
    ("MedicationAdministration", "status"): frozenset(
        {"in-progress", "not-done", "on-hold", "completed", "entered-in-error", "stopped", "unknown"}
    ),
    ("QuestionnaireResponse", "status"): frozenset(
        {"in-progress", "completed", "amended", "entered-in-error", "stopped"}
    ),
    ("Identifier", "use"): frozenset({"usual", "official", "temp", "secondary", "old"}),
    ("HumanName", "use"): frozenset({"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}),
    ("ContactPoint", "system"): frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"}),
    ("ContactPoint", "use"): frozenset({"home", "work", "temp", "old", "mobile"}),
    ("Quantity", "comparator"): frozenset({"<", "<=", ">=", ">"}),
    ("Narrative", "status"): frozenset({"generated", "extensions", "additional", "empty"}),
}

# Required bindings of CodeableConcepts: one coding must come from the bound code system's codes.
REQUIRED_CONCEPTS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("Condition", "clinicalStatus"): (
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
        frozenset({"active", "recurrence", "relapse", "inactive", "remission", "resolved"}),
    ),
    ("Condition", "verificationStatus"): (
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        frozenset({"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"}),
    ),
}

# What each reference element may point at (R4 4.0.1); None means any resource.
REFERENCE_TARGETS: dict[tuple[str, str], frozenset[str] | None] = {
    ("Condition", "subject"): frozenset({"Patient", "Group"}),
    ("ConditionEvidence", "detail"): None,
    ("Encounter", "subject"): frozenset({"Patient", "Group"}),
    ("Encounter", "reasonReference"): frozenset(
        {"Condition", "Procedure", "Observation", "ImmunizationRecommendation"}
    ),
    ("Observation", "subject"): frozenset({"Patient", "Group", "Device", "Location"}),
    ("Observation", "encounter"): frozenset({"Encounter"}),
    ("Observation", "derivedFrom"): frozenset(
        {"DocumentReference", "ImagingStudy", "Media", "QuestionnaireResponse", "Observation", "MolecularSequence"}
    ),
    ("QuestionnaireResponse", "subject"): None,
    ("QuestionnaireResponse", "source"): frozenset({"Patient", "Practitioner", "PractitionerRole", "RelatedPerson"}),
    ("Procedure", "subject"): frozenset({"Patient", "Group"}),
    ("Procedure", "reasonReference"): frozenset(
        {"Condition", "Observation", "Procedure", "DiagnosticReport", "DocumentReference"}
    ),
    ("MedicationAdministration", "subject"): frozenset({"Patient", "Group"}),
    ("MedicationAdministration", "partOf"): frozenset({"MedicationAdministration", "Procedure"}),
    ("MedicationAdministration", "reasonReference"): frozenset({"Condition", "Observation", "DiagnosticReport"}),
}


def assert_valid_r4_bundle(bundle: dict) -> None:
    """Fail the test, listing every problem, unless ``bundle`` is a valid, self-contained R4 Bundle."""
    problems = r4_bundle_problems(bundle)
    assert not problems, "Not a valid FHIR R4 bundle:\n  " + "\n  ".join(problems)


def r4_bundle_problems(bundle: Any) -> list[str]:
    """Everything wrong with ``bundle`` as FHIR R4 JSON, as messages naming the element's path."""
    try:
        if json.loads(json.dumps(bundle)) != bundle:
            return ["Bundle: not plain JSON (a value changes when written out and read back)"]
    except (TypeError, ValueError) as error:
        return [f"Bundle: not JSON: {error}"]
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return ["Bundle: resourceType is not 'Bundle'"]
    problems = list(_empty_values(bundle, "Bundle"))
    try:
        parsed = r4_bundle.Bundle(bundle, strict=True)
    except FHIRValidationError as error:
        return [*problems, f"Bundle: rejected by the R4 models: {error}"]
    references: list[_Reference] = []
    problems.extend(_element_problems(parsed, bundle, "Bundle", references))
    problems.extend(_entry_problems(bundle, references))
    return problems


def _empty_values(value: Any, path: str) -> Iterator[str]:
    # FHIR JSON: "null" is never a value, and strings, arrays and objects are left out when empty.
    if value is None:
        yield f"{path}: null (leave the element out)"
    elif isinstance(value, str) and not value:
        yield f"{path}: empty string (leave the element out)"
    elif isinstance(value, list | dict) and not value:
        yield f"{path}: empty {'array' if isinstance(value, list) else 'object'} (leave the element out)"
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _empty_values(inner, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _empty_values(inner, f"{path}.{key}")


@dataclass(frozen=True)
class _Reference:
    path: str
    target: str
    allowed_types: frozenset[str] | None


def _element_problems(
    element: FHIRAbstractBase, source: dict, path: str, references: list[_Reference]
) -> Iterator[str]:
    """Walk the parsed element beside its JSON, using the model's own element table."""
    class_names = [cls.__name__ for cls in type(element).__mro__]
    choices: dict[str, list[str]] = {}
    for name, json_name, element_type, is_list, choice_group, _required in element.elementProperties():
        if json_name not in source:
            continue
        if choice_group:
            choices.setdefault(choice_group, []).append(json_name)
        raw_values = source[json_name] if is_list else [source[json_name]]
        parsed = getattr(element, name)
        parsed_values = parsed if is_list else [parsed]
        for index, (raw, parsed_value) in enumerate(zip(raw_values, parsed_values, strict=True)):
            where = f"{path}.{json_name}" + (f"[{index}]" if is_list else "")
            wrong_type = _json_type_problem(raw, element_type)
            if wrong_type:
                yield f"{where}: {wrong_type}"
                continue
            yield from _binding_problems(class_names, json_name, raw, where)
            if isinstance(parsed_value, FHIRReference) and "reference" in raw:
                allowed = _lookup(REFERENCE_TARGETS, class_names, json_name, default=None)
                references.append(_Reference(where, raw["reference"], allowed))
            if isinstance(parsed_value, FHIRAbstractBase):
                yield from _element_problems(parsed_value, raw, where, references)
    for group, given in choices.items():
        if len(given) > 1:
            yield f"{path}: {group}[x] given as {', '.join(given)} — R4 allows only one"


def _json_type_problem(raw: Any, element_type: type) -> str | None:
    # Python's bool is an int and fhirclient accepts a float for an integer; FHIR JSON does not.
    if element_type is bool:
        expected, ok = "true or false", isinstance(raw, bool)
    elif element_type is int:
        expected, ok = "a whole number", isinstance(raw, int) and not isinstance(raw, bool)
    elif element_type is float:
        expected, ok = "a number", isinstance(raw, int | float) and not isinstance(raw, bool)
    elif element_type is str or issubclass(element_type, FHIRDate):
        expected, ok = "a string", isinstance(raw, str)
    else:
        expected, ok = "an object", isinstance(raw, dict)
    return None if ok else f"expected {expected}, found {json.dumps(raw)}"


def _lookup(table: dict, class_names: list[str], json_name: str, default: Any = None) -> Any:
    for class_name in class_names:
        if (class_name, json_name) in table:
            return table[(class_name, json_name)]
    return default


def _binding_problems(class_names: list[str], json_name: str, raw: Any, where: str) -> Iterator[str]:
    codes = _lookup(REQUIRED_CODES, class_names, json_name)
    if codes is not None and raw not in codes:
        yield f"{where}: {raw!r} is not in the required value set ({', '.join(sorted(codes))})"
    concept = _lookup(REQUIRED_CONCEPTS, class_names, json_name)
    if concept is not None:
        system, allowed = concept
        if not any(c.get("system") == system and c.get("code") in allowed for c in raw.get("coding", [])):
            yield f"{where}: needs a coding from {system} ({', '.join(sorted(allowed))})"


def _entry_problems(bundle: dict, references: list[_Reference]) -> Iterator[str]:
    """Entries carry unique fullUrls that agree with their ids, and every reference is one of them."""
    types_by_url: dict[str, str] = {}
    for index, entry in enumerate(bundle.get("entry", [])):
        where = f"Bundle.entry[{index}]"
        resource = entry.get("resource", {})
        resource_type, resource_id = resource.get("resourceType"), resource.get("id")
        full_url = entry.get("fullUrl")
        if not full_url:
            yield f"{where}: no fullUrl"
            continue
        if full_url in types_by_url:
            yield f"{where}: fullUrl {full_url} is used by an earlier entry"
        types_by_url[full_url] = resource_type
        if not (isinstance(resource_id, str) and RESOURCE_ID.fullmatch(resource_id)):
            yield f"{where}.resource.id: {resource_id!r} is not a FHIR id"
        elif full_url.startswith("urn:uuid:"):
            if full_url != f"urn:uuid:{resource_id}" or not _is_lowercase_uuid(resource_id):
                yield f"{where}: fullUrl {full_url} does not name the resource's id {resource_id}"
        elif not full_url.endswith(f"/{resource_type}/{resource_id}"):
            yield f"{where}: fullUrl {full_url} does not end with {resource_type}/{resource_id}"
    for reference in references:
        target_type = types_by_url.get(reference.target)
        if target_type is None:
            yield f"{reference.path}: {reference.target} is not the fullUrl of any entry"
        elif reference.allowed_types is not None and target_type not in reference.allowed_types:
            allowed = ", ".join(sorted(reference.allowed_types))
            yield f"{reference.path}: points at a {target_type}; R4 allows {allowed}"


def _is_lowercase_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False

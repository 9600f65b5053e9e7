"""Reads the permission matrix out of docs/permissions.md and lists every URL pattern the project routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

MATRIX_DOC = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
ROLES = ("podiatrist", "clinic_admin", "reviewer", "token_read", "token_read_write", "superuser", "anonymous")
CELLS = frozenset({"allow", "deny", "404", "405", "n/a"})
HEADER = ("URL", "resource", "action", *ROLES)
PLANNED = "(planned)"
# Placeholders that name the record a row is about.
RECORD_PLACEHOLDERS = ("<pk>", "<object_id>", "<id>")
FORMAT_SUFFIX = "<format>"
# django-simple-history routes a record's past version with unnamed groups: the record, then the version.
UNNAMED_GROUPS = ("object_id", "history_id")


@dataclass(frozen=True)
class MatrixRow:
    """A matrix line: the URL as requested, what it is about, the method (and admin action), a cell per role."""

    url: str
    resource: str
    action: str
    cells: dict[str, str]
    planned: bool
    line: int

    @property
    def route(self) -> str:
        """The URL as Django routes it: no query string, no example values in placeholders."""
        return re.sub(r"<(\w+)=[^>]*>", r"<\1>", self.url.split("?", 1)[0])

    @property
    def method(self) -> str:
        return self.action.split()[0]

    @property
    def admin_action(self) -> str | None:
        """The admin action a changelist POST runs (``POST archive_selected``), if any."""
        parts = self.action.split()
        return parts[1] if len(parts) > 1 else None

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def names_a_record(self) -> bool:
        return any(placeholder in self.route for placeholder in RECORD_PLACEHOLDERS) or self.admin_action is not None

    def case_id(self, role: str) -> str:
        return f"{self.action} {self.url} as {role}"


def _cells_of(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_matrix(path: Path = MATRIX_DOC) -> list[MatrixRow]:
    """Every row of every table in the document whose header is the matrix header."""
    rows: list[MatrixRow] = []
    in_matrix = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.startswith("|"):
            in_matrix = False
            continue
        cells = _cells_of(line)
        if tuple(cells) == HEADER:
            in_matrix = True
            continue
        if not in_matrix or set(line) <= set("|-: "):
            continue
        if len(cells) != len(HEADER):
            raise ValueError(f"{path.name}:{number}: expected {len(HEADER)} cells, found {len(cells)}")
        url_cell, resource, action, *role_cells = cells
        unknown = set(role_cells) - CELLS
        if unknown:
            raise ValueError(f"{path.name}:{number}: unknown cell value(s) {sorted(unknown)}; use {sorted(CELLS)}")
        url_match = re.fullmatch(r"`([^`]+)`\s*(\(planned\))?", url_cell)
        if url_match is None:
            raise ValueError(f"{path.name}:{number}: the URL must be in backticks, optionally followed by {PLANNED}")
        rows.append(
            MatrixRow(
                url=url_match.group(1).removeprefix("/"),  # `/` is the root, routed as ""
                resource=resource,
                action=action,
                cells=dict(zip(ROLES, role_cells, strict=True)),
                planned=url_match.group(2) is not None,
                line=number,
            )
        )
    return rows


def _groups_to_placeholders(regex: str) -> str:
    """``(?P<pk>[^/.]+)`` → ``<pk>``, minding nested parentheses; unnamed groups are named by position."""
    out, index, unnamed = [], 0, iter(UNNAMED_GROUPS)
    while index < len(regex):
        if regex.startswith("(?P<", index) or (regex[index] == "(" and not regex.startswith("(?", index)):
            if regex.startswith("(?P<", index):
                name_end = regex.index(">", index)
                name = regex[index + 4 : name_end]
            else:
                name_end, name = index, next(unnamed)
            depth, cursor = 1, name_end + 1
            while depth:
                if regex[cursor] == "\\":
                    cursor += 2
                    continue
                depth += {"(": 1, ")": -1}.get(regex[cursor], 0)
                cursor += 1
            out.append(f"<{name}>")
            index = cursor
        else:
            out.append(regex[index])
            index += 1
    return "".join(out)


def route_template(pattern: str) -> str:
    """A routed pattern (path or regex, prefixes joined) written the way the matrix writes it."""
    template = _groups_to_placeholders(pattern)
    template = re.sub(r"<\w+:(\w+)>", r"<\1>", template)  # path converters
    template = template.replace("^", "").replace("$", "").replace("\\.", ".")
    return template.removesuffix("/?")


def without_format_suffix(template: str) -> str:
    """The route a format-suffix variant (``patients/<pk>.<format>``) repeats: ``patients/<pk>/``."""
    if template.endswith("." + FORMAT_SUFFIX):
        return template.removesuffix("." + FORMAT_SUFFIX) + "/"
    return template.removesuffix(FORMAT_SUFFIX)


def _walk(patterns, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def routed_templates() -> set[str]:
    """Every URL pattern the project routes, admin's generated ones and the router's suffix variants included."""
    return {route_template(pattern) for pattern in _walk(get_resolver().url_patterns)}


def suffix_variants(templates: set[str]) -> dict[str, str]:
    """Routes that have a format-suffix variant, mapped to it."""
    return {without_format_suffix(t): t for t in templates if FORMAT_SUFFIX in t}

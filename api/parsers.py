"""Request bodies: JSON only, refused with a 400 when nested deeper than any record of this API can be."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The deepest body the API takes is an object holding lists of codes. The limit leaves ample room
# and stops a small body of nested brackets from exhausting the interpreter's recursion limit (a 500).
MAX_NESTING = 32
TOO_DEEP = f"JSON parse error - nested more than {MAX_NESTING} levels deep."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if _nesting(document) > MAX_NESTING:
            raise ParseError(TOO_DEEP)
        return document


def _nesting(document: Any) -> int:
    """How many arrays and objects deep ``document`` goes, counted without recursion."""
    deepest, pending = 0, [(document, 1)]
    while pending and deepest <= MAX_NESTING:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            pending.extend((nested, depth + 1) for nested in (value.values() if isinstance(value, dict) else value))
    return deepest

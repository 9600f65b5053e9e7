"""Cursor pagination: stable pages for integrations walking whole collections, whatever is written meanwhile."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

PAGE_SIZE_RANGE = "Use a whole number from 1 to {maximum}."


class StableCursorPagination(CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        """The asked-for page size; one outside 1..max is refused (400), not silently replaced by another."""
        asked = request.query_params.get(self.page_size_query_param, "")
        if asked == "":
            return self.page_size
        # Digits only (int() would also take " 5", "+5" and "1_0"), and few of them: int() refuses
        # strings of more than 4300 digits with a ValueError.
        size = int(asked) if asked.isascii() and asked.isdecimal() and len(asked) <= 9 else 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [PAGE_SIZE_RANGE.format(maximum=self.max_page_size)]})
        return size

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
        return parameters

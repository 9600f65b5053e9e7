"""Cursor pagination: stable pages for integrations walking whole collections, whatever is written meanwhile."""

from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

"""Counts a request's database queries into a response header, only when the request asks for it."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

ASK_HEADER = "HTTP_X_BENCH_QUERIES"
ANSWER_HEADER = "X-Bench-Queries"


class QueryCountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if ASK_HEADER not in request.META:
            return self.get_response(request)
        executed = 0

        def count(execute, sql, params, many, context):
            nonlocal executed
            executed += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = self.get_response(request)
        # A streamed body runs its queries after this point; the header counts only what ran before.
        response[ANSWER_HEADER] = str(executed)
        return response

"""The production routes plus the two references the presentations list is measured against."""

from django.urls import path

from clinic.urls import handler404, handler500  # noqa: F401
from clinic.urls import urlpatterns as production

from . import references

urlpatterns = [
    path(
        "bench/naive/presentations/",
        references.NaivePresentationViewSet.as_view({"get": "list"}),
        name="bench-naive-presentations",
    ),
    path("bench/floor/presentations/", references.floor_presentations, name="bench-floor-presentations"),
    *production,
]

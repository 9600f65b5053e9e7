"""Routes of the REST API, version 1, plus its schema and interactive documentation."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("patients", views.PatientViewSet, basename="patient")
router.register("presentations", views.PresentationViewSet, basename="presentation")
router.register("visits", views.VisitViewSet, basename="visit")
router.register("treatments", views.TreatmentViewSet, basename="treatment")
router.register("complications", views.ComplicationViewSet, basename="complication")
router.register("follow-ups", views.FollowUpViewSet, basename="follow-up")

urlpatterns = [
    path("v1/reports/outcomes/", views.OutcomeReportView.as_view(), name="outcome-report"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]

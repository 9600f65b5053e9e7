"""The patient's follow-up page: one URL, the token its only part."""

from django.urls import path

from . import views

urlpatterns = [
    path("<str:token>/", views.follow_up_page, name="follow-up-page"),
]

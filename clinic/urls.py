from django.contrib import admin
from django.urls import path

admin.site.site_header = "Neuroma case tracker"
admin.site.site_title = "Neuroma case tracker"
admin.site.index_title = "Cases"

urlpatterns = [
    path("admin/", admin.site.urls),
]

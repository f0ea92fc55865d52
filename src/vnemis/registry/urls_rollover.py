"""Pages of the year-end rollover, mounted at ``/rollover/`` by ``registry/urls.py``."""

from django.urls import path

from . import views_rollover as views

app_name = "rollover"

urlpatterns = [
    path("", views.preview, name="preview"),
    path("preview/<uuid:job_id>/", views.preview_job, name="preview_job"),
    path("run/", views.run, name="run"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("jobs/<uuid:job_id>/progress/", views.job_progress, name="progress"),
    path("jobs/<uuid:job_id>/undo/", views.undo, name="undo"),
]

"""Pages of the exams app (mounted at /exams/)."""

from django.urls import path

from . import views

app_name = "exams"

urlpatterns = [
    path("", views.exam_home, name="home"),
    path("new/", views.session_new, name="session_new"),
    path("<int:year>/", views.session_detail, name="session"),
    path("<int:year>/settings/", views.session_settings, name="session_settings"),
    path("<int:year>/candidates/", views.candidate_list, name="candidates"),
    path("<int:year>/candidates/<int:candidate_id>/", views.candidate_detail, name="candidate"),
    path("<int:year>/imports/", views.import_new, name="import_new"),
    path("<int:year>/imports/<uuid:job_id>/", views.import_detail, name="import_detail"),
    path(
        "<int:year>/imports/<uuid:job_id>/errors.csv",
        views.import_errors_csv,
        name="import_errors_csv",
    ),
]

"""Pages of period submissions, under /exchange/submissions/."""

from django.urls import path

from . import views_submissions as views

urlpatterns = [
    path("", views.submission_overview, name="submission_overview"),
    path("remind/", views.submission_remind, name="submission_remind"),
    path("school/<str:code>/", views.submission_school, name="submission_school"),
    path(
        "school/<str:code>/<int:period_id>/<str:action>/",
        views.submission_school_action,
        name="submission_school_action",
    ),
    path("<int:submission_id>/", views.submission_detail, name="submission_detail"),
    path("<int:submission_id>/<str:action>/", views.submission_decide, name="submission_decide"),
]

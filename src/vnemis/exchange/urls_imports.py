"""Pages of import jobs, under /exchange/imports/."""

from django.urls import path

from . import views_imports as views

urlpatterns = [
    path("", views.import_list, name="import_list"),
    path("new/", views.import_new, name="import_new"),
    path("<uuid:job_id>/", views.import_detail, name="import_detail"),
    path("<uuid:job_id>/cancel/", views.import_cancel_view, name="import_cancel"),
    path("<uuid:job_id>/errors.csv", views.import_errors_csv, name="import_errors_csv"),
    path("<uuid:job_id>/errors.xlsx", views.import_errors_xlsx, name="import_errors_xlsx"),
    path("<uuid:job_id>/rows-to-fix.xlsx", views.import_rows_to_fix, name="import_rows_to_fix"),
]

from django.urls import path

from . import views_reports

urlpatterns = [
    path("", views_reports.reports_index, name="stats_reports"),
    path("<str:form>/", views_reports.report_page, name="stats_report"),
    path("<str:form>/drill/", views_reports.report_drill, name="stats_report_drill"),
]

from django.urls import include, path

urlpatterns = [
    path("", include("vnemis.stats.urls_dashboards")),
    path("reports/", include("vnemis.stats.urls_reports")),
    path("snapshot/", include("vnemis.stats.urls_snapshot")),
]

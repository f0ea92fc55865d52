"""Dashboards and indicator definition pages, mounted at /stats/.

A node is ``national``, a two-digit province code or a school code; the words used by the
other statistics pages (reports, snapshot, indicators) are never read as a node.
"""

from django.urls import path, re_path

from . import views_dashboards as views

NODE = r"(?!(?:indicators|reports|snapshot)/)(?P<node>[0-9A-Za-z_.-]{1,20})"

urlpatterns = [
    path("", views.stats_home, name="stats_home"),
    path("indicators/", views.stats_indicators, name="stats_indicators"),
    path("indicators/<str:code>/", views.stats_indicator, name="stats_indicator"),
    re_path(rf"^{NODE}/$", views.stats_dashboard, name="stats_dashboard"),
    re_path(
        rf"^{NODE}/tables/(?P<panel>[a-z_]{{1,20}})\.(?P<fmt>csv|xlsx)$",
        views.stats_table_download,
        name="stats_table_download",
    ),
]

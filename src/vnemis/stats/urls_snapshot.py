from django.urls import path

from . import views_snapshot

urlpatterns = [
    path("", views_snapshot.snapshot_page, name="stats_snapshot"),
]

"""Pages of the published data standard (public, no log-in): /exchange/standard/..."""

from django.urls import path, re_path

from . import views_standard as views

urlpatterns = [
    path("", views.standard_index, name="exchange_standard"),
    re_path(
        r"^(?P<entity>[a-z_]+)\.(?P<kind>csv|xlsx|schema\.json)$",
        views.standard_download,
        name="exchange_standard_download",
    ),
    path("<slug:entity>/", views.standard_entity, name="exchange_standard_entity"),
]

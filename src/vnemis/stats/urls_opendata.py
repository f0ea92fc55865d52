"""Open data pages, mounted at /open-data/ with no log-in."""

from django.urls import path

from . import views_opendata

urlpatterns = [
    path("", views_opendata.catalogue_page, name="opendata_catalogue"),
    path("<slug:code>/", views_opendata.dataset_page, name="opendata_dataset"),
    path(
        "<slug:code>/<int:year>.<str:fmt>",
        views_opendata.dataset_download,
        name="opendata_download",
    ),
]

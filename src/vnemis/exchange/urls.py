"""Pages of the exchange: data standard, imports, submissions (one module per purpose)."""

from django.urls import include, path

urlpatterns = [
    path("standard/", include("vnemis.exchange.urls_standard")),
    path("imports/", include("vnemis.exchange.urls_imports")),
    path("submissions/", include("vnemis.exchange.urls_submissions")),
]

from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("exams/results/", include("vnemis.exams.public_urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("", include("vnemis.orgs.urls")),
    path("", include("vnemis.registry.urls")),
    path("exchange/", include("vnemis.exchange.urls")),
    path("identity/", include("vnemis.identity.urls")),
    path("stats/", include("vnemis.stats.urls")),
    path("open-data/", include("vnemis.stats.urls_opendata")),
    path("exams/", include("vnemis.exams.urls")),
    path("admissions/", include("vnemis.admissions.urls")),
    path("payments/", include("vnemis.payments.urls")),
    path("office/", include("vnemis.office.urls")),
]

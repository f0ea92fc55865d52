"""The public result look-up, mounted at /exams/results/ with no log-in (before /exams/)."""

from django.urls import path

from . import public

app_name = "exams_public"

urlpatterns = [
    path("", public.lookup_page, name="page"),
    # Before the number route: "by-citizen-id" would otherwise be taken for a number (and
    # refused as malformed). Years and numbers are <str:…> so a malformed one gets the API's
    # 422 with a message, not Django's HTML 404.
    path("api/<str:year>/by-citizen-id", public.api_by_citizen_id, name="api_citizen"),
    path("api/<str:year>/<str:candidate_number>", public.api_by_number, name="api_number"),
]

"""Pages of the admissions app (mounted at /admissions/)."""

from django.urls import path

from . import views

app_name = "admissions"

urlpatterns = [
    path("", views.admissions_home, name="home"),
    path("new/", views.round_new, name="round_new"),
    path("<int:year>/", views.round_detail, name="round"),
    path("<int:year>/settings/", views.round_settings, name="round_settings"),
    path("<int:year>/programmes-file/", views.programmes_upload, name="programmes_upload"),
    path("<int:year>/runs/", views.run_start, name="run_start"),
    path("<int:year>/runs/<int:number>/", views.run_detail, name="run"),
    path("<int:year>/runs/<int:number>/publish/", views.run_publish_view, name="run_publish"),
    path("<int:year>/programmes/", views.programme_list, name="programmes"),
    path("<int:year>/programmes/new/", views.programme_edit, name="programme_new"),
    path("<int:year>/programmes/<str:code>/", views.programme_edit, name="programme"),
    path(
        "<int:year>/programmes/<str:code>/admitted.<str:fmt>",
        views.programme_admitted,
        name="admitted",
    ),
    path("<int:year>/wishes/", views.wishes_page, name="wishes"),
    path("<int:year>/profile/", views.profile_page, name="profile"),
]

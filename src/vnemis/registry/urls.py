"""Pages of the registry: home per role, schools, classes, persons, search.

A plain ``urlpatterns`` list: other parts (year-end rollover) add their own ``include`` lines.
"""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("schools/", views.school_list, name="school_list"),
    path("schools/communes/", views.school_communes, name="school_communes"),
    path("schools/<str:code>/", views.school_detail, name="school_detail"),
    path("classes/<int:class_id>/", views.class_detail, name="class_detail"),
    path("persons/<int:person_id>/", views.person_detail, name="person_detail"),
    path("search/", views.search, name="search"),
    path("rollover/", include("vnemis.registry.urls_rollover")),
]

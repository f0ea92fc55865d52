from django.urls import path

from . import views

urlpatterns = [
    path("", views.identity_home, name="identity_home"),
    path("schools/<str:code>/", views.school_fix, name="identity_school"),
    path("persons/<int:person_id>/", views.person_identity, name="identity_person"),
    path("persons/<int:person_id>/correct/", views.person_correct, name="identity_person_correct"),
    path("persons/<int:person_id>/verify/", views.person_reverify, name="identity_person_reverify"),
    path("rates/", views.rates, name="identity_rates"),
    path("rates/<str:code>/", views.rates, name="identity_rates_of"),
    path("runs/", views.runs, name="identity_runs"),
    path("review/<str:kind>/", views.review_list, name="identity_review"),
    path("review/<str:kind>/scan/", views.review_scan, name="identity_review_scan"),
    path("review/items/<int:item_id>/", views.review_detail, name="identity_review_item"),
    path("merges/", views.merges, name="identity_merges"),
    path("merges/<int:merge_id>/undo/", views.merge_undo_view, name="identity_merge_undo"),
]

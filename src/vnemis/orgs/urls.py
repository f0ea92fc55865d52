"""Pages of the organisation tree: log-in and log-out (role pages: ``vnemis.registry.urls``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
]

"""Log-in and log-out pages: Django's auth views with our template, and an audited log-in.

The role pages (home, schools, classes, persons) live in ``vnemis.registry.views`` because they
read registry data, and a lower app must not import a higher one (DESIGN.md §2).
"""

from django.contrib.auth import views as auth_views

from vnemis.core.audit import audit_record


class LoginView(auth_views.LoginView):
    """Log-in form; every successful log-in leaves an entry in the audit chain."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        audit_record(actor=user, action="login", object_type="user", object_id=user.pk)
        return response


class LogoutView(auth_views.LogoutView):
    """Log-out (POST only, as Django requires since 5.0, so a link cannot log anyone out)."""

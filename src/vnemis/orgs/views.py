"""Log-in and log-out pages: Django's auth views with our template, and an audited log-in.

The role pages (home, schools, classes, persons) live in ``vnemis.registry.views`` because they
read registry data, and a lower app must not import a higher one (DESIGN.md §2).
"""

import hashlib

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.core.middleware import client_ip

# Failed log-ins allowed per (address, user name) within the window before the form refuses.
MAX_FAILURES = 10
FAILURE_WINDOW_S = 15 * 60


def _username_digest(username: str) -> str:
    # A digest, not the name: people type passwords into the user-name field.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:16]


class LoginView(auth_views.LoginView):
    """Log-in form; every log-in, failed or not, leaves an entry in the audit chain."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def _throttle_key(self) -> str:
        username = self.request.POST.get("username", "")
        return f"login-fail:{client_ip(self.request)}:{_username_digest(username)}"

    def post(self, request, *args, **kwargs):
        if cache.get(self._throttle_key(), 0) >= MAX_FAILURES:
            form = self.get_form()
            form.add_error(
                None,
                _("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút."),
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        cache.delete(self._throttle_key())
        audit_record(actor=user, action="login", object_type="user", object_id=user.pk)
        return response

    def form_invalid(self, form):
        key = self._throttle_key()
        cache.add(key, 0, FAILURE_WINDOW_S)
        cache.incr(key)
        audit_record(
            actor=None,
            action="login_fail",
            object_type="user",
            detail={"username_digest": _username_digest(self.request.POST.get("username", ""))},
        )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """Log-out (POST only, as Django requires since 5.0, so a link cannot log anyone out)."""

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "vnemis.identity"
    label = "identity"
    verbose_name = "Identity"

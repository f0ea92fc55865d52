from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "vnemis.core"
    label = "core"
    verbose_name = "Core"

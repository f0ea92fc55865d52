from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "vnemis.registry"
    label = "registry"
    verbose_name = "Registry"

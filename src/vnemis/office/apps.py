from django.apps import AppConfig


class OfficeConfig(AppConfig):
    name = "vnemis.office"
    label = "office"
    verbose_name = "E-office"

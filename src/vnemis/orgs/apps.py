from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "vnemis.orgs"
    label = "orgs"
    verbose_name = "Organisations"

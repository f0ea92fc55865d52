from django.apps import AppConfig


class AdmissionsConfig(AppConfig):
    name = "vnemis.admissions"
    label = "admissions"
    verbose_name = "Admissions"

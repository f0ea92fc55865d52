from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "vnemis.exams"
    label = "exams"
    verbose_name = "Graduation exam"

from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "vnemis.stats"
    label = "stats"
    verbose_name = "Statistics"

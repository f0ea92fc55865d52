from django.apps import AppConfig


class GeoConfig(AppConfig):
    name = "vnemis.geo"
    label = "geo"
    verbose_name = "Geography"

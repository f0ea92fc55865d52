from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "vnemis.exchange"
    label = "exchange"
    verbose_name = "Exchange"

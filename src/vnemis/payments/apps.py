from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "vnemis.payments"
    label = "payments"
    verbose_name = "Payments"

"""The payment settings, read from ``django.conf.settings`` with development defaults.

Read at each use (not at import), so ``override_settings`` in tests and a changed
environment take effect. The defaults match ``vnemis sim payment`` on its default port.
"""

from django.conf import settings

DEFAULTS = {
    "VNEMIS_PAYMENT_GATEWAY_URL": "http://127.0.0.1:8766",  # /pay and the query API under it
    "VNEMIS_PAYMENT_TMN_CODE": "VNEMIS01",  # our terminal (merchant) code at the gateway
    "VNEMIS_PAYMENT_SECRET": "dev-payment-secret",  # the hash secret: development only
    "VNEMIS_PAYMENT_RETURN_URL": "http://127.0.0.1:8000/payments/return/",
    "VNEMIS_PAYMENT_TIMEOUT": 10.0,  # seconds per query attempt
    "VNEMIS_PAYMENT_RETRIES": 2,  # query attempts after the first
    "VNEMIS_PAYMENT_EXPIRE_MINUTES": 15,  # how long a payment link stays valid
    "VNEMIS_PAYMENT_EXPIRY_GRACE_MINUTES": 10,  # clock skew allowed before expiring an order
    "VNEMIS_PAYMENT_SERVER_IP": "127.0.0.1",  # our address, sent with query requests
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])

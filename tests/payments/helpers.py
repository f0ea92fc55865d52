"""What the payment tests share: an order, its redirect, paying it on the simulator, and a
signer of our own (a third implementation of the gateway's HMAC, for hostile inputs)."""

import hashlib
import hmac
from urllib.parse import quote_plus, urlsplit

from vnemis.payments.actions import payment_order_create, payment_redirect_url

PAYER_IP = "203.0.113.7"


def new_order(amount: int = 150_000, **more):
    more.setdefault("purpose", "test_fee")
    more.setdefault("description", "Lệ phí đăng ký xét tuyển")
    return payment_order_create(amount=amount, **more)


def redirect_of(order) -> str:
    return payment_redirect_url(order=order, ip=PAYER_IP)


def pay(sim, order, **choice) -> tuple[dict, str]:
    """Pay (or cancel) the order on the simulator's page: (the gateway's transaction, the
    return URL the payer is sent to, or "" when the return is lost)."""
    response = sim.pay(redirect_of(order), **choice)
    return sim.transaction(order.txn_ref), response.headers.get("location", "")


def local_path(url: str) -> str:
    """An absolute return URL as the Django test client's path and query."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def sign(params: dict, secret: str) -> str:
    """A query string signed the gateway's way, written out by hand for the tests."""
    text = "&".join(
        f"{quote_plus(k)}={quote_plus(v)}"
        for k, v in sorted(params.items())
        if k.startswith("vnp_") and k != "vnp_SecureHash"
    )
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha512).hexdigest()
    return f"{text}&vnp_SecureHash={digest}"


def result_params(txn: dict) -> dict:
    return dict(txn["result"])

"""Start the payment-gateway simulator as its own process for a test, and drive its pages.

``running_payment_simulator(merchant=["VNEMIS01:secret"], ipn_retry_s=0.2)`` runs
``python -m vnemis.payments.simulator --port 0 --merchant VNEMIS01:secret --ipn-retry-s 0.2``
(keyword options become ``--dashed-options``; a list repeats the option, True is a bare flag),
waits for its "listening on" line and stops it at exit. The handle holds the URL, the admin
key and the first merchant's code and secret, changes faults (``configure``), reads what
happened to a transaction (``transaction``, ``wait_ipn``) and pays like a payer would over
plain HTTP (``pay``): open the signed redirect, submit the page's form.
"""

import contextlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
from sim_process import options_to_arguments, simulator_process

DEFAULT_MERCHANT = "VNEMIS01:dev-payment-secret"
CALM = {
    "ipn_delay_s": 0, "ipn_copies": 1, "ipn_concurrent": False, "ipn_never": False,
    "ipn_hold": False, "return_lost": False, "amount_delta": 0, "query_down": False,
    "query_fail_next": [],
}  # fmt: skip


@dataclass
class PaymentSimHandle:
    url: str
    admin_key: str
    tmn_code: str
    secret: str
    process: subprocess.Popen
    log: Path | None = None

    def _admin(self) -> dict:
        return {"X-Admin-Key": self.admin_key}

    def configure(self, **settings) -> dict:
        """Change fault settings (``POST /_sim/config``); returns them all."""
        response = httpx.post(f"{self.url}/_sim/config", json=settings, headers=self._admin())
        response.raise_for_status()
        return response.json()["config"]

    def calm(self) -> dict:
        """A well-behaved gateway again (the IPN URL, attempts and timings are kept)."""
        self.release()  # nothing held over from the previous test
        return self.configure(**CALM)

    def stats(self) -> dict:
        response = httpx.get(f"{self.url}/_sim/stats", headers=self._admin())
        response.raise_for_status()
        return response.json()

    def release(self, order: str = "fifo") -> int:
        """Send the held notifications (``reverse``: newest first)."""
        response = httpx.post(
            f"{self.url}/_sim/ipn/release", json={"order": order}, headers=self._admin()
        )
        response.raise_for_status()
        return response.json()["released"]

    def transaction(self, ref: str, merchant: str | None = None) -> dict | None:
        """What the gateway holds about one TxnRef (state, signed result, IPN attempts)."""
        params = {"ref": ref, **({"merchant": merchant} if merchant else {})}
        response = httpx.get(f"{self.url}/_sim/transactions", params=params, headers=self._admin())
        response.raise_for_status()
        rows = response.json()["transactions"]
        return rows[0] if rows else None

    def wait_ipn(self, ref: str, *, attempts: int = 1, timeout: float = 15.0, **match) -> dict:
        """The transaction once ``attempts`` IPN attempts are recorded and its delivery is over
        (``delivered`` or ``gave_up``), or once ``match`` (e.g. ``ipn_state="delivered"``) holds."""
        deadline = time.monotonic() + timeout
        txn: dict | None = None
        while time.monotonic() < deadline:
            txn = self.transaction(ref)
            if txn and len(txn["ipn_attempts"]) >= attempts:
                if match and all(txn.get(k) == v for k, v in match.items()):
                    return txn
                if not match and txn["ipn_state"] in ("delivered", "gave_up"):
                    return txn
            time.sleep(0.05)
        raise AssertionError(f"IPN of {ref} not as expected within {timeout} s: {txn}")

    def open_page(self, redirect_url: str) -> httpx.Response:
        return httpx.get(redirect_url, timeout=10)

    def pay(
        self, redirect_url: str, *, action: str = "pay", result: str = "00", bank: str = "NCB"
    ) -> httpx.Response:
        """Open the payment page and submit it; the answer (a 302 to the return URL) unfollowed."""
        page = self.open_page(redirect_url)
        assert page.status_code == 200, page.text
        token = unescape(re.search(r'name="txn" value="([^"]+)"', page.text).group(1))
        return httpx.post(
            f"{self.url}/pay/confirm",
            data={"txn": token, "action": action, "bank": bank, "result": result},
            timeout=10,
        )

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log else ""


@contextlib.contextmanager
def running_payment_simulator(
    *args: str, log: Path | None = None, command: list[str] | None = None, **options
):
    """The simulator on a free port; yields a ``PaymentSimHandle`` and stops it at exit.

    ``command`` replaces ``python -m vnemis.payments.simulator`` (e.g. ``vnemis sim payment``).
    """
    argv = [*(command or [sys.executable, "-m", "vnemis.payments.simulator"]),
            "--port", "0", *args, *options_to_arguments(options)]  # fmt: skip
    merchants = options.get("merchant") or [DEFAULT_MERCHANT]
    merchants = [merchants] if isinstance(merchants, str) else list(merchants)
    code, _, secret = merchants[0].partition(":")
    admin_key = options.get("admin_key", "sim-admin")
    with simulator_process(argv, "payment-sim-", log) as (url, process, log):
        yield PaymentSimHandle(url, admin_key, code, secret, process, log)

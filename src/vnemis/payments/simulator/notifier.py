"""Delivery of the server-to-server notification (IPN) to the merchant, with retries and faults.

A notification is a GET of the merchant's IPN URL with the signed result as its query string;
the merchant answers JSON ``{"RspCode": "..", "Message": ".."}``. Anything but 00 (confirmed)
or 02 (already confirmed), including no answer, is retried ``ipn_attempts`` times, every
``ipn_retry_s``. Each delivery runs on its own daemon thread; held notifications are sent one
after another on a single thread when released, so their order is the one asked for.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

from .faults import FaultConfig, Faults
from .stats import Stats
from .transactions import Store, Transaction

CONFIRMED = ("00", "02")
MAX_ANSWER = 64 * 1024


class Notifier:
    def __init__(self, store: Store, faults: Faults, stats: Stats, log: Callable[[str], None]):
        self.store, self.faults, self.stats, self.log = store, faults, stats, log
        self._held: list[Transaction] = []
        self._lock = threading.Lock()
        # No proxies from the environment: the merchant is reached directly, as configured.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def schedule(self, txn: Transaction) -> None:
        """Send the transaction's result to the merchant as the configuration says."""
        config = self.faults.config
        if config.ipn_never:
            self.store.set_ipn_state(txn, "never")
            self.stats.count("ipn_never")
            return
        if config.ipn_hold:
            with self._lock:
                self._held.append(txn)
            self.store.set_ipn_state(txn, "held")
            return
        self.store.set_ipn_state(txn, "scheduled")
        threading.Thread(target=self._deliver, args=(txn, config), daemon=True).start()

    def release(self, *, reverse: bool) -> int:
        """Send the held notifications, oldest first or (``reverse``) newest first."""
        with self._lock:
            held, self._held = self._held, []
        if reverse:
            held.reverse()
        config = self.faults.config

        def send_all():
            for txn in held:
                self._deliver(txn, config)

        threading.Thread(target=send_all, daemon=True).start()
        return len(held)

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    # --- delivery -------------------------------------------------------------------------------

    def _deliver(self, txn: Transaction, config: FaultConfig) -> None:
        if config.ipn_delay_s:
            time.sleep(config.ipn_delay_s)
        self.store.set_ipn_state(txn, "sending")
        copies = range(1, config.ipn_copies + 1)
        if config.ipn_concurrent and config.ipn_copies > 1:
            barrier = threading.Barrier(config.ipn_copies)
            confirmed: list[bool] = []

            def copy_on_thread(n: int) -> None:
                barrier.wait()
                confirmed.append(self._send_copy(txn, config, n))

            threads = [threading.Thread(target=copy_on_thread, args=(n,)) for n in copies]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ok = any(confirmed)
        else:
            ok = any([self._send_copy(txn, config, n) for n in copies])
        self.store.set_ipn_state(txn, "delivered" if ok else "gave_up")

    def _send_copy(self, txn: Transaction, config: FaultConfig, copy: int) -> bool:
        for attempt in range(1, config.ipn_attempts + 1):
            # The URL is read at each attempt: a merchant that comes back is reached.
            url = self.faults.config.ipn_url
            joiner = "&" if "?" in url else "?"
            status, rsp_code, error = self._attempt(
                f"{url}{joiner}{txn.result_query}", config.ipn_timeout_s
            )
            at = datetime.now(UTC).isoformat(timespec="milliseconds")
            record = {"copy": copy, "attempt": attempt, "at": at, "status": status,
                      "rsp_code": rsp_code, "error": error}  # fmt: skip
            self.store.record_attempt(txn, record)
            self.stats.ipn_attempt(rsp_code or error or str(status))
            self.log(
                f"IPN {txn.txn_ref} copy {copy} attempt {attempt} -> {rsp_code or error or status}"
            )
            if rsp_code in CONFIRMED:
                return True
            if attempt < config.ipn_attempts:
                time.sleep(config.ipn_retry_s)
        return False

    def _attempt(self, url: str, timeout: float) -> tuple[int | None, str | None, str | None]:
        """(HTTP status, the merchant's RspCode, what went wrong) of one GET."""
        # ipn_url is checked to be http(s) when it is set (faults.checked).
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=timeout) as response:
                status, body = response.status, response.read(MAX_ANSWER)
        except urllib.error.HTTPError as exc:
            return exc.code, None, "http_error"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, None, "timeout" if isinstance(reason, TimeoutError) else "unreachable"
        try:
            answer = json.loads(body)
        except ValueError:
            return status, None, "not_json"
        code = answer.get("RspCode") if isinstance(answer, dict) else None
        return status, code if isinstance(code, str) else None, None if code else "no_rspcode"

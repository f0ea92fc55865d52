"""What the gateway does with notifications and queries, changeable at run time (``/_sim/config``).

The defaults are a well-behaved gateway: one IPN as soon as the payer finishes, retried until
the merchant confirms (``RspCode`` 00 or 02), and a redirect back to the return URL. The
faults: the IPN delayed, sent several times (at once or one after another), held back until
released (``/_sim/ipn/release``, possibly in reverse order: out of order), never sent; the
return redirect lost; a different amount reported; the query API down or failing.
"""

import threading
from dataclasses import asdict, dataclass, field

from vnemis.core.simserver import check_setting_names

QUERY_FAULTS = ("500", "drop", "timeout", "bad_signature")
DEFAULT_IPN_URL = "http://127.0.0.1:8000/payments/ipn/"


@dataclass(frozen=True)
class FaultConfig:
    ipn_url: str = DEFAULT_IPN_URL  # where notifications go (GET, signed query string)
    ipn_delay_s: float = 0.0  # wait before the first attempt
    ipn_copies: int = 1  # the same notification delivered this many times
    ipn_concurrent: bool = False  # copies sent at the same moment, each on its own thread
    ipn_never: bool = False
    ipn_hold: bool = False  # keep notifications until /_sim/ipn/release
    ipn_attempts: int = 5  # per copy, until the merchant answers 00 or 02
    ipn_retry_s: float = 2.0  # between attempts
    ipn_timeout_s: float = 5.0  # per attempt
    return_lost: bool = False  # the payer's browser is not sent back to the merchant
    amount_delta: int = 0  # VND added to the amount reported back (return, IPN, query)
    query_down: bool = False  # the query API answers 503
    query_fail_next: tuple[str, ...] = field(default_factory=tuple)  # scripted query faults
    hang_s: float = 10.0  # how long a "timeout" query fault hangs

    def as_dict(self) -> dict:
        return {**asdict(self), "query_fail_next": list(self.query_fail_next)}


_FLAGS = {"ipn_concurrent", "ipn_never", "ipn_hold", "return_lost", "query_down"}
_COUNTS = {"ipn_copies": (1, 10), "ipn_attempts": (1, 20)}
_SECONDS = {"ipn_delay_s", "ipn_retry_s", "ipn_timeout_s", "hang_s"}


def checked(changes: dict) -> dict:
    """The changes as typed values; ValueError with a sentence naming what is wrong."""
    check_setting_names(changes, FaultConfig)
    out: dict = {}
    for name, value in changes.items():
        if name in _FLAGS:
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false.")
            out[name] = value
        elif name in _COUNTS:
            low, high = _COUNTS[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}.")
            out[name] = value
        elif name in _SECONDS:
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number of seconds, at least 0.")
            out[name] = float(value)
        elif name == "amount_delta":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("amount_delta must be a whole number of VND.")
            out[name] = value
        elif name == "ipn_url":
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise ValueError("ipn_url must be an http:// or https:// address.")
            out[name] = value
        elif name == "query_fail_next":
            if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
                raise ValueError("query_fail_next must be a list of fault names.")
            bad = [f for f in value if f not in QUERY_FAULTS]
            if bad:
                raise ValueError(
                    f"Unknown fault(s) in query_fail_next: {', '.join(bad)}. "
                    f"Known: {', '.join(QUERY_FAULTS)}."
                )
            out[name] = tuple(value)
    return out


class Faults:
    def __init__(self, config: FaultConfig):
        self._lock = threading.Lock()
        self.config = config

    def update(self, changes: dict) -> FaultConfig:
        """Apply some settings; the others stay."""
        typed = checked(changes)
        with self._lock:
            self.config = FaultConfig(**{**asdict(self.config), **typed})
            return self.config

    def next_query_fault(self) -> str | None:
        """The fault for this query request, taken off the scripted list (or None)."""
        with self._lock:
            c = self.config
            if c.query_down:
                return "down"
            if not c.query_fail_next:
                return None
            self.config = FaultConfig(**{**asdict(c), "query_fail_next": c.query_fail_next[1:]})
            return c.query_fail_next[0]

"""Latency and faults the simulator injects for tests, changeable at run time (``/_sim/config``).

Faults are drawn from their own seeded generator, separate from the latency jitter, so a seed
gives the same sequence of faults whatever the jitter. ``fail_next`` scripts exact sequences:
its faults apply to the next API requests in order, before any random draw.
"""

import random
import threading
from dataclasses import asdict, dataclass, field

from vnemis.core.simserver import check_setting_names

FAULTS = ("500", "429", "timeout", "drop", "slow")
RATES = ("drop_rate", "timeout_rate", "error_500_rate", "error_429_rate", "slow_rate")
RATE_FAULT = dict(zip(RATES, ("drop", "timeout", "500", "429", "slow"), strict=True))
DURATIONS = ("latency_ms", "jitter_ms", "slow_ms", "hang_s")


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: float = 0.0  # added to every answer of /oauth and /api
    jitter_ms: float = 0.0  # plus a uniform 0..jitter_ms
    slow_rate: float = 0.0
    slow_ms: float = 2_000.0
    error_500_rate: float = 0.0
    error_429_rate: float = 0.0
    timeout_rate: float = 0.0  # hang for hang_s, then close without answering
    hang_s: float = 30.0
    drop_rate: float = 0.0  # close the connection at once without answering
    seed: int = 0
    fail_next: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {**asdict(self), "fail_next": list(self.fail_next)}


def checked(changes: dict) -> dict:
    """The changes as typed values; ValueError with a sentence naming what is wrong."""
    check_setting_names(changes, FaultConfig)
    out: dict = {}
    for name, value in changes.items():
        if name == "fail_next":
            if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
                raise ValueError("fail_next must be a list of fault names.")
            bad = [f for f in value if f not in FAULTS]
            if bad:
                raise ValueError(
                    f"Unknown fault(s) in fail_next: {', '.join(bad)}. Known: {', '.join(FAULTS)}."
                )
            out[name] = tuple(value)
        elif name == "seed":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("seed must be an integer.")
            out[name] = value
        else:
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number of at least 0.")
            if name in RATES and value > 1:
                raise ValueError(f"{name} is a fraction of requests, between 0 and 1.")
            out[name] = float(value)
    return out


class Faults:
    def __init__(self, config: FaultConfig):
        self._lock = threading.Lock()
        self.config = config
        self._check_rates(config)
        # Reproducible draws for tests, not secrecy.
        self._faults = random.Random(config.seed)
        self._jitter = random.Random(config.seed + 1)

    @staticmethod
    def _check_rates(config: FaultConfig) -> None:
        total = sum(getattr(config, r) for r in RATES)
        if total > 1 + 1e-9:
            raise ValueError(
                f"The fault rates add up to {total:g}; together they must be at most 1."
            )

    def update(self, changes: dict) -> FaultConfig:
        """Apply some settings (the others stay); a new seed restarts both generators."""
        typed = checked(changes)
        with self._lock:
            config = FaultConfig(**{**asdict(self.config), **typed})
            self._check_rates(config)
            self.config = config
            if "seed" in typed:
                self._faults = random.Random(config.seed)
                self._jitter = random.Random(config.seed + 1)
            return config

    def latency(self) -> float:
        """Seconds to wait before any answer."""
        with self._lock:
            c = self.config
            jitter = self._jitter.uniform(0, c.jitter_ms) if c.jitter_ms else 0.0
            return (c.latency_ms + jitter) / 1000

    def draw(self) -> tuple[str | None, float]:
        """The fault for this API request (or None), and how long it holds the answer back."""
        with self._lock:
            c = self.config
            if c.fail_next:
                fault: str | None = c.fail_next[0]
                self.config = FaultConfig(**{**asdict(c), "fail_next": c.fail_next[1:]})
            else:
                fault = None
                roll = self._faults.random()
                for rate in RATES:
                    if roll < getattr(c, rate):
                        fault = RATE_FAULT[rate]
                        break
                    roll -= getattr(c, rate)
            if fault == "slow":
                return fault, c.slow_ms / 1000
            if fault == "timeout":
                return fault, c.hang_s
            return fault, 0.0

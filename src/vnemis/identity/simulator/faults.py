"""Latency and faults the simulator injects, changeable at run time (``POST /_sim/config``)."""

import random
import threading
from dataclasses import asdict, dataclass, field, fields

FAULTS = ("500", "429", "timeout", "drop", "slow")


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 2_000.0
    error_500_rate: float = 0.0
    error_429_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 30.0
    drop_rate: float = 0.0
    seed: int = 0
    fail_next: list[str] = field(default_factory=list)  # faults for the next requests, in order


class Faults:
    def __init__(self, config: FaultConfig):
        self._lock = threading.Lock()
        self.config = config
        self._rng = random.Random(config.seed)  # reproducible fault draws, not secrecy

    def update(self, changes: dict) -> FaultConfig:
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        bad = [f for f in changes.get("fail_next", []) if f not in FAULTS]
        if bad:
            raise ValueError(f"unknown fault(s) in fail_next: {', '.join(bad)}")
        with self._lock:
            merged = {**asdict(self.config), **changes}
            self.config = FaultConfig(**merged)
            if "seed" in changes:
                self._rng = random.Random(self.config.seed)
            return self.config

    def draw(self) -> tuple[str | None, float]:
        """The fault for this request (or None) and the delay in seconds before answering."""
        with self._lock:
            c = self.config
            delay = (c.latency_ms + self._rng.uniform(0, c.jitter_ms)) / 1000
            if c.fail_next:
                fault = c.fail_next.pop(0)
            else:
                fault = None
                roll = self._rng.random()
                for name, rate in (
                    ("drop", c.drop_rate),
                    ("timeout", c.timeout_rate),
                    ("500", c.error_500_rate),
                    ("429", c.error_429_rate),
                    ("slow", c.slow_rate),
                ):
                    if roll < rate:
                        fault = name
                        break
                    roll -= rate
            if fault == "slow":
                delay += c.slow_ms / 1000
            elif fault == "timeout":
                delay += c.hang_s
            return fault, delay

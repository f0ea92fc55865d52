"""What another app does when one of its orders settles: a handler per purpose.

Payments sits below admissions in the table of parts (DESIGN.md), so it never imports them;
an app registers its purpose once, in its ``AppConfig.ready()``::

    purpose_register("admission_wish_fee", on_settled=wish_fee_settled,
                     next_url=lambda order: reverse("admissions_wishes"))

``on_settled(order_id)`` runs after the commit that settled the order, once per settlement;
keep it idempotent and quick (enqueue a task for anything long). A failing handler is logged
and never undoes the settlement. ``next_url(order)`` is where the return page sends the payer.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purpose:
    name: str
    on_settled: Callable[[int], None] | None = None
    next_url: Callable[[object], str] | None = None


_PURPOSES: dict[str, Purpose] = {}


def purpose_register(
    name: str,
    *,
    on_settled: Callable[[int], None] | None = None,
    next_url: Callable[[object], str] | None = None,
) -> Purpose:
    """Register (or replace) what happens for orders of this purpose."""
    purpose = Purpose(name, on_settled, next_url)
    _PURPOSES[name] = purpose
    return purpose


def purpose_unregister(name: str) -> None:
    _PURPOSES.pop(name, None)


def purpose_get(name: str) -> Purpose | None:
    return _PURPOSES.get(name)


def settled_notify(*, order_id: int, purpose: str) -> None:
    """Call the purpose's handler (run from ``transaction.on_commit``)."""
    registered = _PURPOSES.get(purpose)
    if registered is None or registered.on_settled is None:
        return
    try:
        registered.on_settled(order_id)
    except Exception:
        logger.exception("payment settled handler failed: purpose=%s order=%s", purpose, order_id)

"""Statistics API: the indicator catalogue and indicator values (logged-in users, by scope)."""

from ninja import Router

router = Router(tags=["stats"])

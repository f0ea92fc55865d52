"""Open data API: aggregated, suppressed figures for anyone, no log-in."""

from ninja import Router

router = Router(tags=["open data"])

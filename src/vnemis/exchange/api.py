"""HTTP API of the exchange, mounted at /api/v1: one router per purpose, joined here."""

from ninja import Router

from .api_changes import router as changes_router
from .api_imports import router as imports_router
from .api_oneroster import router as oneroster_router
from .api_standard import router as standard_router
from .api_submissions import router as submissions_router
from .api_sync import router as sync_router

router = Router()
router.add_router("/standard", standard_router, tags=["data standard"])
router.add_router("/imports", imports_router, tags=["imports"])
router.add_router("/sync", sync_router, tags=["sync"])
router.add_router("/changes", changes_router, tags=["change feed"])
router.add_router("/oneroster", oneroster_router, tags=["OneRoster"])
router.add_router("/submissions", submissions_router, tags=["submissions"])

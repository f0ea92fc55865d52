"""The HTTP API: one NinjaAPI at /api/v1 that mounts each app's router."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="vnemis API",
    version="1",
    description="National education registry API (Bộ GD&ĐT). Token auth for system clients.",
    urls_namespace="api-v1",
)

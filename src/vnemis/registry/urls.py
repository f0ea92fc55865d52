"""Pages of the registry: classes, pupils, search."""

urlpatterns = []

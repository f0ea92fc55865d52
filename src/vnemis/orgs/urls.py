"""Pages of the organisation tree: log-in, home per role, school list and school page."""

urlpatterns = []

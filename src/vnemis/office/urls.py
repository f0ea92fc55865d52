"""Pages of the e-office app (mounted at /office/)."""

app_name = "office"

urlpatterns: list = []

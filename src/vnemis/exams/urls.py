"""Pages of the exams app."""

urlpatterns: list = []

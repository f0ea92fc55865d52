"""Pages of the admissions app."""

urlpatterns: list = []

from django.apps import AppConfig


def _submission_lock(school_id: int, school_year_id: int) -> bool:
    from .selectors_submissions import school_year_locked

    return school_year_locked(school_id=school_id, school_year_id=school_year_id)


class ExchangeConfig(AppConfig):
    name = "vnemis.exchange"
    label = "exchange"
    verbose_name = "Exchange"

    def ready(self) -> None:
        # Registry write actions refuse changes to a school's year under a period submission.
        from vnemis.registry.locks import lock_check_register

        lock_check_register(_submission_lock)

from django.apps import AppConfig


class AdmissionsConfig(AppConfig):
    name = "vnemis.admissions"
    label = "admissions"
    verbose_name = "Admissions"

    def ready(self) -> None:
        from vnemis.exams.hooks import scores_changed_subscribe
        from vnemis.payments.hooks import purpose_register

        from .hooks import exam_scores_changed, fee_next_url
        from .wishes import FEE_PURPOSE, fee_settled

        purpose_register(FEE_PURPOSE, on_settled=fee_settled, next_url=fee_next_url)
        scores_changed_subscribe(exam_scores_changed)

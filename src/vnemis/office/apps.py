from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def _trust_configured(app_configs=None, **kwargs):
    """Warn when approvals are checked only structurally (no trusted roots configured)."""
    if getattr(settings, "VNEMIS_OFFICE_TRUSTED_CA_FILES", None):
        return []
    return [
        checks.Warning(
            "VNEMIS_OFFICE_TRUSTED_CA_FILES is not set: approval signatures are checked only"
            " structurally and incoming signatures show as of an unknown signer.",
            hint="Set it to the PEM files of the trusted root CAs (a list of paths).",
            id="office.W001",
        )
    ]


class OfficeConfig(AppConfig):
    name = "vnemis.office"
    label = "office"
    verbose_name = "E-office"

    def ready(self):
        from . import workflow
        from .actions import step_hook_register
        from .actions_signing import approval_check, step_saved
        from .exchange import step_recorded

        # Approval is only by signing: every signed PDF is validated against the trusted roots
        # and must carry the approving leader's own certificate (actions_signing).
        workflow.signature_check_set(approval_check)
        step_hook_register(step_saved)  # validate the signatures of new files
        step_hook_register(step_recorded)  # status messages owed to an exchange partner
        checks.register(_trust_configured, checks.Tags.security, deploy=True)

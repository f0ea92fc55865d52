"""Identity actions that users start: who may verify which scope."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from vnemis.orgs.models import Organisation, OrgClosure, User
from vnemis.orgs.scope import is_unrestricted

from .models import VerificationRun
from .verification import run_create

STARTERS = {User.Role.MINISTRY, User.Role.DEPARTMENT, User.Role.SCHOOL}


def may_reach(actor, org: Organisation) -> bool:
    """The operator (no actor, or a superuser without scope) or a user whose scope holds ``org``."""
    if actor is None or is_unrestricted(actor):
        return True
    return OrgClosure.objects.filter(ancestor_id=actor.scope_id, descendant_id=org.pk).exists()


def verification_start(*, actor, scope: Organisation, enqueue: bool = True) -> VerificationRun:
    """Start a run over ``scope``; one live run per scope at a time."""
    restricted = actor is not None and not is_unrestricted(actor)
    if restricted and (actor.role not in STARTERS or not may_reach(actor, scope)):
        raise PermissionDenied(_("Bạn không có quyền xác thực dữ liệu của đơn vị này."))
    live = VerificationRun.objects.filter(
        scope=scope, status__in=[VerificationRun.Status.PENDING, VerificationRun.Status.RUNNING]
    ).first()
    if live is not None:
        return live
    return run_create(actor=actor, scope=scope, enqueue=enqueue)

"""Clerical review of candidate pairs, and applying an accepted link to the registry.

A registry link, accepted (automatically above the upper threshold, or by a clerk), gives the
person the citizen ID the registry holds and counts them as verified by linkage or review. A
duplicate pair, accepted, is merged (``merge.persons_merge``). Every decision is audited.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.core.crypto import decrypt_identifier
from vnemis.orgs.models import User
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import Person

from .merge import persons_merge
from .models import ReviewItem, VerificationMethod, VerificationStatus
from .verification import candidate_of, outcomes_save

REVIEWERS = {User.Role.DEPARTMENT, User.Role.MINISTRY}


def link_apply(*, actor, person: Person, citizen_id: str, method: str) -> None:
    """Record the registry's citizen ID on the person and count them verified by ``method``."""
    person = registry_actions.person_update(actor=actor, person=person, citizen_id=citizen_id)
    outcomes_save([candidate_of(person, VerificationStatus.VERIFIED)], method=method, run_id=None)


def _may_review(actor, item: ReviewItem) -> None:
    if actor is None or (actor.is_superuser and not actor.scope_id):
        return
    if actor.role == User.Role.MINISTRY:
        return
    province = actor.scope.province if actor.scope and actor.scope.province_id else None
    if actor.role == User.Role.DEPARTMENT and province and province.code == item.province_code:
        return
    raise PermissionDenied(_("Bạn không có quyền quyết định cặp hồ sơ này."))


@transaction.atomic
def review_decide(
    *, actor, item: ReviewItem, accept: bool, note: str = "", survivor_id: int | None = None
) -> ReviewItem:
    """Accept or reject a pending pair; an accepted duplicate is merged into ``survivor_id``
    (default: the older record)."""
    item = ReviewItem.objects.select_for_update().get(pk=item.pk)
    _may_review(actor, item)
    if item.status != ReviewItem.Status.PENDING:
        raise ValidationError(_("Cặp hồ sơ này đã được quyết định."), code="decided")
    now = timezone.now()
    decided_by = actor if getattr(actor, "is_authenticated", False) else None
    if accept and item.kind == ReviewItem.Kind.REGISTRY_LINK:
        # The reviewer acts for the Department; the registry write is the system's.
        link_apply(
            actor=None,
            person=item.person,
            citizen_id=decrypt_identifier(item.citizen_id_ciphertext),
            method=VerificationMethod.REVIEW,
        )
        # The person holds the citizen now: other candidates of either side are moot.
        ReviewItem.objects.filter(
            kind=item.kind, status=ReviewItem.Status.PENDING, person=item.person
        ).exclude(pk=item.pk).update(status=ReviewItem.Status.REJECTED, decided_at=now)
    elif accept:
        pair = {item.person_id: item.person, item.other_person_id: item.other_person}
        keep = survivor_id if survivor_id in pair else min(pair)
        persons_merge(
            actor=actor,
            survivor=pair[keep],
            duplicate=pair[next(k for k in pair if k != keep)],
            review=item,
        )
        item.refresh_from_db()
        audit_record(
            actor=actor,
            action="update",
            object_type="review_item",
            object_id=item.pk,
            detail={"decision": "accepted", "kind": item.kind},
        )
        return item
    ReviewItem.objects.filter(pk=item.pk).update(
        status=ReviewItem.Status.ACCEPTED if accept else ReviewItem.Status.REJECTED,
        decided_by=decided_by,
        decided_at=now,
        note=note[:255],
    )
    audit_record(
        actor=actor,
        action="update",
        object_type="review_item",
        object_id=item.pk,
        detail={"decision": "accepted" if accept else "rejected", "kind": item.kind},
    )
    item.refresh_from_db()
    return item

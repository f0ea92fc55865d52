"""Bearer tokens for system clients (school software, national systems) calling the API.

Only a token's SHA-256 digest is stored, with its first eight characters to tell tokens apart in
lists; the raw token is shown once, when created. Looking a token up hashes what the client
sent and finds the digest by its unique index, so no comparison loop can leak timing.
"""

import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from vnemis.core.audit import audit_record

from .models import ApiToken, User

PREFIX_LENGTH = 8
# Recording every use would turn each read into a write; a minute is precise enough for audits
# and for spotting unused tokens.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def api_token_create(*, user: User, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the token and the raw secret, shown only this once."""
    raw = secrets.token_urlsafe(32)
    while raw.startswith("-"):  # a leading dash would read as an option on the command line
        raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip(), prefix=raw[:PREFIX_LENGTH], digest=ApiToken.digest_of(raw)
    )
    audit_record(
        actor=actor,
        action="create",
        object_type="api_token",
        object_id=token.pk,
        detail={"user": user.get_username(), "prefix": token.prefix},
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None = None) -> ApiToken:
    """Revoke a token at once; revoking twice keeps the first revocation time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="update",
            object_type="api_token",
            object_id=token.pk,
            detail={"revoked": True, "prefix": token.prefix},
        )
    return token


def api_token_authenticate(*, raw: str) -> User | None:
    """The active user owning the live token ``raw``, or None; notes the use at most once a minute."""
    if not raw or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=ApiToken.digest_of(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional in SQL too, so concurrent requests write the row at most once a minute.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    return token.user

"""``vnemis token``: create, list and revoke API tokens of system clients."""

from django.core.management.base import BaseCommand, CommandError

from vnemis.orgs.models import ApiToken, User
from vnemis.orgs.tokens import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = "API tokens for system clients. / Mã truy cập API cho hệ thống."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token / Tạo mã truy cập")
        create.add_argument("--user", required=True, help="username / tên đăng nhập")
        create.add_argument("--name", required=True, help="what the token is for / mục đích")
        revoke = sub.add_parser("revoke", help="Revoke a token / Thu hồi mã truy cập")
        revoke.add_argument("--prefix", required=True, help="the token's first 8 characters")
        revoke.add_argument("--user", help="username, when several tokens share the prefix")
        listing = sub.add_parser("list", help="List tokens / Liệt kê mã truy cập")
        listing.add_argument("--user", help="only this user's tokens")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _user(self, username: str) -> User:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(
                f"No user '{username}'. / Không có người dùng '{username}'."
            ) from None

    def _create(self, *, user, name, **_):
        owner = self._user(user)
        if not owner.is_active:
            raise CommandError(f"User '{user}' is inactive. / Tài khoản '{user}' đã bị khoá.")
        token, raw = api_token_create(user=owner, name=name)
        self.stderr.write(
            f"Token '{token.name}' for {owner.get_username()} (prefix {token.prefix}). "
            "Copy it now: it is not shown again. / Hãy sao chép ngay: mã không hiển thị lại."
        )
        # The raw token alone on stdout, so scripts can capture it.
        self.stdout.write(raw)

    def _revoke(self, *, prefix, user=None, **_):
        tokens = ApiToken.objects.filter(prefix=prefix)
        if user:
            tokens = tokens.filter(user=self._user(user))
        found = list(tokens[:2])
        if not found:
            raise CommandError(f"No token with prefix {prefix}. / Không có mã {prefix}.")
        if len(found) > 1:
            raise CommandError(
                f"Several tokens start with {prefix}; add --user. / Nhiều mã trùng tiền tố."
            )
        token = api_token_revoke(token=found[0])
        self.stdout.write(
            f"Revoked {token.prefix} ({token.name}) at {token.revoked_at:%Y-%m-%d %H:%M:%S%z}."
        )

    def _list(self, *, user=None, **_):
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "created_at")
        if user:
            tokens = tokens.filter(user=self._user(user))
        for t in tokens[:1000]:
            state = "revoked" if t.revoked_at else "active"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            self.stdout.write(
                f"{t.prefix}  {t.user.get_username():<20} {state:<8} {used:<16} {t.name}"
            )

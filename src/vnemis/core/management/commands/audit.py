"""``vnemis audit verify``: walk the hash chain of the audit log and report any tampering."""

from django.core.management.base import BaseCommand, CommandError

from vnemis.core.audit import audit_verify
from vnemis.core.models import AuditEntry


class Command(BaseCommand):
    help = "Audit log tools. / Công cụ nhật ký kiểm toán."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="Verify the hash chain / Kiểm tra chuỗi băm")

    def handle(self, *args, action, **options):
        problems = list(audit_verify())
        total = AuditEntry.objects.count()
        if problems:
            for p in problems[:50]:
                self.stderr.write(f"entry {p.entry_id}: {p.reason}")
            raise CommandError(
                f"Audit log tampered: {len(problems)} problem(s) in {total} entries. "
                f"/ Nhật ký kiểm toán đã bị sửa đổi: {len(problems)} lỗi."
            )
        self.stdout.write(
            f"Audit log intact: {total} entries verified. / Nhật ký nguyên vẹn: {total} bản ghi."
        )

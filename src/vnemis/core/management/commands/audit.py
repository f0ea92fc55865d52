"""``vnemis audit verify [--anchor FILE]`` and ``vnemis audit anchor --out FILE``.

``verify`` walks the hash chain and, given anchors written earlier, checks the chain still holds
them; ``anchor`` writes the signed head of the chain to a file to keep outside the database.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vnemis.core.audit import audit_anchor, audit_check_anchor, audit_verify
from vnemis.core.models import AuditEntry


class Command(BaseCommand):
    help = "Audit log tools. / Công cụ nhật ký kiểm toán."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="Verify the hash chain / Kiểm tra chuỗi băm")
        verify.add_argument("--anchor", action="append", default=[], type=Path)
        anchor = sub.add_parser("anchor", help="Write the signed head / Ghi mốc đã ký")
        anchor.add_argument("--out", required=True, type=Path)

    def handle(self, *args, action, **options):
        if action == "anchor":
            record = audit_anchor()
            options["out"].write_text(json.dumps(record, indent=2))
            self.stdout.write(
                f"Anchored entry {record['entry_id']} in {options['out']}. "
                f"/ Đã ghi mốc bản ghi {record['entry_id']}."
            )
            return
        problems = [f"entry {p.entry_id}: {p.reason}" for p in audit_verify()]
        for path in options["anchor"]:
            try:
                anchor = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise CommandError(
                    f"Cannot read anchor {path}: {error}. / Không đọc được tệp mốc {path}."
                ) from None
            problems += [f"anchor {path.name}: {p}" for p in audit_check_anchor(anchor)]
        total = AuditEntry.objects.count()
        if problems:
            for line in problems[:50]:
                self.stderr.write(line)
            raise CommandError(
                f"Audit log tampered: {len(problems)} problem(s) in {total} entries. "
                f"/ Nhật ký kiểm toán đã bị sửa đổi: {len(problems)} lỗi."
            )
        self.stdout.write(
            f"Audit log intact: {total} entries verified. / Nhật ký nguyên vẹn: {total} bản ghi."
        )

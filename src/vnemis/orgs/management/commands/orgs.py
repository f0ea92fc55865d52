"""``vnemis orgs seed``: create the Ministry and the provincial Departments (idempotent)."""

from django.core.management.base import BaseCommand, CommandError

from vnemis.orgs.seed import SeedError, orgs_seed


class Command(BaseCommand):
    help = "Organisation tree. / Cây tổ chức."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "seed",
            help="Create the Ministry and one Department per province "
            "/ Tạo Bộ và các Sở GD&ĐT theo tỉnh",
        )

    def handle(self, *args, action, **options):
        try:
            report = orgs_seed()
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        closure = (
            "closure unchanged / bảng bao đóng giữ nguyên"
            if report.closure_rows is None
            else f"closure rebuilt: {report.closure_rows} rows / dựng lại bảng bao đóng"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Organisations created {report.created}, updated {report.updated}, "
                f"unchanged {report.unchanged}; {closure}. "
                f"/ Đơn vị: tạo mới {report.created}, cập nhật {report.updated}, "
                f"giữ nguyên {report.unchanged}."
            )
        )

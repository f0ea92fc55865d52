"""``vnemis geo load``: load the administrative units and the old→new mapping (idempotent)."""

from django.core.management.base import BaseCommand, CommandError

from vnemis.geo.loaders import GeoDataError, geo_load


class Command(BaseCommand):
    help = "Administrative units. / Đơn vị hành chính."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser(
            "load",
            help="Load current and pre-2025 units and the mapping "
            "/ Nạp đơn vị hành chính hiện hành, trước 2025 và bảng chuyển đổi",
        )
        load.add_argument("--dataset", help="vietnamadminunits dataset.db (default: bundled)")
        load.add_argument(
            "--converter", help="vietnamadminunits converter_2025.json (default: bundled)"
        )

    def handle(self, *args, action, **options):
        try:
            report = geo_load(dataset_path=options["dataset"], converter_path=options["converter"])
        except GeoDataError as exc:
            raise CommandError(str(exc)) from exc
        for table, c in report.tables.items():
            self.stdout.write(
                f"{table:<24} created {c.created:>6}  updated {c.updated:>6}  "
                f"deleted {c.deleted:>6}  unchanged {c.unchanged:>6}"
            )
        mapped, total = report.legacy_communes_mapped, report.legacy_communes
        self.stdout.write(
            f"Old communes mapped: {mapped}/{total} ({report.legacy_communes_split} split). "
            f"/ Xã cũ đã ánh xạ: {mapped}/{total} ({report.legacy_communes_split} bị chia tách)."
        )
        notes = [
            (
                "wardless old districts (no commune code) / huyện cũ không có cấp xã",
                report.wardless_districts,
            ),
            (
                "new wards whose dataset code differs / phường-xã mới lệch mã giữa hai nguồn",
                report.code_disagreements,
            ),
            ("new wards not matched / phường-xã mới không khớp", report.unmatched_new_wards),
            ("old communes without mapping / xã cũ chưa ánh xạ", report.unmapped_legacy_communes),
            ("unknown old keys in converter / khóa cũ không rõ", report.unknown_legacy_keys),
            ("defaults repaired / sửa mặc định", report.defaults_repaired),
        ]
        for label, items in notes:
            if items:
                self.stdout.write(f"{label}: {len(items)}")
                if options["verbosity"] >= 2:
                    for item in items:
                        self.stdout.write(f"  {item}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Done in {report.seconds:.2f} s, {report.changed} row(s) changed. "
                f"/ Xong sau {report.seconds:.2f} giây, {report.changed} dòng thay đổi."
            )
        )

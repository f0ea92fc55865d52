"""``vnemis load DIR [--province 01]``: load an exchange-format dataset into the registry."""

import sys

from django.core.management.base import BaseCommand, CommandError

from vnemis.registry.loaders import CHUNK_ROWS, dataset_load, result_json


class Command(BaseCommand):
    help = (
        "Load a dataset directory (exchange format v1, Parquet or CSV) into the registry; "
        "safe to repeat. / Nạp một bộ dữ liệu theo chuẩn trao đổi vào cơ sở dữ liệu."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", help="dataset directory / thư mục dữ liệu")
        parser.add_argument("--province", help="load only this province's schools (e.g. 01)")
        parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
        parser.add_argument("--json", action="store_true", help="end with a JSON summary line")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, directory, province, chunk_rows, json, no_progress, **options):
        try:
            result = dataset_load(
                directory=directory,
                province=province,
                chunk_rows=chunk_rows,
                progress=not no_progress and sys.stderr.isatty(),
            )
        except FileNotFoundError as exc:
            raise CommandError(f"Không tìm thấy thư mục dữ liệu / {exc}") from exc
        for line in result.summary_lines():
            self.stdout.write(line)
        if result.rejected:
            self.stdout.write(
                self.style.WARNING(
                    f"{result.rejected:,} dòng không nạp được (xem trên) / "
                    f"{result.rejected:,} rows could not be loaded (see above)"
                )
            )
        if json:
            self.stdout.write(result_json(result))

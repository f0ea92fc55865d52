"""``vnemis exchange_standard [--out DIR]`` (also ``vnemis exchange standard``): write the data
standard's generated files — the page ``data-standard-v1.md`` and ``standard/v1/`` (JSON Schema,
CSV and XLSX templates, standard.json) — from the one definition in ``registry.exchange_format``.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vnemis.exchange.standard import write_artefacts


class Command(BaseCommand):
    help = "Write the data standard's page and templates. / Ghi trang chuẩn dữ liệu và các tệp mẫu."

    def add_arguments(self, parser):
        parser.add_argument(
            "--out",
            type=Path,
            default=Path("docs"),
            help="Docs directory to write into (default: docs) / Thư mục ghi tệp",
        )

    def handle(self, *args, out: Path, **options):
        try:
            written = write_artefacts(out)
        except OSError as error:
            raise CommandError(
                f"Cannot write the standard to {out}: {error}. "
                f"/ Không ghi được chuẩn dữ liệu vào {out}."
            ) from None
        self.stdout.write(
            f"Wrote {len(written)} files under {out}. / Đã ghi {len(written)} tệp vào {out}."
        )

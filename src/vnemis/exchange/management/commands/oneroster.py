"""``vnemis oneroster export|import``: OneRoster 1.2 CSV bundles at the console.

* ``vnemis oneroster export --org CODE --year 2025-2026 --out FILE.zip [--extensions]
  [--user NAME]``: the bundle of an organisation's schools for a school year; ``--extensions``
  adds the personal ``metadata.vn.*`` columns (the ones a re-import needs are always there).
* ``vnemis oneroster import FILE.zip [--school CODE] [--dry-run] [--all-or-nothing]
  [--user NAME]``: through the import pipeline (``exchange.imports.import_file``), like any file.

Without ``--user`` the command acts as the operator of the whole registry; with it, as that
account, inside its scope.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vnemis.exchange.oneroster import OneRosterError, oneroster_export
from vnemis.orgs.models import User


class Command(BaseCommand):
    help = "Export or import OneRoster 1.2 CSV bundles. / Xuất hoặc nhập gói dữ liệu OneRoster 1.2."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        exp = sub.add_parser("export", help="write a bundle (ZIP) / xuất gói dữ liệu")
        exp.add_argument("--org", required=True, help="organisation code / mã đơn vị")
        exp.add_argument("--year", required=True, help="school year, e.g. 2025-2026")
        exp.add_argument("--out", required=True, help="ZIP file to write")
        exp.add_argument(
            "--extensions",
            action="store_true",
            help="add the personal metadata.vn.* columns (ethnicity, disability, policy "
            "categories, birth province, commune) / thêm các cột mở rộng về cá nhân",
        )
        exp.add_argument("--user", help="act as this account (its scope applies)")
        imp = sub.add_parser("import", help="load a bundle (ZIP) / nạp gói dữ liệu")
        imp.add_argument("file", help="OneRoster ZIP")
        imp.add_argument("--school", help="the school the bundle is for / mã trường")
        imp.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
        imp.add_argument("--all-or-nothing", action="store_true")
        imp.add_argument("--user", help="act as this account (its scope applies)")

    def handle(self, *args, action: str, **options):
        actor = self._actor(options.get("user"))
        try:
            if action == "export":
                self._export(actor=actor, **options)
            else:
                self._import(actor=actor, **options)
        except OneRosterError as exc:
            raise CommandError(str(exc)) from exc

    def _actor(self, username: str | None):
        if not username:
            return None
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"Không có tài khoản '{username}' / No active account '{username}'.")
        return user

    def _export(self, *, actor, org, year, out, extensions, **_):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        counts = oneroster_export(
            actor=actor, org_code=org, year_code=year, out=Path(out), extensions=extensions
        )
        for name, rows in counts.items():
            self.stdout.write(f"{name + '.csv':<22}{rows:>10,}")
        self.stdout.write(f"→ {out}")

    def _import(self, *, actor, file, school, dry_run, all_or_nothing, **_):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"Không tìm thấy tệp / File not found: {file}")
        try:
            from vnemis.exchange.imports import import_file
        except ImportError:  # the import pipeline is not installed: convert and load directly
            return self._import_direct(path=path, school=school, dry_run=dry_run, actor=actor)
        from vnemis.exchange.models_imports import ImportJob

        job = import_file(
            path,
            actor=actor,
            school=school,
            mode=(ImportJob.Mode.ALL_OR_NOTHING if all_or_nothing else ImportJob.Mode.APPLY_VALID),
            dry_run=dry_run,
            origin=ImportJob.Origin.ONEROSTER,
        )
        self.stdout.write(
            f"{job.status}: {job.rows_valid:,} valid, {job.rows_rejected:,} rejected, "
            f"{job.inserted:,} inserted, {job.updated:,} updated, {job.unchanged:,} unchanged"
        )
        for cause in job.causes[:20]:
            self.stdout.write(
                f"  {cause.get('count', 0):,} × {cause.get('message_vi', '')} / "
                f"{cause.get('message_en', '')} ({cause.get('column') or '-'})"
            )
        if job.error:
            self.stdout.write(self.style.WARNING(job.error))
        if job.no_changes:
            self.stdout.write("Không có thay đổi / No changes.")
        self.stdout.write(json.dumps({"job": str(job.pk), "status": job.status}))
        if job.status in (ImportJob.Status.FAILED, ImportJob.Status.REJECTED):
            raise CommandError(f"{job.status}")

    def _import_direct(self, *, path: Path, school, dry_run: bool, actor):
        import zipfile

        from django.db import transaction

        from vnemis.exchange.oneroster import oneroster_errors, oneroster_to_standard
        from vnemis.registry.loaders import dataset_load

        with tempfile.TemporaryDirectory(prefix="oneroster-import-") as tmp:
            src, out = Path(tmp) / "src", Path(tmp) / "std"
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    name = Path(info.filename).name
                    if not info.is_dir() and name.endswith(".csv"):
                        (src / name).parent.mkdir(parents=True, exist_ok=True)
                        (src / name).write_bytes(zf.read(info))
            oneroster_to_standard(src, out, school_code=school)
            for row in oneroster_errors(out).head(20).iter_rows(named=True):
                self.stdout.write(f"  {row['column']}, row {row['row']}: {row['code']}")
            with transaction.atomic():
                result = dataset_load(directory=out, actor=actor)
                for line in result.summary_lines():
                    self.stdout.write(line)
                if dry_run:
                    transaction.set_rollback(True)

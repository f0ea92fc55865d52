"""``vnemis link run|duplicates [--province CODE]``: probabilistic linkage from the terminal.

``run`` links the persons without a usable citizen ID (or not found) to the registry's cohort
extracts: pairs above the upper threshold are accepted, those between the thresholds queued
for review. ``duplicates --province CODE`` queues likely duplicate pupils of the province's
current enrolments for a Department officer. Errors are "Vietnamese / English".
"""

from django.core.management.base import BaseCommand, CommandError

from vnemis.identity.linkage_runs import duplicates_run, link_run
from vnemis.identity.registry_client import RegistryError


class Command(BaseCommand):
    help = "Probabilistic linkage and duplicate detection. / Ghép nối xác suất, tìm hồ sơ trùng."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["run", "duplicates"])
        parser.add_argument("--province", help="Province code, e.g. 01 (run: default all)")

    def handle(self, *args, action, **opts):
        province = (opts["province"] or "").zfill(2) if opts["province"] else None
        if action == "duplicates":
            if not province:
                raise CommandError("Cần --province / --province is required")
            counts = duplicates_run(province_code=province)
            self.stdout.write(
                f"{counts['records']:,} hồ sơ / records; {counts['review']:,} cặp cần xem xét "
                "/ pairs to review"
            )
            return
        try:
            counts = link_run(province_code=province)
        except RegistryError as exc:
            raise CommandError(
                f"CSDL dân cư không phản hồi / the registry did not answer ({exc.code})"
            ) from None
        self.stdout.write(
            f"{counts['records']:,} hồ sơ / records: {counts['accepted']:,} tự động ghép / "
            f"linked, {counts['review']:,} cần xem xét / to review, {counts['rejected']:,} "
            "không khớp / unmatched"
        )

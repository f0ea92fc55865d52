"""``vnemis admissions``: the admission round from the terminal.

``match --programmes P.csv --wishes W.csv --out PLACEMENTS.csv [--ties all|none]
[--reasons FILE]`` runs virtual filtering on files, without the database, so institutions and
the Ministry can simulate a round (docs/admissions-matching.md has the file formats). Refused
input is reported as "Vietnamese / English" naming the file, line and column, with exit
status 2 and no output written.
"""

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vnemis.admissions.matching import TIE_ALL, TIE_NONE, MatchInputError, match_market
from vnemis.admissions.matching.files import cutoffs_path, outputs_write, round_read

INPUT_REFUSED = 2


class Command(BaseCommand):
    help = "Admissions: virtual filtering on files. / Tuyển sinh: lọc ảo trên tệp."
    requires_system_checks: list[str] = []  # matching files needs neither models nor database
    requires_migrations_checks = False

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser(
            "match", help="Place candidates by deferred acceptance / Lọc ảo xét tuyển"
        )
        run.add_argument("--programmes", required=True, help="CSV: programme_code,quota[,ties]")
        run.add_argument(
            "--wishes", required=True, help="CSV: candidate_id,rank,programme_code,score"
        )
        run.add_argument(
            "--out", required=True, help="placements CSV; the cut-offs go to OUT.cutoffs.csv"
        )
        run.add_argument(
            "--ties",
            choices=[TIE_ALL, TIE_NONE],
            default=TIE_ALL,
            help="candidates still tied at the quota boundary: admit all (default) or none; "
            "a 'ties' column in the programmes file overrides it per programme",
        )
        run.add_argument("--reasons", help="CSV of every missed higher wish with its reason")

    def handle(self, *args, action, **opts):
        if action == "match":
            self._match(opts)

    def _match(self, opts):
        out = Path(opts["out"])
        targets = [out, cutoffs_path(out)] + ([Path(opts["reasons"])] if opts["reasons"] else [])
        self._refuse_targets(targets, [Path(opts["programmes"]), Path(opts["wishes"])])
        started = time.perf_counter()
        try:
            round_ = round_read(opts["programmes"], opts["wishes"], ties=opts["ties"])
        except MatchInputError as error:
            raise CommandError(str(error), returncode=INPUT_REFUSED) from None
        read = time.perf_counter()
        programmes = round_.programmes
        result = match_market(round_.market, quotas=programmes.quotas, ties=programmes.ties)
        matched = time.perf_counter()
        try:
            paths = outputs_write(result, round_, out=out, reasons=opts["reasons"])
        except OSError as error:
            raise CommandError(
                f"Không ghi được kết quả ({error}) / cannot write the results ({error})"
            ) from None
        placed = int((result.placement >= 0).sum())
        self.stdout.write(
            f"Đã xếp {placed:,} / {result.market.candidate_count:,} thí sinh vào "
            f"{len(programmes.codes):,} ngành / placed {placed:,} of "
            f"{result.market.candidate_count:,} candidates ({result.market.wish_count:,} "
            f"wishes) in {len(programmes.codes):,} programmes; read {read - started:.1f} s, "
            f"match {matched - read:.1f} s, write {time.perf_counter() - matched:.1f} s"
        )
        for part, path in paths.items():
            self.stdout.write(f"  {part}: {path}")

    def _refuse_targets(self, targets, inputs):
        resolved = {path.resolve() for path in inputs}
        for target in targets:
            if target.resolve() in resolved:
                raise CommandError(
                    f"Tệp kết quả {target} trùng tệp đầu vào / the output {target} is an input",
                    returncode=INPUT_REFUSED,
                )
            if not target.parent.is_dir():
                raise CommandError(
                    f"Không có thư mục {target.parent} / no directory {target.parent}",
                    returncode=INPUT_REFUSED,
                )

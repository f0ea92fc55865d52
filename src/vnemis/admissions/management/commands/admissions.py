"""``vnemis admissions``: the admission round from the terminal.

``match --programmes P.csv --wishes W.csv --out PLACEMENTS.csv [--ties all|none]
[--reasons FILE]`` runs virtual filtering on files, without the database, so institutions and
the Ministry can simulate a round (docs/admissions-matching.md has the file formats). Refused
input is reported as "Vietnamese / English" naming the file, line and column, with exit
status 2 and no output written.

The round over the database:
``round-create --year Y --opens ISO --closes ISO [--fee N] [--confirm-by ISO]``,
``programmes-load --year Y FILE.csv`` (all or nothing), ``run --year Y [--note TEXT]`` (in
the foreground: scores, engine, placements), ``publish --year Y --run N``, ``status --year Y``.
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
        create = actions.add_parser("round-create", help="open a year's round / tạo đợt xét tuyển")
        create.add_argument("--year", type=int, required=True)
        create.add_argument("--name", default="")
        create.add_argument("--opens", required=True, help="ISO time wishes open (Vietnam time)")
        create.add_argument("--closes", required=True, help="ISO time of the wish deadline")
        create.add_argument("--fee", type=int, help="fee per wish in VND (default: settings)")
        create.add_argument("--confirm-by", help="ISO time of the confirmation deadline")
        load = actions.add_parser("programmes-load", help="programmes CSV / nạp danh sách ngành")
        load.add_argument("--year", type=int, required=True)
        load.add_argument("file")
        go = actions.add_parser("run", help="a virtual-filtering run / chạy lọc ảo")
        go.add_argument("--year", type=int, required=True)
        go.add_argument("--note", default="")
        publish = actions.add_parser("publish", help="publish a run / công bố kết quả")
        publish.add_argument("--year", type=int, required=True)
        publish.add_argument("--run", type=int, required=True)
        status = actions.add_parser("status", help="the round's figures / số liệu đợt")
        status.add_argument("--year", type=int, required=True)

    def handle(self, *args, action, **opts):
        if action == "match":
            self._match(opts)
            return
        from vnemis.admissions.errors import AdmissionError

        try:
            getattr(self, "_" + action.replace("-", "_"))(opts)
        except AdmissionError as error:
            raise CommandError(error.bilingual(), returncode=INPUT_REFUSED) from None

    def _round(self, year):
        from vnemis.admissions.models import AdmissionRound

        round_ = AdmissionRound.objects.filter(year=year).first()
        if round_ is None:
            raise CommandError(
                f"Chưa có đợt xét tuyển năm {year} / no {year} admission round",
                returncode=INPUT_REFUSED,
            )
        return round_

    def _time(self, text, name):
        from django.utils import timezone
        from django.utils.dateparse import parse_datetime

        value = parse_datetime(text) if text else None
        if text and value is None:
            raise CommandError(
                f"--{name}: '{text}' không phải thời điểm ISO / is not an ISO time",
                returncode=INPUT_REFUSED,
            )
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value

    def _round_create(self, opts):
        from vnemis.admissions.setup import round_create

        round_ = round_create(
            actor=None,
            year=opts["year"],
            name=opts["name"],
            wishes_open_at=self._time(opts["opens"], "opens"),
            wishes_close_at=self._time(opts["closes"], "closes"),
            fee_per_wish=opts["fee"],
            confirm_by=self._time(opts["confirm_by"], "confirm-by"),
        )
        self.stdout.write(f"Đã tạo / created: {round_.name} ({round_.year})")

    def _programmes_load(self, opts):
        from vnemis.admissions.setup import programmes_import

        try:
            text = Path(opts["file"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(
                f"Không đọc được tệp UTF-8 {opts['file']} / cannot read the UTF-8 file ({error})",
                returncode=INPUT_REFUSED,
            ) from None
        done = programmes_import(actor=None, round_=self._round(opts["year"]), text=text)
        self.stdout.write(
            f"Đã nạp {done['programmes']} ngành của {done['institutions']} cơ sở đào tạo / "
            f"loaded {done['programmes']} programmes of {done['institutions']} institutions"
        )

    def _run(self, opts):
        from vnemis.admissions.runs import run_execute, run_request

        run = run_request(round_=self._round(opts["year"]), note=opts["note"], enqueue=False)
        run = run_execute(run.pk)
        self.stdout.write(
            f"Lượt {run.number}: xếp {run.placed:,} / {run.candidates:,} thí sinh "
            f"({run.wishes:,} nguyện vọng xét) trong {run.seconds:.1f} s / run {run.number}: "
            f"placed {run.placed:,} of {run.candidates:,} candidates; inputs {run.inputs_digest[:16]}"
        )

    def _publish(self, opts):
        from vnemis.admissions.runs import run_publish

        round_ = self._round(opts["year"])
        run = round_.runs.filter(number=opts["run"]).first()
        if run is None:
            raise CommandError(
                f"Không có lượt {opts['run']} / no run {opts['run']}", returncode=INPUT_REFUSED
            )
        run_publish(run=run)
        self.stdout.write(f"Đã công bố lượt {run.number} / published run {run.number}")

    def _status(self, opts):
        from vnemis.admissions.selectors import round_figures

        round_ = self._round(opts["year"])
        for name, value in round_figures(round_).items():
            self.stdout.write(f"{name}: {value:,}")
        for run in round_.runs.order_by("number"):
            mark = " *" if run.pk == round_.published_run_id else ""
            self.stdout.write(f"run {run.number}: {run.status} placed {run.placed:,}{mark}")

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

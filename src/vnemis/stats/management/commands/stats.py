"""``vnemis stats``: indicators, the analytics snapshot and aggregate figures from the terminal.

``compute --indicator CODE --year YEAR [--level L] (--aggregates DIR | --snapshot)`` prints one
JSON object (``indicator``, ``year``, ``value``, and ``by_sex`` / ``by_grade`` where the
indicator has them). Errors go to stderr as "Vietnamese / English" with a non-zero exit.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from vnemis.stats.indicators.aggregates import AggregateError, aggregates_engine
from vnemis.stats.indicators.catalogue import INDICATORS, indicator_get
from vnemis.stats.indicators.compute import IndicatorError, Request, indicator_summary


class Command(BaseCommand):
    help = (
        "Statistics: indicators, snapshot, aggregates. / Thống kê: chỉ số, ảnh chụp, số tổng hợp."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        compute = sub.add_parser("compute", help="Compute one indicator / Tính một chỉ số")
        compute.add_argument("--indicator", required=True, help="GER, NER, ..., GPI_GER")
        compute.add_argument("--year", required=True, type=int, help="school year's start year")
        compute.add_argument("--level", choices=["primary", "lower_secondary", "upper_secondary"])
        source = compute.add_mutually_exclusive_group()
        source.add_argument("--aggregates", help="directory of aggregate CSV files")
        source.add_argument(
            "--snapshot", action="store_true", help="the analytics snapshot (default)"
        )
        compute.add_argument("--province", help="a province code (snapshot only)")
        compute.add_argument("--school", type=int, help="a school's id (snapshot only)")
        compute.add_argument(
            "--engine",
            choices=["duckdb", "spark"],
            default="duckdb",
            help="DuckDB (embedded) or Spark (VNEMIS_SPARK_MASTER)",
        )
        sub.add_parser("indicators", help="List the catalogue / Danh mục chỉ số")
        snap = sub.add_parser("snapshot", help="Refresh the analytics snapshot / Làm mới ảnh chụp")
        snap.add_argument("--full", action="store_true", help="rewrite every partition")
        snap.add_argument("--province", action="append", help="limit to a province (repeatable)")
        snap.add_argument("--year", type=int, action="append", help="limit to a school year")
        agg = sub.add_parser("aggregates", help="Store aggregate CSV files / Lưu số liệu tổng hợp")
        agg.add_argument(
            "directory", help="enrolment.csv, population.csv, ... with a province column"
        )
        population = sub.add_parser("population", help="Load population estimates / Nạp dân số")
        population.add_argument("file", help="CSV or Parquet: year, province, age, sex, count")

    def handle(self, *args, action, **opts):
        if action == "snapshot":
            from vnemis.stats.snapshot import snapshot_refresh

            done = snapshot_refresh(
                provinces=opts["province"], years=opts["year"], full=opts["full"]
            )
            self.stdout.write(
                f"{len(done['partitions']):,} phân vùng ghi lại / partitions written, "
                f"{len(done['removed']):,} xoá / removed, {done['rows']:,} dòng / rows, "
                f"{done['seconds']:.1f} s"
            )
            return
        if action == "aggregates":
            from vnemis.stats.aggregates_store import aggregates_import

            try:
                written = aggregates_import(opts["directory"])
            except AggregateError as exc:
                raise CommandError(f"{exc.vi} / {exc.en}") from None
            for table, rows in written.items():
                self.stdout.write(f"{table}: {rows:,} dòng lưu / rows stored")
            return
        if action == "population":
            from vnemis.stats.population import PopulationFileError, population_load

            try:
                loaded = population_load(opts["file"])
            except PopulationFileError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                f"{loaded.rows:,} dòng dân số / population rows, năm / years "
                f"{', '.join(map(str, loaded.years))}, {loaded.provinces} tỉnh / provinces"
            )
            return
        if action == "indicators":
            for indicator in INDICATORS:
                self.stdout.write(f"{indicator.code:<20} {indicator.name}")
            return
        self._compute(opts)

    def _compute(self, opts):
        code = opts["indicator"].upper()
        indicator = indicator_get(code)
        if indicator is None:
            known = ", ".join(i.code for i in INDICATORS)
            raise CommandError(
                f"Không có chỉ số '{code}' (có: {known}, và GPI_<mã>) / "
                f"unknown indicator '{code}' (known: {known}, and GPI_<code>)"
            )
        filters = []
        if opts["province"]:
            filters.append(("province", opts["province"].zfill(2)))
        if opts["school"] is not None:
            filters.append(("school_id", opts["school"]))
        try:
            if opts["aggregates"]:
                if not indicator.uis:
                    raise CommandError(
                        f"{indicator.code} chỉ tính từ dữ liệu cá thể / is computed from unit "
                        "records only (the aggregate files carry no classes or identities)"
                    )
                if filters:
                    raise CommandError(
                        "--province/--school chỉ dùng với ảnh chụp / only with the snapshot"
                    )
                engine = aggregates_engine(opts["aggregates"], set(indicator.sources))
            else:
                from vnemis.stats.spark import engine_for

                engine = engine_for(opts["engine"])
            result = indicator_summary(
                engine, Request(code, opts["year"], opts["level"], tuple(filters))
            )
        except (AggregateError, IndicatorError) as exc:
            raise CommandError(f"{exc.vi} / {exc.en}") from None
        self.stdout.write(json.dumps(result, ensure_ascii=False))

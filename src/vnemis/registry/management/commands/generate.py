"""``vnemis generate``: write a synthetic national dataset in the exchange format.

Translates the command line into a ``GenerateConfig`` and shows progress; the work is in
``vnemis.registry.generate``. Geography comes from the database when ``vnemis geo load`` has
filled it, else from the ``vietnam-provinces`` package, so no database is needed.
"""

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from vnemis.registry.generate import GenerateConfig, GenerateError, NoiseConfig, generate
from vnemis.registry.generate.config import FORMATS
from vnemis.registry.generate.geography import Commune, Province


def _geography_from_database() -> dict[str, Province] | None:
    """Current units from geo.Province/Commune when loaded; None when the tables are empty."""
    try:
        from vnemis.geo.models import Commune as DbCommune
        from vnemis.geo.models import Province as DbProvince

        provinces = list(DbProvince.objects.order_by("code"))
        if len(provinces) < 34:
            return None  # a partial load (e.g. test fixtures) is not the country
        communes: dict[str, list[Commune]] = {}
        for c in DbCommune.objects.order_by("code").values(
            "code", "name", "kind", "province__code"
        ):
            communes.setdefault(c["province__code"], []).append(
                Commune(code=c["code"], name=c["name"], is_ward=c["kind"] == "phuong")
            )
        return {
            p.code: Province(code=p.code, name=p.name, communes=tuple(communes.get(p.code, ())))
            for p in provinces
            if communes.get(p.code)
        }
    except Exception:
        return None


def _rate(value: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a rate; give a fraction such as 0.05."
        ) from exc


class Command(BaseCommand):
    help = "Generate realistic synthetic national education data (exchange format v1)."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="Output directory (empty or new).")
        where = parser.add_mutually_exclusive_group()
        where.add_argument(
            "--provinces", help="Comma-separated current province codes, e.g. 01,79."
        )
        where.add_argument("--national", action="store_true", help="All 34 provinces (default).")
        parser.add_argument(
            "--schools", type=int, help="Number of schools (default: from --students)."
        )
        parser.add_argument("--students", type=int, help="Number of pupils (default 10,000).")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="parquet")
        parser.add_argument(
            "--year", type=int, default=2025, help="School year starting in September."
        )
        parser.add_argument(
            "--noise-rate", type=_rate, default=0.0, help="Rate for every noise kind."
        )
        for kind in NoiseConfig.kinds():
            parser.add_argument(
                f"--noise-{kind.replace('_', '-')}",
                type=_rate,
                default=None,
                help=f"Rate of '{kind}'.",
            )
        parser.add_argument(
            "--registry-extra-ratio",
            type=_rate,
            default=1.0,
            help="Citizens not in school per person in school, in registry/citizens.parquet.",
        )
        parser.add_argument("--chunk-pupils", type=int, default=200_000, help="Pupils per chunk.")
        parser.add_argument("--overwrite", action="store_true", help="Replace an earlier dataset.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        rates = NoiseConfig.uniform(opts["noise_rate"]).as_dict()
        for kind in NoiseConfig.kinds():
            if opts[f"noise_{kind}"] is not None:
                rates[kind] = opts[f"noise_{kind}"]
        provinces = None
        if opts["provinces"]:
            provinces = tuple(p.strip().zfill(2) for p in opts["provinces"].split(",") if p.strip())
        config = GenerateConfig(
            out=Path(opts["out"]),
            provinces=provinces,
            students=opts["students"],
            schools=opts["schools"],
            seed=opts["seed"],
            fmt=opts["fmt"],
            year=opts["year"],
            noise=NoiseConfig(**rates),
            chunk_pupils=opts["chunk_pupils"],
            registry_extra_ratio=opts["registry_extra_ratio"],
        )
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if opts["no_progress"]:
                return
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total, unit=" pupils", unit_scale=True, file=self.stderr._out)
            bar.update(done - bar.n)

        try:
            summary = generate(
                config,
                geography=_geography_from_database(),
                progress=progress,
                overwrite=opts["overwrite"],
            )
        except GenerateError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
        counts = ", ".join(f"{k} {v:,}" for k, v in summary["counts"].items())
        self.stdout.write(
            self.style.SUCCESS(f"Wrote {summary['out']} in {summary['seconds']:.1f} s: {counts}.")
        )

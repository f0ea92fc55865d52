"""``generate``: realistic synthetic national education data in the exchange format.

Deterministic for a seed: the school plan is drawn once from the seed, then each chunk of
schools (one province, at most about ``chunk_pupils`` pupils) from its own seeded stream, so the
output does not depend on anything but the configuration. Only one chunk is in memory at a time;
files are appended chunk by chunk (``writer.py``). Ground truth for the noisy pupil records goes
to ``DIR/ground_truth/``.
"""

import shutil
import time
from collections.abc import Callable

import numpy as np
import polars as pl

from vnemis.registry.exchange_format import ENTITIES, FORMAT_VERSION, SCHOOLS

from .citizens import CITIZEN_KINDS, CITIZEN_SCHEMA, build_citizens
from .config import DEFAULT_STUDENTS, XLSX_MAX_ROWS, GenerateConfig, GenerateError, NoiseConfig
from .geography import Province, load_from_package, region_of
from .noise import apply_noise
from .population import population_write
from .pupils import STATUSES, CitizenIdIssuer, build_classes, build_pupils
from .results import build_health, build_results
from .schools import assign_chunks, plan_higher_education, plan_schools, school_counts
from .staff import build_staff
from .writer import DatasetWriter, schema_of, write_manifest

__all__ = ["GenerateConfig", "GenerateError", "NoiseConfig", "generate"]

TRUTH_SCHEMA = {
    "school_code": pl.String,
    "pupil_code": pl.String,
    "person_id": pl.String,
    "noise": pl.String,
    "true_full_name": pl.String,
    "true_birth_date": pl.Date,
    "true_citizen_id": pl.String,
    "duplicate_of_school_code": pl.String,
    "duplicate_of_pupil_code": pl.String,
}
# Subject-result rows per pupil, an upper bound used to refuse oversized XLSX requests early.
RESULT_ROWS_PER_PUPIL = 36


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))


def estimated_rows(config: GenerateConfig) -> int:
    """Rough size of the largest file (subject results) for a request."""
    students = config.students
    if students is None:
        students = int(school_counts(students=None, schools=config.schools)[1].sum())
    return students * RESULT_ROWS_PER_PUPIL


def _prepare_out(config: GenerateConfig, overwrite: bool) -> None:
    out = config.out
    if out.exists() and not out.is_dir():
        raise GenerateError(f"'{out}' exists and is not a directory.")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise GenerateError(
                f"The output directory '{out}' is not empty; choose an empty one or pass --overwrite."
            )
        if not (out / "manifest.json").exists():
            raise GenerateError(
                f"'{out}' is not empty and holds no generated dataset (no manifest.json); "
                "refusing to overwrite it."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def generate(
    config: GenerateConfig,
    *,
    geography: dict[str, Province] | None = None,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = False,
) -> dict:
    """Generate a dataset into ``config.out``; returns the manifest plus timing."""
    started = time.perf_counter()
    geo = geography or load_from_package()
    config.validate(sorted(geo))
    if config.students is None and config.schools is None:
        config = GenerateConfig(**{**config.__dict__, "students": DEFAULT_STUDENTS})
    if config.fmt == "xlsx" and estimated_rows(config) > XLSX_MAX_ROWS:
        raise GenerateError(
            f"XLSX is for small samples: this request would write about "
            f"{estimated_rows(config):,} subject-result rows, above the {XLSX_MAX_ROWS:,}-row "
            f"limit. Use --format parquet or csv, or ask for at most "
            f"{XLSX_MAX_ROWS // RESULT_ROWS_PER_PUPIL:,} students."
        )
    codes = list(config.provinces) if config.provinces else sorted(geo)
    plan = plan_schools(
        _rng(config.seed, 0),
        provinces=[geo[c] for c in codes],
        students=config.students,
        schools=config.schools,
        year=config.year,
    )
    plan = assign_chunks(plan, config.chunk_pupils)
    _prepare_out(config, overwrite)

    data = DatasetWriter(config.out, config.fmt)
    for entity in ENTITIES:
        data.add(entity.name, schema_of(entity))
    truth = DatasetWriter(config.out / "ground_truth", config.fmt)
    truth.add("pupils", TRUTH_SCHEMA)
    # The population registry's own dataset (for ``vnemis sim registry``): always Parquet.
    registry = DatasetWriter(config.out / "registry", "parquet")
    registry.add("citizens", CITIZEN_SCHEMA)
    # IDs only the registry knows come from their own counters, above any the schools' issuer
    # reaches (about 16 k per prefix nationally), so the two never collide.
    registry_issuer = CitizenIdIssuer()
    registry_issuer.counters += 500_000
    citizen_kinds = dict.fromkeys(CITIZEN_KINDS, 0)
    higher_ed = plan_higher_education(
        _rng(config.seed, 10**6),
        provinces=[geo[c] for c in codes],
        students=int(plan["pupils"].sum()),
        year=config.year,
    )
    data.write("schools", plan.select(SCHOOLS.column_names))
    data.write("schools", higher_ed.select(SCHOOLS.column_names))

    issuer = CitizenIdIssuer()
    total = int(plan["pupils"].sum())
    done, next_person = 0, 0
    school_year = config.school_year
    for chunk_plan in plan.partition_by("chunk", maintain_order=True):
        chunk_no = int(chunk_plan["chunk"][0])
        rng = _rng(config.seed, 1 + chunk_no)
        province = chunk_plan["province_code"][0]
        region = region_of(province)
        classes = build_classes(rng, chunk_plan, config.year)
        cohort = build_pupils(
            rng,
            plan=chunk_plan,
            classes=classes,
            province=province,
            region=region,
            year=config.year,
            issuer=issuer,
            first_person=next_person,
            duplicate_rate=config.noise.duplicate,
        )
        next_person += int((cohort.duplicate_of < 0).sum())
        staff, homeroom = build_staff(
            rng,
            plan=chunk_plan,
            classes=classes,
            province=province,
            region=region,
            year=config.year,
            issuer=issuer,
        )
        class_frame = classes.frame.with_columns(homeroom_staff_code=homeroom)
        enrolments = pl.DataFrame(
            {
                "school_code": cohort.frame["school_code"],
                "school_year": pl.repeat(school_year, len(cohort.person), eager=True),
                "pupil_code": cohort.frame["pupil_code"],
                "class_name": class_frame["class_name"].gather(cohort.class_idx),
                "status": np.array(STATUSES)[cohort.status],
                "started_on": pl.Series(cohort.started, dtype=pl.Date),
                "ended_on": pl.Series(cohort.ended, dtype=pl.Date),
            }
        )
        results, summaries = build_results(
            rng, cohort=cohort, plan=chunk_plan, n_classes=len(classes.size), year=config.year
        )
        health = build_health(rng, cohort=cohort, plan=chunk_plan, year=config.year)

        pupils = cohort.frame
        is_dup = cohort.duplicate_of >= 0
        if config.noise.any:
            pupils, kinds = apply_noise(
                _rng(config.seed, 1_000_000 + chunk_no),
                pupils,
                noise=config.noise,
                duplicate=is_dup,
            )
        else:
            kinds = pl.repeat(None, len(pupils), dtype=pl.String, eager=True)
        dup_src = np.where(is_dup, cohort.duplicate_of, 0)
        truth.write(
            "pupils",
            pl.DataFrame(
                {
                    "school_code": cohort.frame["school_code"],
                    "pupil_code": cohort.frame["pupil_code"],
                    "person_id": pl.Series(cohort.person).cast(pl.String).str.zfill(10),
                    "noise": kinds,
                    "true_full_name": cohort.frame["full_name"],
                    "true_birth_date": cohort.frame["birth_date"],
                    "true_citizen_id": cohort.frame["citizen_id"],
                    "duplicate_of_school_code": cohort.frame["school_code"]
                    .gather(dup_src)
                    .zip_with(
                        pl.Series(is_dup), pl.repeat(None, len(is_dup), dtype=pl.String, eager=True)
                    ),
                    "duplicate_of_pupil_code": cohort.frame["pupil_code"]
                    .gather(dup_src)
                    .zip_with(
                        pl.Series(is_dup), pl.repeat(None, len(is_dup), dtype=pl.String, eager=True)
                    ),
                }
            ).with_columns(pl.concat_str(pl.lit("P"), "person_id").alias("person_id")),
        )
        citizens, kinds = build_citizens(
            _rng(config.seed, 2_000_000 + chunk_no),
            pupils=cohort.frame.filter(pl.Series(~is_dup)),
            person_ids="P" + pl.Series(cohort.person[~is_dup]).cast(pl.String).str.zfill(10),
            staff=staff,
            province=province,
            region=region,
            issuer=registry_issuer,
            extra_ratio=config.registry_extra_ratio,
        )
        registry.write("citizens", citizens)
        for kind, n in kinds.items():
            citizen_kinds[kind] += n
        data.write("staff", staff)
        data.write("classes", class_frame)
        data.write("pupils", pupils)
        data.write("enrolments", enrolments)
        data.write("subject_results", results)
        data.write("result_summaries", summaries)
        data.write("health_records", health)
        done += int(chunk_plan["pupils"].sum())
        if progress is not None:
            progress(done, total)

    counts = data.close()
    truth_counts = truth.close()
    registry_counts = registry.close()
    manifest = {
        "format_version": FORMAT_VERSION,
        "generator": "vnemis generate",
        "seed": config.seed,
        "school_year": school_year,
        "provinces": codes,
        "format": config.fmt,
        "entities": [e.name for e in ENTITIES],
        "files": {e.name: f"{e.name}.{config.fmt}" for e in ENTITIES},
        "counts": counts,
        "noise": config.noise.as_dict(),
        "registry": {
            "files": {"citizens": "registry/citizens.parquet"},
            "counts": {**registry_counts, **citizen_kinds},
            "extra_ratio": config.registry_extra_ratio,
        },
        "ground_truth": {
            "files": {"pupils": f"ground_truth/pupils.{config.fmt}"},
            "counts": truth_counts,
        },
    }
    write_manifest(config.out / "manifest.json", manifest)
    population_write(config.out)
    return {**manifest, "out": str(config.out), "seconds": time.perf_counter() - started}

"""The two Splink models (registry link, duplicate pupils): comparisons, blocking, training.

``link`` compares our records with the registry's cohort extract (``link_only``); ``dedupe``
compares our records with each other (``dedupe_only``). Both use the same comparisons, whose
labels are the Vietnamese texts the review page shows:

- name: exact (up to NFC/NFD, case, spacing and the old or new place of the tone mark) → equal once diacritics are removed, one side
  having none → equal without diacritics, both having different ones → same words in another
  order → one character wrong → family and given name agree (middle differs or is missing) →
  Jaro-Winkler ≥ 0.92 on the ASCII form → given name only → else;
- birth date: exact → day and month swapped → same month → within a year → else;
- sex; birth province; father's and mother's names (null, hence neutral, unless both sides
  have them): exact without diacritics → one character wrong → else.

Training (``train_model``) is deterministic for a seed and bounded by sample sizes: u from all
pairs of two small random samples, m by EM on a sample of records (``TRAINING_SESSIONS``), the
prior from the first EM session's share of matches. The prior is stored as a rate that does not
depend on the data size (the share of records with a match, or duplicate pairs per record), so
a model can score an extract of another size: ``prior_for`` turns it back into Splink's
``probability_two_random_records_match``. Models are versioned JSON files ``<kind>-v<N>.json``
(Splink's own format) with ``<kind>-v<N>.meta.json`` beside them (version, when, samples,
thresholds, metrics).
"""

import json
import logging
import math
import re
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from .prepare import MODEL_COLUMNS, prepare_extract, prepare_records

KINDS = ("link", "dedupe")
LINK_TYPES = {"link": "link_only", "dedupe": "dedupe_only"}
DATASETS = ("records", "extract")  # source_dataset names of the link model's two inputs
MODEL_FORMAT = 1
DEFAULT_THRESHOLDS = {
    # match_probability: at or above ``upper`` accepted without review, at or above ``lower``
    # reviewed by a clerk, below rejected. Chosen on the generator's noisy data (docs/linkage.md).
    "link": {"upper": 0.95, "lower": 0.3},
    # Duplicates: two different pupils of one name, birth date and province are common enough
    # (namesakes) that only the strongest pairs are merged without a clerk.
    "dedupe": {"upper": 0.99, "lower": 0.5},
}
# One accepted pair per record and per citizen: the best pair is accepted only when the next best
# of either side is at least this many match-weight units (bits) lower; otherwise both go to review.
DEFAULT_MARGIN = 3.0
# Floors on trained m and u: a level never seen among the sampled matches (or non-matches) would
# otherwise weigh ±20 bits. At least one match in a thousand is assumed to fall in any level:
# real files have damage the training data may lack (swapped middle names, say).
M_FLOOR = 1e-3
U_FLOOR = 1e-7
DUCKDB_THREADS = 2
DUCKDB_MEMORY_LIMIT = "3GB"
logger = logging.getLogger(__name__)


def _null(col: str) -> str:
    return f'"{col}_l" IS NULL OR "{col}_r" IS NULL'


def _eq(col: str) -> str:
    return f'"{col}_l" = "{col}_r"'


def _one_edit(col: str) -> str:
    """Damerau-Levenshtein distance ≤ 1, computed only where it can hold. DuckDB's
    ``damerau_levenshtein`` costs microseconds a pair; but one edit leaves the lengths within one
    and, with k = (shorter length) / 2 - 1, either the first k or the last k characters intact
    (an edit before position k lies in the first half, so the last k are untouched). Exact, and
    ten times faster on random pairs."""
    a, b = f'"{col}_l"', f'"{col}_r"'
    k = f"greatest(least(length({a}), length({b})) // 2 - 1, 0)"
    return (
        f"CASE WHEN abs(length({a}) - length({b})) <= 1 "
        f"AND (left({a}, {k}) = left({b}, {k}) OR right({a}, {k}) = right({b}, {k})) "
        f"THEN damerau_levenshtein({a}, {b}) <= 1 ELSE false END"
    )


def _level(sql: str, label: str, *, null: bool = False) -> dict[str, Any]:
    level: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if null:
        level["is_null_level"] = True
    return level


def _parent(col: str) -> dict[str, Any]:
    name = col.removesuffix("_ascii")
    return {
        "output_column_name": name,
        "comparison_description": FIELD_LABELS[name],
        "comparison_levels": [
            _level(_null(col), "Thiếu ở một bên", null=True),
            _level(_eq(col), "Khớp (không dấu)"),
            # Not Jaro-Winkler: fathers share the child's family name, so any two fathers of
            # namesakes would look alike.
            _level(_one_edit(col), "Sai một ký tự"),
            _level("ELSE", "Khác"),
        ],
    }


def _exact(name: str, col: str, missing: str) -> dict[str, Any]:
    """A field that agrees or not (sex, birth province); missing on either side is neutral."""
    return {
        "output_column_name": name,
        "comparison_description": FIELD_LABELS[name],
        "comparison_levels": [
            _level(_null(col), missing, null=True),
            _level(_eq(col), "Khớp"),
            _level("ELSE", "Khác"),
        ],
    }


def comparisons() -> list[dict[str, Any]]:
    """The comparisons of both models, as Splink settings dictionaries."""
    return [
        {
            "output_column_name": "name",
            "comparison_description": FIELD_LABELS["name"],
            "comparison_levels": [
                _level(_null("name_ascii"), "Thiếu họ tên", null=True),
                # Up to case, spacing, Unicode form and the place of the tone mark.
                _level(_eq("name_key"), "Khớp chính xác"),
                # Typed without diacritics on one side: the same name.
                _level(
                    f"{_eq('name_ascii')} AND "
                    '("name_key_l" = "name_ascii_l" OR "name_key_r" = "name_ascii_r")',
                    "Khớp, một bên không dấu",
                ),
                # Both with diacritics, different ones: Hùng and Hưng are different names (or
                # a slip of the tone mark).
                _level(_eq("name_ascii"), "Cùng chữ, khác dấu"),
                _level(_eq("name_sorted"), "Cùng các chữ, khác thứ tự"),
                _level(_one_edit("name_ascii"), "Sai một ký tự"),
                _level(
                    f"{_eq('family_ascii')} AND {_eq('given_ascii')}",
                    "Họ và tên khớp, tên đệm khác",
                ),
                _level(
                    'jaro_winkler_similarity("name_ascii_l", "name_ascii_r") >= 0.92',
                    "Gần giống (Jaro-Winkler ≥ 0,92)",
                ),
                _level(_eq("given_ascii"), "Chỉ tên khớp"),
                _level("ELSE", "Khác"),
            ],
        },
        {
            "output_column_name": "birth_date",
            "comparison_description": FIELD_LABELS["birth_date"],
            "comparison_levels": [
                _level(_null("birth_date"), "Thiếu ngày sinh", null=True),
                _level(_eq("birth_date"), "Khớp chính xác"),
                _level('"birth_date_swapped_l" = "birth_date_r"', "Đảo ngày và tháng"),
                _level(_eq("birth_ym"), "Cùng tháng và năm"),
                _level(
                    'abs(date_diff(\'day\', "birth_date_l", "birth_date_r")) <= 366',
                    "Lệch dưới một năm",
                ),
                _level("ELSE", "Khác"),
            ],
        },
        _exact("sex", "sex", "Thiếu giới tính"),
        _exact("birth_province", "birth_province_code", "Thiếu ở một bên"),
        _parent("father_ascii"),
        _parent("mother_ascii"),
    ]


# Candidate pairs: every rule ANDs a name part with the birth date (or year) and, for the broad
# name parts, the birth province, so no rule grows with the square of a common family name
# (Nguyễn is 38% of them). Each rule is there for a kind of damage the others miss. Every rule
# needs the same birth year on both sides, which lets prediction go year by year.
BLOCKING_RULES = (
    # the name as typed but for diacritics, Unicode form, case and spacing
    ("name_ascii + birth_date", ("name_ascii", "birth_date")),
    # day and month swapped
    (
        "name_ascii + swapped date",
        'l."name_ascii" = r."name_ascii" AND l."birth_date_swapped" = r."birth_date"',
    ),
    # a typo in the family or middle name; a middle name missing or swapped
    ("given_ascii + birth_date + province", ("given_ascii", "birth_date", "birth_province_code")),
    # a typo in the given name
    (
        "family_ascii + birth_date + sex + province",
        ("family_ascii", "birth_date", "sex", "birth_province_code"),
    ),
    # day and month swapped, and a typo outside the given name
    (
        "given_ascii + swapped date + province",
        'l."given_ascii" = r."given_ascii" AND l."birth_date_swapped" = r."birth_date" '
        'AND l."birth_province_code" = r."birth_province_code"',
    ),
    # day and month swapped, and a typo in the given name
    (
        "family_ascii + swapped date + sex + province",
        'l."family_ascii" = r."family_ascii" AND l."birth_date_swapped" = r."birth_date" '
        'AND l."sex" = r."sex" AND l."birth_province_code" = r."birth_province_code"',
    ),
    # any other error in the day or the month
    ("name_ascii + birth_year + province", ("name_ascii", "birth_year", "birth_province_code")),
)
# The review page's name of each comparison (Splink does not keep descriptions in its JSON).
FIELD_LABELS = {
    "name": "Họ tên",
    "birth_date": "Ngày sinh",
    "sex": "Giới tính",
    "birth_province": "Nơi sinh (tỉnh)",
    "father": "Họ tên cha",
    "mother": "Họ tên mẹ",
}


# EM sessions per kind: each blocks on fields the other one trains, and each leaves at least two
# informative comparisons free (with one, EM cannot tell matches from look-alikes). The first
# session's blocked share of matches gives the prior, once its blocking (an exact birth date,
# and for dedupe the province) is accounted for with those levels' Bayes factors.
TRAINING_SESSIONS = {
    # (blocking, levels the blocking forces, u fixed at the random-pairs values)
    "link": (
        (
            ("birth_date", "birth_province_code"),  # trains name, sex, parents
            (("birth_date", "Khớp chính xác"), ("birth_province", "Khớp")),
            True,
        ),
        # Trains birth date, sex, province, parents. Pairs of one name agree on sex and province
        # far more often than random pairs do, so this session fits its own u (three free
        # comparisons keep that identifiable); the model keeps the random-pairs u.
        (("name_ascii",), (), False),
    ),
    # Duplicates are rare among pairs (one pupil in a hundred has one): a single session, which
    # blocks them together and learns how their names differ; the other fields come from a link
    # model (DEDUPE_M_FROM_LINK).
    "dedupe": (
        (
            ("birth_date", "birth_province_code"),  # trains name, sex
            (("birth_date", "Khớp chính xác"), ("birth_province", "Khớp")),
            True,
        ),
    ),
}
DEDUPE_M_FROM_LINK = ("birth_date", "birth_province", "father", "mother")
# Parents' names, when our records carry none to learn from: share of matches whose registry
# copy has the parent's name exactly, nearly, or otherwise (u still comes from the data).
PARENT_M = {"Khớp (không dấu)": 0.9, "Sai một ký tự": 0.05, "Khác": 0.05}
PARENTS = ("father", "mother")
INITIAL_MATCH_RATE = {"link": 1.0, "dedupe": 0.01}
DEFAULT_SAMPLE_RECORDS = {"link": 50_000, "dedupe": 200_000}


def _rule_sql(rule: str | tuple[str, ...]) -> str:
    if isinstance(rule, str):
        return rule
    return " AND ".join(f'l."{c}" = r."{c}"' for c in rule)


def blocking_rules() -> list[dict[str, str]]:
    """The prediction blocking rules as Splink settings dictionaries, in order (``match_key``)."""
    return [{"blocking_rule": _rule_sql(r), "sql_dialect": "duckdb"} for _, r in BLOCKING_RULES]


def rule_names() -> list[str]:
    """A short name of each blocking rule, in ``match_key`` order."""
    return [name for name, _ in BLOCKING_RULES]


def settings_for(kind: str) -> dict[str, Any]:
    """An untrained Splink settings dictionary for ``kind`` (link or dedupe)."""
    if kind not in KINDS:
        raise ValueError(f"Unknown model kind '{kind}'; choose one of: {', '.join(KINDS)}.")
    return {
        "link_type": LINK_TYPES[kind],
        # Fixed, so that the same data and seed give the very same model file.
        "linker_uid": f"vnemis_{kind}",
        "unique_id_column_name": "unique_id",
        "comparisons": comparisons(),
        "blocking_rules_to_generate_predictions": blocking_rules(),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": True,
        "em_convergence": 0.001,
        "max_iterations": 20,
    }


def duckdb_api(*, threads: int = DUCKDB_THREADS, memory_limit: str = DUCKDB_MEMORY_LIMIT):
    """A Splink DuckDB backend on a fresh in-memory database, bounded, offline."""
    from splink import DuckDBAPI

    con = duckdb.connect(":memory:")
    spill = Path(tempfile.gettempdir()) / "vnemis-duckdb"
    # Nothing may be fetched from the internet: extensions are built in or not used.
    con.execute("SET autoinstall_known_extensions = false")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET preserve_insertion_order = false")
    return DuckDBAPI(connection=con)


def linker_for(kind: str, settings: dict, *, records: pl.DataFrame, extract=None, db_api=None):
    """A Splink linker over prepared frames (``extract`` only for ``link``)."""
    from splink import Linker

    db_api = db_api or duckdb_api()
    tables = [db_api.register(records.to_arrow(), dataset_display_name=DATASETS[0])]
    if kind == "link":
        tables.append(db_api.register(extract.to_arrow(), dataset_display_name=DATASETS[1]))
    # Splink warns, per level, of levels a training sample lacks; _floor_parameters deals with
    # them, so only errors are worth showing.
    return Linker(tables, settings, log_level=logging.ERROR)


@contextmanager
def _linker(kind: str, settings: dict, *, records: pl.DataFrame, extract=None):
    """A linker on its own DuckDB database, closed (memory freed) on leaving."""
    db_api = duckdb_api()
    try:
        yield linker_for(kind, settings, records=records, extract=extract, db_api=db_api)
    finally:
        db_api.duckdb_con.close()


@dataclass(frozen=True)
class TrainedModel:
    """A saved model: its Splink settings (with m, u and prior) and its metadata."""

    path: Path
    kind: str
    version: int
    settings: dict = field(repr=False)
    metadata: dict = field(repr=False)

    @property
    def name(self) -> str:
        """``<kind>-v<N>``, what review items record as the model version."""
        return f"{self.kind}-v{self.version}"

    @property
    def thresholds(self) -> dict[str, float]:
        return self.metadata["thresholds"]

    @property
    def match_rate(self) -> float:
        return self.metadata["match_rate"]

    @property
    def metadata_path(self) -> Path:
        return metadata_path(self.path)


def metadata_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.stem + ".meta.json")


def prior_for(kind: str, match_rate: float, *, n_records: int, n_extract: int = 0) -> float:
    """Splink's ``probability_two_random_records_match`` for data of this size.

    link: each record has a match with probability ``match_rate`` among ``n_extract`` citizens;
    dedupe: ``match_rate`` duplicate pairs per record among n(n-1)/2 pairs.
    """
    if kind == "link":
        prior = match_rate / max(n_extract, 1)
    else:
        prior = 2 * match_rate / max(n_records - 1, 1)
    return min(max(prior, 1e-12), 0.5)


def _match_rate(kind: str, prior: float, *, n_records: int, n_extract: int) -> float:
    if kind == "link":
        return prior * n_extract
    return prior * (n_records - 1) / 2


def _levels(settings: dict, comparison: str) -> list[dict]:
    for c in settings["comparisons"]:
        if c["output_column_name"] == comparison:
            return [lv for lv in c["comparison_levels"] if not lv.get("is_null_level")]
    raise KeyError(comparison)


def _number(value) -> float | None:
    return float(value) if isinstance(value, float | int) else None


def _floor_parameters(settings: dict) -> list[str]:
    """Floors m and u of each level (a level never seen among the sampled matches or
    non-matches would otherwise weigh ±20 bits); a comparison that could not be trained at all
    gets m = u, a weight of 0. Returns the names of those comparisons."""
    untrained = []
    for comparison in settings["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        m = [_number(lv.get("m_probability")) for lv in levels]
        u = [_number(lv.get("u_probability")) for lv in levels]
        if all(x is None for x in m) or all(x is None for x in u):
            for lv in levels:
                lv["m_probability"] = lv["u_probability"] = 1 / len(levels)
            untrained.append(comparison["output_column_name"])
            continue
        m = [max(mv or 0.0, M_FLOOR) for mv in m]
        u = [max(uv or 0.0, U_FLOOR) for uv in u]
        for lv, mv, uv in zip(levels, m, u, strict=True):
            lv["m_probability"] = mv / sum(m)
            lv["u_probability"] = uv / sum(u)
    return untrained


def _bayes_factor(settings: dict, comparison: str, label: str) -> float:
    level = next(lv for lv in _levels(settings, comparison) if lv["label_for_charts"] == label)
    return level["m_probability"] / level["u_probability"]


def _sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    return frame.sample(min(n, len(frame)), seed=seed) if len(frame) > n else frame


def _cells_sample(rec: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """All records of randomly drawn (birth date, province) cells, about ``n`` in all."""
    if len(rec) <= n:
        return rec
    keys = ["birth_date", "birth_province_code"]
    cells = rec.group_by(keys).len().sort(keys).sample(fraction=1.0, shuffle=True, seed=seed)
    cells = cells.filter(pl.col("len").cum_sum() <= n).select(keys)
    return rec.join(cells, on=keys, how="semi", nulls_equal=True)


def _estimate_u(kind: str, settings: dict, rec, ext, *, pairs: int, seed: int) -> dict:
    """u of every level from all pairs of two small random samples (about ``pairs`` pairs).

    Sampling here, rather than asking Splink for a seeded sample, keeps it deterministic and
    cheap: Splink then scores the full cross product of what it is given.
    """
    if kind == "link":
        side = max(2, math.isqrt(int(pairs)))
        left, right = _sample(rec, side, seed + 10), _sample(ext, side, seed + 11)
        total = len(left) * len(right)
    else:
        left, right = _sample(rec, max(2, math.isqrt(2 * int(pairs))), seed + 10), None
        total = len(left) * (len(left) - 1) // 2
    with _linker(kind, settings, records=left, extract=right) as linker:
        linker.training.estimate_u_using_random_sampling(
            max_pairs=total + 1, seed=None, num_chunks=1, min_count_per_level=None
        )
        return linker.misc.save_model_to_json()


def _copy_u(source: dict, target: dict, comparisons: tuple[str, ...] | None = None) -> None:
    for c_src, c_dst in zip(source["comparisons"], target["comparisons"], strict=True):
        if comparisons is not None and c_src["output_column_name"] not in comparisons:
            continue
        for lv_src, lv_dst in zip(
            c_src["comparison_levels"], c_dst["comparison_levels"], strict=True
        ):
            if not lv_src.get("is_null_level") and "u_probability" in lv_src:
                lv_dst["u_probability"] = lv_src["u_probability"]


def _parents_fallback(trained: dict, ext_s, *, pairs: int, seed: int) -> list[str]:
    """Parents' comparisons for records that carry no parents' names: m from ``PARENT_M``, u
    from random pairs of citizens of the extract (who have them). Returns what was set."""
    done = []
    if ext_s is None or not (_observed(ext_s, "father_ascii") or _observed(ext_s, "mother_ascii")):
        return done
    settings = settings_for("dedupe")
    settings["comparisons"] = [
        c for c in settings["comparisons"] if c["output_column_name"] in PARENTS
    ]
    u_model = _estimate_u("dedupe", settings, ext_s, None, pairs=pairs, seed=seed)
    for name in PARENTS:
        u_levels = _levels(u_model, name)
        if not all(_number(lv.get("u_probability")) for lv in u_levels):
            continue
        for lv, lv_u in zip(_levels(trained, name), u_levels, strict=True):
            lv["m_probability"] = PARENT_M[lv["label_for_charts"]]
            lv["u_probability"] = lv_u["u_probability"]
        done.append(name)
    return done


def _observed(frame: pl.DataFrame, col: str) -> bool:
    return frame[col].null_count() < len(frame)


def _next_version(models_dir: Path, kind: str) -> int:
    pattern = re.compile(rf"^{re.escape(kind)}-v(\d+)\.json$")
    versions = [int(m.group(1)) for p in models_dir.iterdir() if (m := pattern.match(p.name))]
    return max(versions, default=0) + 1


def _write_new(models_dir: Path, kind: str, settings: dict, metadata: dict) -> tuple[Path, int]:
    """Writes the next version; exclusive creation, so two trainings never take one number."""
    models_dir.mkdir(parents=True, exist_ok=True)
    while True:
        version = _next_version(models_dir, kind)
        path = models_dir / f"{kind}-v{version}.json"
        try:
            with path.open("x", encoding="utf-8") as f:
                json.dump(settings, f, ensure_ascii=False, indent=1)
        except FileExistsError:
            continue
        metadata = {**metadata, "version": version, "name": f"{kind}-v{version}"}
        metadata_path(path).write_text(
            json.dumps(metadata, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        return path, version


@dataclass
class _Fit:
    settings: dict  # trained m and u, as Splink saved them
    blocked_match_share: float
    parents_m_fixed: list[str]


def _fit(
    kind: str, rec_s, ext_s, *, rec_em=None, u_pairs: int, em_max_pairs: float, seed: int
) -> _Fit:
    """u from random pairs of ``rec_s`` (and ``ext_s``), m by the kind's EM sessions on
    ``rec_em`` (default ``rec_s``), and the first session's blocked share of matches."""
    from splink import block_on

    rec_em = rec_s if rec_em is None else rec_em
    n_ext_s = len(ext_s) if kind == "link" else 0
    settings = settings_for(kind)
    # EM starts from the prior: about one match per record (link) or a duplicate per hundred
    # records (dedupe). From Splink's default a well-blocked session would start near "all
    # pairs match", where EM stalls.
    settings["probability_two_random_records_match"] = prior_for(
        kind, INITIAL_MATCH_RATE[kind], n_records=len(rec_em), n_extract=n_ext_s
    )
    em_ext = ext_s if kind == "link" else None
    _copy_u(_estimate_u(kind, settings, rec_s, em_ext, pairs=u_pairs, seed=seed), settings)
    u_random = json.loads(json.dumps(settings))
    with _linker(kind, settings, records=rec_em, extract=em_ext) as linker:
        sessions = [
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule),
                estimate_without_term_frequencies=True,
                fix_u_probabilities=fix_u,
                max_pairs=em_max_pairs,
            )
            for rule, _forced, fix_u in TRAINING_SESSIONS[kind]
        ]
        trained = linker.misc.save_model_to_json()
    # A session free to fit u did so for its blocked pairs only; the model keeps the u of
    # random pairs.
    _copy_u(u_random, trained)
    parents = []
    if not any(_observed(rec_em, f"{p}_ascii") for p in PARENTS):
        parents = _parents_fallback(trained, ext_s, pairs=u_pairs // 4, seed=seed)
    blocked = sessions[0].core_model_settings.probability_two_random_records_match
    return _Fit(trained, blocked, parents)


def _prior(kind: str, fit: _Fit) -> float:
    """The first session's share of matches among its blocked pairs, as odds, less the evidence
    its blocking already holds (the Bayes factors of the levels it forces)."""
    odds = fit.blocked_match_share / (1 - fit.blocked_match_share)
    for comparison, label in TRAINING_SESSIONS[kind][0][1]:
        odds /= _bayes_factor(fit.settings, comparison, label)
    return odds / (1 + odds)


def _copy_m(source: dict, target: dict, comparisons: tuple[str, ...]) -> None:
    for name in comparisons:
        for lv_src, lv_dst in zip(_levels(source, name), _levels(target, name), strict=True):
            lv_dst["m_probability"] = lv_src["m_probability"]


def train_model(
    kind: str,
    records: pl.DataFrame,
    extract: pl.DataFrame | None = None,
    *,
    models_dir: Path,
    link_model: "TrainedModel | None" = None,
    sample_records: int | None = None,
    sample_extract: int = 1_000_000,
    u_pairs: int = 2_000_000,
    em_max_pairs: float = 2e6,
    seed: int = 42,
    thresholds: dict[str, float] | None = None,
    prepared: bool = False,
) -> TrainedModel:
    """Train a ``link`` (records ↔ extract) or ``dedupe`` (records ↔ records) model on a sample
    and save it as the next version under ``models_dir``.

    ``records`` and ``extract`` are raw frames (``prepare.RECORD_COLUMNS``, ``EXTRACT_COLUMNS``)
    or, with ``prepared=True``, the output of ``prepare_*``. At most ``sample_records`` records
    (default ``DEFAULT_SAMPLE_RECORDS``) and ``sample_extract`` citizens are used, drawn with
    ``seed``; u comes from about ``u_pairs`` random pairs, each EM session from at most
    ``em_max_pairs`` blocked pairs.

    A dedupe model learns the names (how two records of one pupil differ) and the prior from
    our records; for birth date, province and parents it takes the m values of ``link_model``
    (or of a link fit on ``extract`` when no model is given): duplicates are too rare among
    pairs for EM to learn those from the records alone.
    """
    started = time.perf_counter()
    if kind not in KINDS:
        raise ValueError(f"Unknown model kind '{kind}'; choose one of: {', '.join(KINDS)}.")
    if kind == "link" and extract is None:
        raise ValueError("A link model needs the registry extract to train on.")
    if kind == "dedupe" and link_model is None and extract is None:
        raise ValueError(
            "A dedupe model takes its birth date, province and parents' parameters from a link "
            "model: pass link_model (a trained link model) or the registry extract."
        )
    rec = records if prepared else prepare_records(records)
    ext = None
    if extract is not None:
        ext = extract if prepared else prepare_extract(extract)
        # Only the cohorts of our records matter; the prior is per citizen of those cohorts.
        ext = ext.filter(pl.col("birth_year").is_in(rec["birth_year"].unique().implode()))
    n_records, n_extract = len(rec), len(ext) if ext is not None else 0
    sample_records = sample_records or DEFAULT_SAMPLE_RECORDS[kind]
    # Random samples of both sides keep the share of matching pairs, hence the prior, unbiased.
    rec_s = _sample(rec, sample_records, seed).select(MODEL_COLUMNS)
    ext_s = (
        _sample(ext, sample_extract, seed + 1).select(MODEL_COLUMNS) if ext is not None else None
    )
    if len(rec_s) < 2 or (ext_s is not None and len(ext_s) < 2):
        raise ValueError("Too few records to train a linkage model on; give at least a few.")
    rec_em = None
    if kind == "dedupe":
        # A random sample would keep a share f² of the duplicate pairs; whole cells of the EM
        # blocking (birth date and province) keep them all, and the session's blocked share.
        rec_em = _cells_sample(rec, sample_records, seed).select(MODEL_COLUMNS)

    fit = _fit(
        kind,
        rec_s,
        ext_s,
        rec_em=rec_em,
        u_pairs=u_pairs,
        em_max_pairs=em_max_pairs,
        seed=seed,
    )
    borrowed = None
    if kind == "dedupe":
        if link_model is not None:
            source, borrowed = link_model.settings, link_model.name
        else:
            link_s = _sample(rec_s, min(len(rec_s), 50_000), seed + 2)
            link_fit = _fit(
                "link", link_s, ext_s, u_pairs=u_pairs, em_max_pairs=em_max_pairs, seed=seed
            )
            _floor_parameters(link_fit.settings)
            source, borrowed = link_fit.settings, "link fit on the extract"
        _copy_m(source, fit.settings, DEDUPE_M_FROM_LINK)
        no_parents = not any(_observed(rec_s, f"{p}_ascii") for p in PARENTS)
        if no_parents and not fit.parents_m_fixed:
            # Nothing to learn their u from here: the registry's, as the link model saw them.
            _copy_u(source, fit.settings, PARENTS)
    untrained = _floor_parameters(fit.settings)
    prior = _prior(kind, fit)
    # The prior estimated on samples is the prior of the whole data (sampling keeps the share of
    # matching pairs), so the size-free rate follows from the whole data's size.
    match_rate = _match_rate(kind, prior, n_records=n_records, n_extract=n_extract)
    trained = fit.settings
    trained["probability_two_random_records_match"] = prior_for(
        kind, match_rate, n_records=n_records, n_extract=n_extract
    )
    metadata = {
        "format": MODEL_FORMAT,
        "kind": kind,
        "link_type": LINK_TYPES[kind],
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "records": n_records,
        "extract": n_extract if kind == "link" else 0,
        "sample_records": len(rec_s),
        "sample_records_em": len(rec_em) if rec_em is not None else len(rec_s),
        "sample_extract": len(ext_s) if kind == "link" else 0,
        "u_pairs": u_pairs,
        "em_max_pairs": em_max_pairs,
        "training_sessions": [" AND ".join(rule) for rule, *_ in TRAINING_SESSIONS[kind]],
        "blocked_match_share": fit.blocked_match_share,
        "match_rate": match_rate,
        "untrained_comparisons": untrained,
        "parents_m_fixed": fit.parents_m_fixed,
        "m_borrowed_from": borrowed,
        "thresholds": {**DEFAULT_THRESHOLDS[kind], **(thresholds or {})},
        "margin": DEFAULT_MARGIN,
        "train_seconds": round(time.perf_counter() - started, 2),
        "metrics": {},
    }
    path, _ = _write_new(Path(models_dir), kind, trained, metadata)
    logger.info("Trained linkage model %s in %.1f s", path.name, metadata["train_seconds"])
    return load_model(path)


def load_model(path: Path) -> TrainedModel:
    """A model saved by ``train_model``, from its JSON path."""
    path = Path(path)
    settings = json.loads(path.read_text(encoding="utf-8"))
    metadata = json.loads(metadata_path(path).read_text(encoding="utf-8"))
    return TrainedModel(
        path=path,
        kind=metadata["kind"],
        version=int(metadata["version"]),
        settings=settings,
        metadata=metadata,
    )


def latest_model(models_dir: Path, kind: str) -> TrainedModel | None:
    """The highest version of ``kind`` under ``models_dir``, or None when none was trained."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return None
    version = _next_version(models_dir, kind) - 1
    return load_model(models_dir / f"{kind}-v{version}.json") if version else None


def save_metrics(model: TrainedModel, metrics: dict[str, Any]) -> TrainedModel:
    """Records evaluation figures (precision, recall, ...) in the model's metadata file."""
    metadata = {**model.metadata, "metrics": {**model.metadata.get("metrics", {}), **metrics}}
    model.metadata_path.write_text(
        json.dumps(metadata, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return load_model(model.path)

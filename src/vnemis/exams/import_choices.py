"""Subject choices of many candidates at once: a school's or Department's registration file.

One row per candidate: education ID and the electives (``elective_1``, ``elective_2``; up to four
columns for a session that asks for more). Each row is checked by the same rule as a single
registration (``rules.elective_problems``); a candidate exempted from a language keeps it until
the exemption is withdrawn. A row whose electives are already recorded is "unchanged".
"""

from __future__ import annotations

import polars as pl

from . import catalogue, rules
from . import import_checks as ic
from .files import Column, FileLayout, Table
from .import_context import Counts, ImportContext, candidates_join, in_chunks
from .models import CandidateSubject, ExamSubject
from .sql import rows_insert

ENTITY = "choices"
ELECTIVES = ("elective_1", "elective_2", "elective_3", "elective_4")
LAYOUT = FileLayout(
    ENTITY,
    (
        Column(
            "education_id",
            "Mã định danh",
            "Education ID",
            ("Mã định danh giáo dục", "ma_dinh_danh"),
        ),
        Column("elective_1", "Môn tự chọn 1", "Elective 1", ("Môn lựa chọn 1", "mon_1")),
        Column("elective_2", "Môn tự chọn 2", "Elective 2", ("Môn lựa chọn 2", "mon_2")),
        Column("elective_3", "Môn tự chọn 3", "Elective 3", ("mon_3",), required=False),
        Column("elective_4", "Môn tự chọn 4", "Elective 4", ("mon_4",), required=False),
    ),
)


def _current(ids: list[int]) -> dict[int, tuple[frozenset[str], str | None]]:
    """Each candidate's electives and the language they are exempted from, if any."""
    out: dict[int, tuple[set[str], str | None]] = {}
    for chunk in in_chunks(ids):
        for cid, code, exempt in (
            CandidateSubject.objects.filter(candidate_id__in=chunk)
            .exclude(subject__category=catalogue.COMPULSORY)
            .values_list("candidate_id", "subject__code", "exempt")
        ):
            codes, _ = out.setdefault(cid, (set(), None))
            codes.add(code)
            if exempt:
                out[cid] = (codes, code)
    return {cid: (frozenset(codes), ex) for cid, (codes, ex) in out.items()}


def check(table: Table, ctx: ImportContext) -> ic.Checked:
    df = table.frame
    required = ctx.session.electives_required
    errors = ic.missing_checks(df, ["education_id"], entity=ENTITY)
    df, known, candidate_errors = candidates_join(df, ctx, entity=ENTITY)
    errors += candidate_errors
    errors += ic.duplicate_checks(df, ["education_id"], entity=ENTITY)
    current = _current(df.filter(known)["candidate_id"].unique().to_list())
    # The rule is per row; a row is a handful of codes, so plain Python is the clear way.
    rule_rows, wanted_col, exempted_col = [], [], []
    for row, cid, *codes in df.select(ic.ROW, "candidate_id", *ELECTIVES).iter_rows():
        chosen = rules.electives_normalise(c or "" for c in codes)
        wanted_col.append(";".join(sorted(chosen)))
        for code, values in rules.elective_problems(chosen, required=required):
            column = _column_of(code, values, codes)
            rule_rows.append((row, ENTITY, column, values.get("code"), code, "error"))
        exempted = current.get(cid, (frozenset(), None))[1] if cid is not None else None
        exempted_col.append(exempted)
        if exempted and exempted not in chosen:
            rule_rows.append((row, ENTITY, "elective_1", exempted, "exempt_subject", "error"))
    errors.append(pl.DataFrame(rule_rows, schema=ic.ERROR_SCHEMA, orient="row"))
    df = df.with_columns(
        pl.Series("_wanted", wanted_col, dtype=pl.String),
        pl.Series("_exempted", exempted_col, dtype=pl.String),
    )
    bad = ic.rows_with_errors(errors)
    good = df.filter(~pl.col(ic.ROW).is_in(bad.implode()))
    unchanged = [
        ";".join(sorted(current.get(cid, (frozenset(), None))[0])) == wanted
        for cid, wanted in good.select("candidate_id", "_wanted").iter_rows()
    ]
    good = good.with_columns(pl.Series("_same", unchanged, dtype=pl.Boolean))
    return ic.Checked(good.select(ic.ROW, "candidate_id", "_wanted", "_exempted", "_same"), errors)


def _column_of(code: str, values: dict, codes: list) -> str:
    """The elective column a problem is about (the first holding the code), else the first."""
    target = values.get("code")
    for name, value in zip(ELECTIVES, codes, strict=True):
        if target and value and value.strip().upper() == target:
            return name
    return ELECTIVES[0]


def apply(checked: ic.Checked, ctx: ImportContext, *, dry_run: bool) -> Counts:
    changed = checked.good.filter(~pl.col("_same"))
    counts = Counts(updated=changed.height, unchanged=checked.good.height - changed.height)
    if dry_run or not changed.height:
        return counts
    subjects = dict(ExamSubject.objects.filter(active=True).values_list("code", "id"))
    compulsory = list(
        ExamSubject.objects.filter(category=catalogue.COMPULSORY, active=True).values_list(
            "id", flat=True
        )
    )
    ids = changed["candidate_id"].to_list()
    for chunk in in_chunks(ids):
        # An exempted language stays (the check made sure it is still chosen), with its flag.
        CandidateSubject.objects.filter(candidate_id__in=chunk, exempt=False).exclude(
            subject_id__in=compulsory
        ).delete()
    rows_insert(
        CandidateSubject,
        ("candidate", "subject", "exempt"),
        (
            (cid, subjects[code], False)
            for cid, wanted, exempted in changed.select(
                "candidate_id", "_wanted", "_exempted"
            ).iter_rows()
            for code in wanted.split(";")
            if code and code != exempted
        ),
    )
    return counts

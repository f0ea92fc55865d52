"""CSV files in and out of the matching engine, as ``vnemis admissions match`` uses them.

In: ``programme_code,quota[,ties]`` and ``candidate_id,rank,programme_code,score`` (UTF-8,
comma-separated, a UTF-8 byte-order mark allowed; extra columns ignored). Polars parses and
checks every column at once; a problem is reported with its file, line and column (line 1 is
the header), in Vietnamese and English. Codes and candidate ids are text, so leading zeros
stay; scores are decimals with at most two places (more non-zero places are refused rather
than rounded) and become integer hundredths.

Out: the placements, the cut-offs beside them and, on request, the reasons for missed wishes.
Each is written to a temporary file first and all are renamed into place only when every one
is complete, so a failed run leaves nothing partial behind.
"""

from __future__ import annotations

import codecs
import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from .errors import MatchInputError
from .market import Market, market_build
from .reasons import CODES
from .result import TIE_ALL, TIE_NONE, MatchResult

PROGRAMME_COLUMNS = ("programme_code", "quota")
WISH_COLUMNS = ("candidate_id", "rank", "programme_code", "score")
ROW = "_row"  # the data row's index; its line in the file is ROW + 2
MAX_SCORE = 1_000_000  # points (market.MAX_SCORE_HUNDREDTHS)


@dataclass(frozen=True)
class Programmes:
    codes: list[str]  # sorted: a programme's index is its position
    quotas: np.ndarray
    ties: list[str]


@dataclass(frozen=True)
class Round:
    programmes: Programmes
    market: Market
    candidate_ids: pl.Series  # text, in the market's candidate order (sorted as text)


def programmes_read(path: str | os.PathLike, *, ties: str = TIE_ALL) -> Programmes:
    """The programme file: code, quota and (optionally) each programme's own tie rule."""
    name = str(path)
    frame = _read(path, PROGRAMME_COLUMNS, optional=("ties",))
    _refuse_missing(frame, name, PROGRAMME_COLUMNS)
    frame = frame.with_columns(pl.col("quota").cast(pl.Int64, strict=False).alias("_quota"))
    _refuse_first(
        frame, name, "quota", pl.col("_quota").is_null() | (pl.col("_quota") < 0),
        "chỉ tiêu phải là số nguyên không âm", "the quota must be a whole number, not negative",
        show=True,
    )  # fmt: skip
    _refuse_duplicates(
        frame, name, ["programme_code"], "mã ngành bị lặp", "duplicate programme code"
    )
    if "ties" in frame.columns:
        rule = pl.col("ties").str.to_lowercase()
        frame = frame.with_columns(
            pl.when(rule.is_null()).then(pl.lit(ties)).otherwise(rule).alias("ties")
        )
        _refuse_first(
            frame, name, "ties", ~pl.col("ties").is_in([TIE_ALL, TIE_NONE]),
            "quy tắc xét bằng điểm phải là 'all' hoặc 'none'", "the tie rule must be 'all' or 'none'",
        )  # fmt: skip
    else:
        frame = frame.with_columns(pl.lit(ties).alias("ties"))
    frame = frame.sort("programme_code")
    return Programmes(
        codes=frame["programme_code"].to_list(),
        quotas=frame["_quota"].to_numpy().astype(np.int64),
        ties=frame["ties"].to_list(),
    )


def round_read(programmes_path, wishes_path, *, ties: str = TIE_ALL) -> Round:
    """Both files, checked against each other and laid out as a market."""
    programmes = programmes_read(programmes_path, ties=ties)
    name = str(wishes_path)
    frame = _read(wishes_path, WISH_COLUMNS)
    _refuse_missing(frame, name, WISH_COLUMNS)
    frame = frame.with_columns(pl.col("rank").cast(pl.Int64, strict=False).alias("_rank"))
    _refuse_first(
        frame, name, "rank", pl.col("_rank").is_null() | (pl.col("_rank") < 1),
        "thứ tự nguyện vọng phải là số nguyên dương (1 là nguyện vọng 1)",
        "the wish rank must be a positive whole number (1 is the first wish)",
        show=True,
    )  # fmt: skip
    _refuse_scores(frame, name)
    programme = pl.col("programme_code").cast(pl.Enum(programmes.codes), strict=False)
    frame = frame.with_columns(programme.to_physical().cast(pl.Int32).alias("_programme"))
    _refuse_first(
        frame, name, "programme_code", pl.col("_programme").is_null(),
        "mã ngành không có trong tệp ngành", "the programme code is not in the programmes file",
        show=True,
    )  # fmt: skip
    columns = frame.select(
        _candidate_order(frame), "_rank", "_programme", _hundredths(pl.col("score")).alias("_score")
    )
    try:
        market = market_build(
            candidates=columns["_candidate"].to_numpy(),
            ranks=columns["_rank"].to_numpy(),
            programmes=columns["_programme"].to_numpy(),
            scores=columns["_score"].to_numpy(),
            programme_count=len(programmes.codes),
        )
    except MatchInputError as error:
        raise _located(error, frame, name) from None
    firsts = frame["candidate_id"].gather(market.wish_source[market.start[:-1]])
    return Round(programmes=programmes, market=market, candidate_ids=firsts)


def _candidate_order(frame: pl.DataFrame) -> pl.Expr:
    """An integer per candidate id, in the ids' text order. Candidate numbers are usually
    digits of one width (leading zeros included), whose text order is their numeric order:
    then the number itself, which spares sorting millions of strings."""
    ids = pl.col("candidate_id")
    uniform = frame.select(
        ids.str.contains(r"^[0-9]{1,18}$").all().alias("digits"),
        (ids.str.len_bytes().n_unique() == 1).alias("one_width"),
    ).row(0)
    if all(uniform):
        return ids.cast(pl.Int64).alias("_candidate")
    distinct = frame["candidate_id"].unique().sort()
    return ids.replace_strict(
        distinct, np.arange(len(distinct), dtype=np.int64), return_dtype=pl.Int64
    ).alias("_candidate")


def outputs_write(
    result: MatchResult,
    round_: Round,
    *,
    out: str | os.PathLike,
    reasons: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Write the placements, the cut-offs (``<out>.cutoffs.csv``) and optionally the reasons;
    all or none of them."""
    paths = {"placements": Path(out), "cutoffs": cutoffs_path(out)}
    if reasons is not None:
        paths["reasons"] = Path(reasons)
    frames = {
        "placements": _placements_frame(result, round_),
        "cutoffs": _cutoffs_frame(result, round_),
    }
    if reasons is not None:
        frames["reasons"] = _reasons_frame(result, round_)
    written: dict[str, Path] = {}
    try:
        for part, frame in frames.items():
            target = paths[part]
            handle, temporary = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            os.close(handle)
            written[part] = Path(temporary)
            frame.write_csv(temporary)
        for part, temporary in written.items():
            os.replace(temporary, paths[part])
    finally:
        for temporary in written.values():
            temporary.unlink(missing_ok=True)
    return paths


def cutoffs_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    stem = out.name[:-4] if out.name.lower().endswith(".csv") else out.name
    return out.with_name(f"{stem}.cutoffs.csv")


def score_text(hundredths: pl.Expr) -> pl.Expr:
    """Hundredths as a decimal with two places ("25.50"); empty where negative (none)."""
    text = pl.format(
        "{}.{}",
        (hundredths // 100).cast(pl.String),
        (hundredths % 100).cast(pl.String).str.zfill(2),
    )
    return pl.when(hundredths >= 0).then(text).otherwise(pl.lit(None, dtype=pl.String))


def _codes(round_: Round, programme: np.ndarray) -> pl.Series:
    """Programme codes by index; null (an empty cell) where the index is -1."""
    index = pl.Series(programme, dtype=pl.Int64)
    index = pl.select(pl.when(index >= 0).then(index)).to_series()
    return pl.Series(round_.programmes.codes, dtype=pl.String).gather(index)


def _placements_frame(result: MatchResult, round_: Round) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "candidate_id": round_.candidate_ids,
            "programme_code": _codes(round_, result.placement),
        }
    )


def _cutoffs_frame(result: MatchResult, round_: Round) -> pl.DataFrame:
    rank = result.cutoff_rank
    return pl.DataFrame(
        {
            "programme_code": round_.programmes.codes,
            "quota": result.quotas,
            "ties": result.ties(),
            "admitted": result.admitted,
            "_score": result.cutoff_score,
            "_rank": rank,
        },
        schema_overrides={"programme_code": pl.String, "ties": pl.String},
    ).select(
        "programme_code", "quota", "ties", "admitted",
        score_text(pl.col("_score")).alias("cutoff_score"), _rank_text("_rank"),
    )  # fmt: skip


def _reasons_frame(result: MatchResult, round_: Round) -> pl.DataFrame:
    missed = result.missed()
    market = result.market
    candidate = np.searchsorted(market.candidate_ids, missed.candidate)
    return pl.DataFrame(
        {
            "candidate_id": round_.candidate_ids.gather(candidate),
            "rank": missed.rank,
            "programme_code": _codes(round_, missed.programme),
            "_score": missed.score,
            "reason": pl.Series(CODES, dtype=pl.String).gather(missed.reason.astype(np.int64)),
            "_cutoff": result.cutoff_score[missed.programme],
            "_rank": result.cutoff_rank[missed.programme],
        },
    ).select(
        "candidate_id", "rank", "programme_code", score_text(pl.col("_score")).alias("score"),
        "reason", score_text(pl.col("_cutoff")).alias("cutoff_score"), _rank_text("_rank"),
    )  # fmt: skip


def _rank_text(column: str) -> pl.Expr:
    """The cut-off's wish rank, empty where the programme admitted no one (0)."""
    return pl.when(pl.col(column) > 0).then(pl.col(column)).alias("cutoff_rank")


# --- reading and checking -------------------------------------------------------------------


def _read(path, required, optional=()) -> pl.DataFrame:
    """The file's columns of interest as text, trimmed, with the row index."""
    name = str(path)
    _refuse_bad_bytes(path)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8", row_index_name=ROW)
    except pl.exceptions.NoDataError:
        raise _empty(name) from None
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError) as error:
        raise _located_parse_error(path, error) from None
    header = [column.strip().lower() for column in frame.columns]
    duplicated = [c for c in header if "_duplicated_" in c]
    if duplicated:
        original = duplicated[0].split("_duplicated_")[0]
        raise MatchInputError(
            f"cột '{original}' xuất hiện hai lần", f"column '{original}' appears twice",
            file=name, line=1, column=original,
        )  # fmt: skip
    frame.columns = header
    missing = [column for column in required if column not in header]
    if missing:
        raise MatchInputError(
            f"thiếu cột {', '.join(missing)} (cần: {', '.join(required)})",
            f"missing column {', '.join(missing)} (needed: {', '.join(required)})",
            file=name, line=1, column=missing[0],
        )  # fmt: skip
    if frame.height == 0:
        raise _empty(name)
    keep = [column for column in (*required, *optional) if column in header]
    return frame.select(ROW, *[_blank_as_null(pl.col(c).str.strip_chars()).alias(c) for c in keep])


def _blank_as_null(text: pl.Expr) -> pl.Expr:
    return pl.when(text == "").then(pl.lit(None, dtype=pl.String)).otherwise(text)


def _empty(name: str) -> MatchInputError:
    return MatchInputError(
        "tệp rỗng: cần dòng tiêu đề và ít nhất một dòng dữ liệu",
        "the file is empty: it needs a header line and at least one data row",
        file=name,
    )


def _refuse_bad_bytes(path) -> None:
    """Files saved as UTF-16 or UTF-32 (Excel's "Unicode text") parse as garbage, not as an
    error: catch them by their byte-order mark or their zero bytes."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError as error:
        raise MatchInputError(
            f"không mở được tệp ({error.strerror})", f"cannot open the file ({error.strerror})",
            file=name,
        ) from None  # fmt: skip
    if not head:
        raise _empty(name)
    boms = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    if head.startswith(boms) or b"\x00" in head:
        raise MatchInputError(
            "tệp được lưu dạng UTF-16/UTF-32; hãy lưu lại dạng CSV UTF-8",
            "the file is saved as UTF-16/UTF-32; save it again as CSV UTF-8",
            file=name, line=1,
        )  # fmt: skip


def _located_parse_error(path, error: Exception) -> MatchInputError:
    """Polars says what is wrong but not where: find the line with Python's csv module."""
    name = str(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as handle:
        for raw in handle:
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as bad:
                column_number = raw[: bad.start].count(b",") + 1
                return MatchInputError(
                    f"không phải UTF-8 (cột thứ {column_number}); hãy lưu tệp dạng CSV UTF-8",
                    f"not UTF-8 text (field {column_number}); save the file as CSV UTF-8",
                    file=name, line=line,
                )  # fmt: skip
            del text
            line += 1
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        for row in reader:
            if len(row) != len(header):
                return MatchInputError(
                    f"dòng có {len(row)} trường, tiêu đề có {len(header)}",
                    f"the line has {len(row)} fields, the header {len(header)}",
                    file=name, line=reader.line_num,
                )  # fmt: skip
    return MatchInputError(
        f"không đọc được tệp CSV ({error})", f"cannot parse the CSV file ({error})", file=name
    )


def _refuse_first(frame, name, column, bad: pl.Expr, vi, en, *, show=False) -> None:
    """Refuse the first row (in file order) where ``bad`` holds, quoting its value if asked."""
    if not frame.select(bad.any()).item():  # one pass in the usual case
        return
    found = frame.filter(bad).select(ROW, column).sort(ROW).head(1)
    if found.height:
        if show:
            value = found[column][0]
            vi, en = f"{vi} (giá trị '{value}')", f"{en} (value '{value}')"
        raise MatchInputError(vi, en, file=name, line=int(found[ROW][0]) + 2, column=column)


def _refuse_duplicates(frame, name, columns, vi, en) -> None:
    """Refuse the second of two rows with the same values in ``columns``, naming the first."""
    repeated = frame.filter(pl.struct(columns).is_duplicated()).sort(ROW)
    if repeated.height:
        value = repeated[columns[0]][0]
        again = repeated.filter(pl.col(columns[0]) == value)[ROW]
        raise MatchInputError(
            f"{vi} ('{value}', trùng với dòng {int(again[0]) + 2})",
            f"{en} ('{value}', same as line {int(again[0]) + 2})",
            file=name, line=int(again[1]) + 2, column=columns[0],
        )  # fmt: skip


def _refuse_missing(frame, name, columns) -> None:
    for column in columns:
        _refuse_first(
            frame, name, column, pl.col(column).is_null(),
            "thiếu giá trị", "the value is missing",
        )  # fmt: skip


def _refuse_scores(frame, name) -> None:
    score = pl.col("score")
    well_formed = score.str.contains(r"^[0-9]{1,7}(\.[0-9]{1,2}0*)?$")
    if frame.select(well_formed.all()).item():  # the usual case: one pass (market_build
        return  # refuses scores above MAX_SCORE, whose 7 digits pass here)
    checks = [
        (score.str.starts_with("-"), "điểm xét tuyển không được âm",
         "the admission score must not be negative"),
        (score.str.contains(r"^[0-9]+,[0-9]+$"),
         "dùng dấu chấm thập phân (25.50), không dùng dấu phẩy",
         "use a decimal point (25.50), not a comma"),
        (~score.str.contains(r"^[0-9]+(\.[0-9]+)?$"),
         "điểm xét tuyển phải là số thập phân, ví dụ 25.50",
         "the admission score must be a decimal number, such as 25.50"),
        (score.str.contains(r"\.[0-9]{2}0*[1-9]"),
         "điểm có quá 2 chữ số thập phân (không làm tròn)",
         "the score has more than 2 decimal places (it is not rounded)"),
        (~well_formed, f"điểm xét tuyển quá lớn (tối đa {MAX_SCORE:,})".replace(",", "."),
         f"the score is too large (at most {MAX_SCORE:,})"),
    ]  # fmt: skip
    found = frame.filter(~well_formed).sort(ROW).head(1)
    for bad, vi, en in checks:
        _refuse_first(found, name, "score", bad, vi, en, show=True)


def _hundredths(score: pl.Expr) -> pl.Expr:
    """Checked decimal text as integer hundredths, exactly (places past the second are zeros
    by then, so the decimal cast's truncation drops nothing)."""
    return score.cast(pl.Decimal(18, 2)).to_physical().cast(pl.Int64)


def _located(error: MatchInputError, frame: pl.DataFrame, name: str) -> MatchInputError:
    """An error of market_build (about a wish, by row) placed at its line; for a duplicate,
    the later line of the pair, naming the earlier one."""
    if error.wish is None:
        return error.located(file=name)
    row = frame.row(error.wish, named=True)
    line = int(row[ROW]) + 2
    if not error.duplicate:
        return error.located(file=name, line=line, column=error.column)
    key = "_rank" if error.column == "rank" else "_programme"
    pair = frame.filter(
        (pl.col("candidate_id") == row["candidate_id"]) & (pl.col(key) == row[key])
    )[ROW]
    lines = sorted(int(r) + 2 for r in pair)
    return MatchInputError(
        f"{error.vi} (thí sinh '{row['candidate_id']}', trùng với dòng {lines[0]})",
        f"{error.en} (candidate '{row['candidate_id']}', same as line {lines[0]})",
        file=name, line=lines[-1], column=error.column,
    )  # fmt: skip

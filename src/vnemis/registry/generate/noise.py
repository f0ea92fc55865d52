"""Damage applied to pupil records the way real files are damaged, with the truth kept beside.

Each kind has its own rate (a share of pupil rows): typing errors in names, names without
diacritics, names in NFD Unicode, day and month swapped in birth dates, citizen IDs left out or
mistyped. Duplicated pupils (one person enrolled in two schools) are made in ``pupils.py``; here
the copy gets a different spelling of the name. The typo step loops in Python over the damaged
rows only (a few percent); everything else is column-wise.
"""

import numpy as np
import polars as pl

from .config import NoiseConfig

# Keys next to each other on a Vietnamese (Telex) keyboard, for plausible substitutions.
NEIGHBOURS = {
    "a": "sq", "n": "bm", "h": "gj", "i": "uo", "o": "ip", "t": "ry", "u": "yi", "g": "fh",
    "m": "n", "c": "xv", "e": "wr", "r": "et", "l": "k", "y": "tu", "p": "o", "d": "sf",
    "v": "cb", "s": "ad", "k": "jl", "b": "vn", "q": "wa", "x": "zc",
}  # fmt: skip
TONE_SWAPS = {"ễ": "ế", "ế": "ễ", "ữ": "ứ", "ứ": "ữ", "ạ": "ả", "ả": "ạ", "ồ": "ổ", "ổ": "ồ", "à": "á", "á": "à", "ư": "u", "ơ": "o", "ă": "a", "â": "a", "ô": "o", "ê": "e"}  # fmt: skip


def typo(name: str, r1: float, r2: float) -> str:
    """One keyboard slip in a name: swap a neighbour key or tone, drop, double or transpose."""
    positions = [i for i, ch in enumerate(name) if ch != " "]
    i = positions[int(r1 * len(positions))]
    ch = name[i]
    kind = int(r2 * 4)
    if kind == 0:
        low = ch.lower()
        repl = (
            TONE_SWAPS.get(low)
            or (NEIGHBOURS.get(low, "e")[int(r2 * 97) % len(NEIGHBOURS.get(low, "e"))])
        )
        repl = repl.upper() if ch.isupper() else repl
        if repl == ch:
            repl = "e" if ch != "e" else "a"
        return name[:i] + repl + name[i + 1 :]
    if kind == 1 and len(positions) > 3:
        return name[:i] + name[i + 1 :]
    if kind == 2 and i + 1 < len(name) and name[i + 1] != " " and name[i + 1] != ch:
        return name[:i] + name[i + 1] + ch + name[i + 2 :]
    return name[:i] + ch + name[i:]


def strip_diacritics(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.normalize("NFD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all("đ", "d", literal=True)
        .str.replace_all("Đ", "D", literal=True)
    )


def _pick(rng: np.random.Generator, eligible: np.ndarray, rate: float) -> np.ndarray:
    """Rows to damage: the requested share of all rows, drawn among the eligible ones."""
    n = len(eligible)
    share = eligible.mean() if n else 0.0
    if share == 0 or rate == 0:
        return np.zeros(n, dtype=bool)
    return eligible & (rng.random(n) < min(1.0, rate / share))


def apply_noise(
    rng: np.random.Generator,
    pupils: pl.DataFrame,
    *,
    noise: NoiseConfig,
    duplicate: np.ndarray,
) -> tuple[pl.DataFrame, pl.Series]:
    """The damaged pupils frame, and per row the ';'-joined kinds of damage applied."""
    n = len(pupils)
    labels: dict[str, np.ndarray] = {}
    names = pupils["full_name"].clone()
    u = rng.random((n, 3))

    # A duplicate's name is always spelled differently from its original's.
    dup_style = np.where(duplicate, (u[:, 2] * 3).astype(np.int64), -1)
    # Fall back to a typo where the chosen variation would leave the name unchanged.
    words = names.str.count_matches(" ").to_numpy()
    unaccented = (names == pl.select(strip_diacritics(pl.lit(names))).to_series()).to_numpy()
    dup_style[((dup_style == 2) & (words < 2)) | ((dup_style == 1) & unaccented)] = 0
    typo_rows = _pick(rng, np.ones(n, dtype=bool), noise.typo) | (dup_style == 0)
    rows = np.flatnonzero(typo_rows)
    names = names.scatter(rows, [typo(names[int(i)], u[i, 0], u[i, 1]) for i in rows])
    labels["typo"] = typo_rows
    plain = _pick(rng, ~typo_rows, noise.no_diacritics) | (dup_style == 1)
    labels["no_diacritics"] = plain
    nfd = _pick(rng, ~plain, noise.nfd)
    labels["nfd"] = nfd
    dropped_middle = dup_style == 2
    labels["middle_name_dropped"] = dropped_middle

    birth = pupils["birth_date"]
    day, month = birth.dt.day().to_numpy(), birth.dt.month().to_numpy()
    swap = _pick(rng, (day <= 12) & (day != month), noise.date_swap)
    labels["date_swap"] = swap
    has_id = pupils["citizen_id"].is_not_null().to_numpy()
    missing = _pick(rng, has_id, noise.missing_citizen_id)
    labels["missing_citizen_id"] = missing
    wrong = _pick(rng, has_id & ~missing, noise.wrong_citizen_id)
    labels["wrong_citizen_id"] = wrong

    ids = pupils["citizen_id"].clone()
    rows = np.flatnonzero(wrong)
    ids = ids.scatter(rows, [_mistype_id(ids[int(i)], u[i, 0], u[i, 1]) for i in rows])
    ids = ids.scatter(np.flatnonzero(missing), None)

    frame = (
        pupils.with_columns(
            full_name=names,
            citizen_id=ids,
            _plain=pl.Series(plain),
            _nfd=pl.Series(nfd),
            _drop=pl.Series(dropped_middle),
            _swap=pl.Series(swap),
        )
        .with_columns(
            full_name=pl.when("_plain")
            .then(strip_diacritics(pl.col("full_name")))
            .when("_nfd")
            .then(pl.col("full_name").str.normalize("NFD"))
            .when("_drop")
            .then(
                pl.concat_str(
                    [
                        pl.col("full_name").str.split(" ").list.first(),
                        pl.col("full_name").str.split(" ").list.last(),
                    ],
                    separator=" ",
                )
            )
            .otherwise("full_name"),
            birth_date=pl.when("_swap")
            .then(
                pl.date(
                    pl.col("birth_date").dt.year(),
                    pl.col("birth_date").dt.day(),
                    pl.col("birth_date").dt.month(),
                )
            )
            .otherwise("birth_date"),
        )
        .drop("_plain", "_nfd", "_drop", "_swap")
    )
    label_frame = pl.DataFrame(labels | {"duplicate": duplicate})
    kinds = label_frame.select(
        pl.concat_str(
            [pl.when(pl.col(k)).then(pl.lit(k)) for k in label_frame.columns],
            separator=";",
            ignore_nulls=True,
        )
    ).to_series()
    return frame, kinds.replace("", None)


def _mistype_id(value: str, r1: float, r2: float) -> str:
    """A citizen ID with one slip: wrong sex/century digit, wrong year digit, or swapped digits."""
    kind = int(r1 * 3)
    digits = list(value)
    if kind == 0:
        digits[3] = str(int(digits[3]) ^ 1)  # male ↔ female
    elif kind == 1:
        digits[5] = str((int(digits[5]) + 1 + int(r2 * 8)) % 10)
    else:
        j = 6 + int(r2 * 5)
        if digits[j] == digits[j + 1]:
            digits[j] = str((int(digits[j]) + 1) % 10)
        else:
            digits[j], digits[j + 1] = digits[j + 1], digits[j]
    return "".join(digits)

"""Name parts for OneRoster: givenName and familyName are required, so neither may be empty.

A Vietnamese full name is family name + middle name(s) + given name (DOMAIN.md §4). The registry
stores the parts as its splitter made them, which leaves the family name empty for a one-word
name, and a record written by hand may hold parts that do not add up to the full name. The
export therefore writes the recorded parts when the family and the given name are both there
and the parts add up to the full name, and otherwise splits the full name again: first word the family name, last word the given
name, the words between the middle name; a one-word name is both the family and the given name
(the usual rostering practice for a mononym). ``metadata.vn.fullName`` carries the full name as
recorded, so the import can tell that repetition from a real two-word name (see ``full_name``).
"""

from __future__ import annotations

import polars as pl


def name_parts(full: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(family, middle, given) of a full name, family and given never empty (middle may be)."""
    words = full.str.strip_chars().str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
    n = words.list.len()
    middle = pl.when(n > 2).then(words.list.slice(1, n - 2).list.join(" ")).otherwise(None)
    return words.list.first(), middle, words.list.last()


def export_name_parts(
    full: pl.Expr, family: pl.Expr, middle: pl.Expr, given: pl.Expr
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """The (familyName, middleName, givenName) cells written for a person."""
    joined = pl.concat_str(
        [family.replace("", None), middle.replace("", None), given.replace("", None)],
        separator=" ",
        ignore_nulls=True,
    )
    recorded = (family.fill_null("") != "") & (given.fill_null("") != "") & (joined == full)
    recorded = recorded.fill_null(False)
    s_family, s_middle, s_given = name_parts(full)
    return (
        pl.when(recorded).then(family).otherwise(s_family),
        pl.when(recorded).then(middle.replace("", None)).otherwise(s_middle),
        pl.when(recorded).then(given).otherwise(s_given),
    )


def full_name(family: pl.Expr, middle: pl.Expr, given: pl.Expr, recorded: pl.Expr) -> pl.Expr:
    """The full name an imported row stands for.

    ``recorded`` is ``metadata.vn.fullName``. It is taken while the parts in the file are still
    the ones the export derives from it (so a mononym written twice comes back as one word);
    once another program has changed a part, the parts win: family + middle + given.
    """
    joined = pl.concat_str([family, middle, given], separator=" ", ignore_nulls=True)
    d_family, d_middle, d_given = name_parts(recorded)
    untouched = (
        (family == d_family) & middle.replace("", None).eq_missing(d_middle) & (given == d_given)
    )
    use_recorded = recorded.is_not_null() & ((joined == recorded) | untouched)
    return pl.when(use_recorded.fill_null(False)).then(recorded).otherwise(joined)

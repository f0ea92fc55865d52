"""Person name search by ordered index range scans over name-suffix keys.

A name query matches a person whose normalised name (``Person.name_search``) starts with it, or
contains it starting at a word ("van an" and "an" find "Nguyễn Văn An"; "an" also finds "Anh":
word-prefix semantics). Each person has one ``PersonNameKey`` per word of their name — the
suffix of the name from that word — so a match is exactly "some key starts with the query", and
the matches are one B-tree range ``key >= q AND key < q⁺`` read in (key, person_id) order.

Results are in that order (alphabetical by the matched part of the name), keyset-paged by
(key, person_id): page 10,000 costs what page 1 costs, and nothing ever collects all matches to
sort them — at national size a given name alone matches 200,000+ persons. A person whose name
matches at two words ("An An", "Nguyễn An Anh" for "an") is listed once, at the first matching
word: a key row is kept only if its position is that person's first match.

Scope is applied per batch of candidates, by the size of the viewer's scope:

- national (Ministry at the root, superuser): key scan, then one exact scope query per batch;
- Department: key scan restricted to its province's keys (index (province_code, key,
  person_id)), then the same exact check (enrolment or staff post under the Department);
- small scopes (school, university, teacher, citizen): from the scope's side — the persons in
  scope whose name matches, ordered by (name_search, id) — at most a few thousand rows.

Every call reads at most ``MAX_BATCHES`` batches; a page cut short still carries a cursor, so
the cost of a request is bounded whatever the data. Cursors are signed and bound to the query
and the way it was answered; a foreign or edited cursor raises ``CursorError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from django.db import transaction
from django.db.models import BooleanField, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL

from vnemis.core.pagination import CursorError, Page, decode_cursor, encode_cursor
from vnemis.orgs.models import Organisation, OrgClosure, User
from vnemis.orgs.scope import org_ids_in_scope, person_ids_in_scope

from .models import Enrolment, Person, StaffAssignment
from .models_search import PersonNameKey

BATCH = 200
MAX_BATCHES = 10
CURSOR_NAMESPACE = "persons.search"

# -- keys (pure) -------------------------------------------------------------------------------


def name_suffixes(name_search: str) -> list[tuple[int, str]]:
    """(word position, suffix of the name from that word): 'nguyen van an' → 0 'nguyen van an',
    1 'van an', 2 'an'. No keys for an empty name."""
    if not name_search:
        return []
    words = name_search.split(" ")
    return [(i, " ".join(words[i:])) for i in range(len(words))]


def name_keys_frame(df: pl.DataFrame) -> pl.DataFrame:
    """``name_suffixes`` for a whole frame (person_id, name_search, province_code) →
    (person_id, position, key, province_code), one row per key, in input then position order."""
    words = pl.col("name_search").str.split(" ")
    return (
        df.select("person_id", "name_search", "province_code")
        .filter(pl.col("name_search").is_not_null() & (pl.col("name_search") != ""))
        .with_columns(words.alias("_words"))
        .with_columns(pl.int_ranges(0, pl.col("_words").list.len()).alias("position"))
        .explode("position")
        .select(
            pl.col("person_id").cast(pl.Int64),
            pl.col("position").cast(pl.Int16),
            pl.col("_words").list.slice(pl.col("position")).list.join(" ").alias("key"),
            pl.col("province_code"),
        )
    )


def first_match_position(name_search: str, key: str) -> int | None:
    """The first word position at which ``name_search`` has a suffix starting with ``key``."""
    for position, suffix in name_suffixes(name_search):
        if suffix.startswith(key):
            return position
    return None


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (code-point order);
    None if there is none."""
    while prefix:
        code = ord(prefix[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored: skip to the next scalar
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:-1] + chr(code)
        prefix = prefix[:-1]
    return None


# -- keeping keys in step ----------------------------------------------------------------------


def person_keys_replace(person: Person) -> None:
    """Rewrite a person's keys from their current name and province (inside the caller's
    transaction: ``registry.actions`` person_create / person_update)."""
    with transaction.atomic():
        PersonNameKey.objects.filter(person_id=person.pk).delete()
        PersonNameKey.objects.bulk_create(
            PersonNameKey(
                person_id=person.pk,
                position=position,
                key=key,
                province_code=person.province_code,
            )
            for position, key in name_suffixes(person.name_search)
        )


# -- cursors -----------------------------------------------------------------------------------


def _cursor_encode(mode: str, key: str, sort_key: str, person_id: int) -> str:
    return encode_cursor([mode, key, sort_key, person_id], namespace=CURSOR_NAMESPACE)


def _cursor_decode(cursor: str, *, mode: str, key: str) -> tuple[str, int]:
    """(sort key, person id) of a cursor issued for this mode and search key; else CursorError."""
    values = decode_cursor(
        cursor,
        namespace=CURSOR_NAMESPACE,
        model=PersonNameKey,
        order=("key", "key", "key", "person"),
    )
    if values[:2] != [mode, key]:
        raise CursorError(cursor)
    return values[2], values[3]


# -- scope -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    kind: str  # "none", "all", "national", "province", "small"
    province: str = ""


def _scope(viewer: User) -> _Scope:
    if not viewer.is_authenticated:
        return _Scope("none")
    if viewer.is_superuser and viewer.scope_id is None:
        # An operator account reaches every person (as ``orgs.scope.is_unrestricted``).
        return _Scope("all")
    if viewer.role in (User.Role.TEACHER, User.Role.CITIZEN):
        return _Scope("small")
    if viewer.scope_id is None:
        return _Scope("none")
    org = (
        Organisation.objects.filter(pk=viewer.scope_id)
        .values_list("kind", "province__code")
        .first()
    )
    if org is None:
        return _Scope("none")
    kind, province = org
    if kind == Organisation.Kind.MINISTRY:
        return _Scope("national")
    if kind == Organisation.Kind.DEPARTMENT:
        return _Scope("province", province) if province else _Scope("national")
    return _Scope("small")


def _visible(viewer: User, scope: _Scope, ids: list[int]) -> set[int]:
    """Which of ``ids`` the viewer reaches (as ``orgs.scope.person_ids_in_scope``): everyone for
    an operator account, else an enrolment or a staff post at an organisation under the
    viewer's, probed per id through the closure (one query per batch, index look-ups only)."""
    if scope.kind == "all":
        return set(ids)
    if not ids:
        return set()
    under = OrgClosure.objects.filter(
        ancestor_id=viewer.scope_id, descendant_id=OuterRef("school_id")
    )
    pupils = Enrolment.objects.filter(Exists(under), pupil_id__in=ids)
    staff = StaffAssignment.objects.filter(Exists(under), person_id__in=ids)
    rows = pupils.values_list("pupil_id").union(staff.values_list("person_id"))
    return {row[0] for row in rows}


def _scope_person_ids(viewer: User, school: Organisation | None):
    """A sub-query of the persons a small scope reaches (optionally only those of ``school``),
    written so the database starts from the scope (a UNION, not an OR of two IN lists)."""
    if viewer.role in (User.Role.TEACHER, User.Role.CITIZEN):
        ids = person_ids_in_scope(viewer)
        if school is not None:
            at_school = (
                Enrolment.objects.filter(school=school)
                .values("pupil_id")
                .union(StaffAssignment.objects.filter(school=school).values("person_id"))
            )
            ids = Person.objects.filter(id__in=ids).filter(id__in=at_school).values("id")
        return ids
    orgs = [school.pk] if school is not None else org_ids_in_scope(viewer)
    return (
        Enrolment.objects.filter(school_id__in=orgs)
        .values("pupil_id")
        .union(StaffAssignment.objects.filter(school_id__in=orgs).values("person_id"))
    )


# -- queries -----------------------------------------------------------------------------------


def _after(table: str, first: str, second: str, cursor: tuple[str, int]) -> RawSQL:
    # A row comparison: an index condition on both engines, so deep pages start where they end.
    # Identifiers come from code; the cursor's values are parameters.
    return RawSQL(  # noqa: S611
        f'("{table}"."{first}", "{table}"."{second}") > (%s, %s)',
        cursor,
        output_field=BooleanField(),
    )


def key_scan_sql(key: str, scope: _Scope, after: tuple[str, int] | None) -> tuple[str, list]:
    """One batch of the key scan: persons with the matched key and its word position.

    The inner query is the predictable part: an ordered range scan of the key index from the
    cursor, ``LIMIT BATCH``, with no upper bound for the planner to misjudge (a range estimated
    at 100 rows that holds 7,000 made it read them all by bitmap and sort them). The LIMIT keeps
    the upper bound ``key < q⁺`` outside, so it only trims the batch before the join to persons.
    """
    upper = prefix_upper_bound(key)
    where, params = [], []
    if scope.kind == "province":
        where.append("province_code = %s")
        params.append(scope.province)
    where.append('("key", person_id) > (%s, %s)')
    params += list(after) if after is not None else [key, -1]
    outer = ""
    if upper is not None:
        outer = 'WHERE k."key" < %s'
        params.append(upper)
    sql = f"""
        SELECT p.*, k."key" AS matched_key, k."position" AS matched_position
        FROM (
            SELECT person_id, "key", "position" FROM registry_personnamekey
            WHERE {" AND ".join(where)}
            ORDER BY "key", person_id
            LIMIT {int(BATCH)}
        ) k
        JOIN registry_person p ON p.id = k.person_id
        {outer}
        ORDER BY k."key", k.person_id
    """  # noqa: S608 - fixed text; values are parameters
    return sql, params


def _search_keys(viewer: User, scope: _Scope, key: str, cursor: str | None, limit: int) -> Page:
    after = _cursor_decode(cursor, mode="k", key=key) if cursor else None
    found: list[Person] = []
    for _batch in range(MAX_BATCHES):
        # Persons with the key that matched (``matched_key``) and its word position.
        rows = list(Person.objects.raw(*key_scan_sql(key, scope, after)))
        first = [r for r in rows if first_match_position(r.name_search, key) == r.matched_position]
        visible = _visible(viewer, scope, [r.pk for r in first])
        for row in first:
            if row.pk in visible:
                found.append(row)
                if len(found) > limit:
                    last = found[limit - 1]
                    return Page(
                        items=found[:limit],
                        next_cursor=_cursor_encode("k", key, last.matched_key, last.pk),
                    )
        if len(rows) < BATCH:  # the index ran out, or past the last key with the prefix
            return Page(items=found, next_cursor=None)
        after = (rows[-1].matched_key, rows[-1].pk)
    # Bounded work per request: hand back what was found and where the scan stopped.
    return Page(items=found, next_cursor=_cursor_encode("k", key, *after))


def _search_scope(
    viewer: User, key: str, cursor: str | None, limit: int, school: Organisation | None
) -> Page:
    mode = f"s{school.pk}" if school is not None else "s"
    after = _cursor_decode(cursor, mode=mode, key=key) if cursor else None
    qs = Person.objects.filter(id__in=_scope_person_ids(viewer, school)).filter(
        Q(name_search__startswith=key) | Q(name_search__contains=" " + key)
    )
    if after is not None:
        qs = qs.filter(_after(Person._meta.db_table, "name_search", "id", after))
    rows = list(qs.order_by("name_search", "id")[: limit + 1])
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    last = rows[limit - 1]
    return Page(
        items=rows[:limit], next_cursor=_cursor_encode(mode, key, last.name_search, last.pk)
    )


def search_names(
    *,
    viewer: User,
    key: str,
    cursor: str | None = None,
    limit: int = 50,
    school: Organisation | None = None,
) -> Page:
    """Persons in the viewer's scope whose name matches the search key ``key`` (already
    normalised by ``core.text.search_key``), one page after ``cursor``; not audited (the
    selectors do that). ``school``, if given, must already be checked to be in scope."""
    if not key:
        return Page(items=[], next_cursor=None)
    scope = _scope(viewer)
    if scope.kind == "none":
        return Page(items=[], next_cursor=None)
    if scope.kind == "small" or school is not None:
        return _search_scope(viewer, key, cursor, limit, school)
    return _search_keys(viewer, scope, key, cursor, limit)


def search_education_id(*, viewer: User, education_id: str) -> list[Person]:
    """The person with this education ID, if in the viewer's scope: a unique-index look-up,
    then the same per-id scope check as a name search (never ``id IN (everyone in scope)``)."""
    person = Person.objects.filter(education_id=education_id).first()
    if person is None:
        return []
    scope = _scope(viewer)
    if scope.kind == "none":
        return []
    if scope.kind == "small":
        visible = Person.objects.filter(pk=person.pk, id__in=person_ids_in_scope(viewer)).exists()
    else:
        visible = person.pk in _visible(viewer, scope, [person.pk])
    return [person] if visible else []

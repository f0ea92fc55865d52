"""Name search by suffix keys (``registry.search``): keys, semantics, paging, scope, upkeep, plan."""

import importlib
from datetime import date

import polars as pl
import pytest
from conftest import make_pupil
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st
from test_loader import _write, make_dataset

from vnemis.core.pagination import CursorError
from vnemis.core.text import search_key
from vnemis.orgs.models import User
from vnemis.registry import actions, search, selectors
from vnemis.registry.loaders import dataset_load
from vnemis.registry.models import Enrolment, Person, PersonNameKey

# -- keys --------------------------------------------------------------------------------------


def test_name_suffixes():
    assert search.name_suffixes("nguyen van an") == [
        (0, "nguyen van an"),
        (1, "van an"),
        (2, "an"),
    ]
    assert search.name_suffixes("an") == [(0, "an")]
    assert search.name_suffixes("") == []


def test_first_match_position_and_upper_bound():
    assert search.first_match_position("an an", "an") == 0
    assert search.first_match_position("nguyen an anh", "an") == 1
    assert search.first_match_position("nguyen van anh", "an") == 2
    assert search.first_match_position("nguyen van an", "van an") == 1
    assert search.first_match_position("nguyen van an", "guyen") is None
    assert search.prefix_upper_bound("van an") == "van ao"
    assert search.prefix_upper_bound("a\U0010ffff") == "b"
    assert search.prefix_upper_bound("\ud7ff") == "\ue000"
    assert search.prefix_upper_bound("") is None


WORDS = st.text(alphabet=st.sampled_from("anhđĐươếỳ ÁÂ \t\u00a0xyz"), min_size=0, max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=8))
def test_polars_keys_equal_python(names):
    keys = [search_key(n) for n in names]
    frame = pl.DataFrame(
        {
            "person_id": list(range(1, len(keys) + 1)),
            "name_search": keys,
            "province_code": ["01"] * len(keys),
        }
    )
    got = search.name_keys_frame(frame).rows()
    expected = [
        (i, position, key, "01")
        for i, name in enumerate(keys, start=1)
        for position, key in search.name_suffixes(name)
    ]
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(WORDS, WORDS)
def test_a_key_match_is_the_word_prefix_rule(name, query):
    name, key = search_key(name), search_key(query)
    if not key:
        return
    old_rule = name.startswith(key) or (" " + key) in name
    assert (search.first_match_position(name, key) is not None) == old_rule


# -- fixtures ----------------------------------------------------------------------------------

AN_NAMES = [
    "An An",
    "Nguyễn An Anh",
    "Nguyễn Văn Anh",
    "Anh Thị Lan",
    "Trần Văn An",
    "Lê Thị Ân",
    "Phạm Ngọc Lan",  # no word starts with "an"
    "Đoàn Hân",  # "han": not a word prefix
]


@pytest.fixture
def many(tree, school_year, pupils):
    """Names with repeated and overlapping matches, in two schools of Hà Nội and one of Đà Nẵng."""
    made = []
    for i, name in enumerate(AN_NAMES * 3):
        school = [tree["a"], tree["b"], tree["c"]][i % 3]
        made.append(
            make_pupil(
                school=school,
                school_year=school_year,
                grade=3 if school.level == "primary" else 7,
                class_name="3C" if school.level == "primary" else "7C",
                full_name=name,
                birth_date=date(2016, 1 + i % 12, 1 + i),
            )
        )
    return made


def _walk(viewer, q, limit):
    """Every page of a search; (person ids in order, pages)."""
    seen, cursor, pages = [], None, 0
    while True:
        page = selectors.persons_search(viewer=viewer, q=q, after=cursor, limit=limit)
        seen += [p.pk for p in page.items]
        pages += 1
        assert pages < 200
        if page.next_cursor is None:
            return seen, pages
        cursor = page.next_cursor


def _expected(viewer, q):
    key = search_key(q)
    visible = selectors.persons_visible(viewer=viewer).values_list("id", "name_search")
    return {pk for pk, name in visible if search.first_match_position(name, key) is not None}


# -- semantics ---------------------------------------------------------------------------------


def test_diacritics_case_and_word_prefixes(users, many):
    ministry = users["ministry"]

    def names(q):
        return {p.full_name for p in selectors.persons_search(viewer=ministry, q=q).items}

    assert names("NGUYỄN văn an") == {"Nguyễn Văn An", "Nguyễn Văn Anh"}
    assert names("Nguyen Van An ") == names("nguyễn  văn   an") == names("NGUYEN VAN AN")
    # Word-prefix semantics: "van an" is also the start of "van anh".
    assert names("van an") == {"Nguyễn Văn An", "Trần Văn An", "Nguyễn Văn Anh"}
    assert names("văn anh") == {"Nguyễn Văn Anh"}
    assert names("an") == {
        "An An",
        "Nguyễn An Anh",
        "Nguyễn Văn Anh",
        "Anh Thị Lan",
        "Trần Văn An",
        "Lê Thị Ân",
        "Nguyễn Văn An",
    }
    assert names("guyen") == set()  # inside a word: no match
    assert names("han") == {"Đoàn Hân"}
    assert names("   ") == set()


def test_results_are_alphabetical_by_the_matched_part(users, many):
    page = selectors.persons_search(viewer=users["ministry"], q="an", limit=500)
    keys = []
    for person in page.items:
        position = search.first_match_position(person.name_search, "an")
        keys.append((search.name_suffixes(person.name_search)[position][1], person.pk))
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    "role", ["ministry", "department", "department_dn", "school", "school_c", "teacher", "system"]
)
@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_pages_walk_every_match_once(users, many, role, limit):
    viewer = users[role]
    seen, pages = _walk(viewer, "an", limit)
    assert len(seen) == len(set(seen))
    assert set(seen) == _expected(viewer, "an")
    assert pages == max(1, -(-len(seen) // limit))


def test_walk_is_exact_when_batches_are_tiny(users, many, monkeypatch):
    # Short batches, few of them: pages may come back short, but with a cursor, and the walk
    # still lists every match exactly once.
    monkeypatch.setattr(search, "BATCH", 2)
    monkeypatch.setattr(search, "MAX_BATCHES", 1)
    for role in ("ministry", "department"):
        seen, _pages = _walk(users[role], "an", 3)
        assert len(seen) == len(set(seen))
        assert set(seen) == _expected(users[role], "an")


def test_superuser_without_scope_sees_everyone(users, many, pupils):
    root = User.objects.create_superuser("root", password="pw")
    seen, _ = _walk(root, "an", 4)
    everyone = {
        pk
        for pk, name in Person.objects.values_list("id", "name_search")
        if search.first_match_position(name, "an") is not None
    }
    assert set(seen) == everyone and len(seen) == len(everyone)


# -- scope -------------------------------------------------------------------------------------


def test_scope_per_role(users, many, pupils):
    def names(role, q):
        return {p.full_name for p in selectors.persons_search(viewer=users[role], q=q).items}

    an = "Nguyễn Văn An"  # pupil of school A (Hà Nội), class 3A
    assert an in names("ministry", "nguyen van an")
    assert an in names("department", "nguyen van an")
    assert an not in names("department_dn", "nguyen van an")
    assert an in names("school", "nguyen van an")
    assert an not in names("school_c", "nguyen van an")
    assert names("teacher", "nguyen van an") == {an}  # homeroom teacher of 3A only
    assert names("teacher", "an an") == set()  # class 3C is not the teacher's
    assert names("citizen", "nguyen van an") == {an}  # their own record
    assert names("citizen", "an") == {an}
    assert names("citizen", "tran thi binh") == set()
    dn = {p.pk for p in selectors.persons_search(viewer=users["department_dn"], q="an").items}
    assert dn and dn == {p.pk for p in many if p.province_code == "48" and p.pk in dn}
    assert Enrolment.objects.filter(pupil_id__in=dn, school__code="48000101").count() == len(dn)


def test_department_sees_a_pupil_enrolled_in_its_province(users, many, tree, school_year):
    # Keys follow the person's province; the exact scope check keeps out everyone else.
    other = make_pupil(
        school=tree["c"],
        school_year=school_year,
        grade=3,
        class_name="3C",
        full_name="Ông Văn Khách",
        birth_date=date(2017, 5, 5),
    )
    Person.objects.filter(pk=other.pk).update(province_code="01")
    PersonNameKey.objects.filter(person=other).update(province_code="01")
    assert selectors.persons_search(viewer=users["department"], q="khach").items == []
    assert selectors.persons_search(viewer=users["department_dn"], q="khach").items == []
    assert selectors.persons_search(viewer=users["ministry"], q="khach").items == [other]


def test_education_id_lookup_is_scoped(users, pupils):
    eid = pupils["cuong"].education_id
    assert selectors.persons_search(viewer=users["ministry"], q=eid).items == [pupils["cuong"]]
    assert selectors.persons_search(viewer=users["department"], q=eid).items == []
    assert selectors.persons_search(viewer=users["school_c"], q=eid).items == [pupils["cuong"]]


def test_search_is_audited_with_the_page_ids(users, many):
    from vnemis.core.models import AuditEntry

    page = selectors.persons_search(viewer=users["ministry"], q="an", limit=3)
    entry = AuditEntry.objects.filter(object_type="person_list").latest("id")
    assert entry.detail["ids"] == [p.pk for p in page.items]


# -- cursors -----------------------------------------------------------------------------------


def test_cursor_is_bound_to_the_query_and_signed(users, many):
    ministry = users["ministry"]
    cursor = selectors.persons_search(viewer=ministry, q="an", limit=2).next_cursor
    assert cursor
    with pytest.raises(CursorError):
        selectors.persons_search(viewer=ministry, q="anh", after=cursor)
    with pytest.raises(CursorError):
        selectors.persons_search(viewer=ministry, q="an", after=cursor[:-3] + "abc")
    with pytest.raises(CursorError):  # a key-scan cursor is not a school's cursor
        selectors.persons_search(viewer=users["school"], q="an", after=cursor)


def test_api_search_pages_by_name(client, users, many):
    from vnemis.orgs.tokens import api_token_create

    _token, raw = api_token_create(user=users["ministry"], name="t")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    seen, cursor = [], None
    while True:
        params = {"q": "an", "limit": 4} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/persons", params, **headers).json()
        seen += [p["education_id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    expected = set(
        Person.objects.filter(id__in=_expected(users["ministry"], "an")).values_list(
            "education_id", flat=True
        )
    )
    assert len(seen) == len(set(seen)) and set(seen) == expected
    bad = client.get("/api/v1/persons", {"q": "anh", "cursor": cursor or "x"}, **headers)
    assert bad.status_code == 422


# -- keeping keys in step ----------------------------------------------------------------------


def _keys(person) -> list[tuple[int, str, str]]:
    return list(
        PersonNameKey.objects.filter(person=person)
        .order_by("position")
        .values_list("position", "key", "province_code")
    )


def test_keys_follow_create_and_update(users, pupils):
    an = pupils["an"]
    assert _keys(an) == [(0, "nguyen van an", "01"), (1, "van an", "01"), (2, "an", "01")]
    actions.person_update(actor=None, person=an, full_name="Nguyễn Văn Bình An")
    assert _keys(an) == [
        (0, "nguyen van binh an", "01"),
        (1, "van binh an", "01"),
        (2, "binh an", "01"),
        (3, "an", "01"),
    ]
    ministry = users["ministry"]
    assert selectors.persons_search(viewer=ministry, q="van an").items == []
    assert selectors.persons_search(viewer=ministry, q="binh an").items[0].pk == an.pk
    actions.person_update(actor=None, person=an, birth_place="Hà Nội")  # name unchanged
    assert len(_keys(an)) == 4


def test_keys_follow_the_loader(tree, tmp_path):
    directory = tmp_path / "ds"
    data = make_dataset(directory)
    dataset_load(directory=directory)
    persons = list(Person.objects.all())
    assert persons
    for person in persons:
        assert _keys(person) == [
            (p, k, person.province_code) for p, k in search.name_suffixes(person.name_search)
        ]
    ids_before = set(PersonNameKey.objects.values_list("id", flat=True))
    dataset_load(directory=directory)  # reload: nothing to change
    assert set(PersonNameKey.objects.values_list("id", flat=True)) == ids_before
    data["pupils"][2]["full_name"] = "Lê Hoàng Cường Anh"
    _write(directory, "pupils", data["pupils"])
    dataset_load(directory=directory)
    renamed = Enrolment.objects.get(pupil_code="HS002").pupil
    assert [k for _p, k, _c in _keys(renamed)] == [
        "le hoang cuong anh",
        "hoang cuong anh",
        "cuong anh",
        "anh",
    ]
    unchanged = Enrolment.objects.get(pupil_code="HS000").pupil
    assert set(PersonNameKey.objects.filter(person=unchanged).values_list("id", flat=True)) <= (
        ids_before
    )


def test_migration_backfill_builds_the_same_keys(users, pupils):
    migration = importlib.import_module("vnemis.registry.migrations.0006_person_name_keys")
    from django.apps import apps

    expected = sorted(PersonNameKey.objects.values_list("person_id", "position", "key"))
    PersonNameKey.objects.all().delete()

    class Editor:
        def __init__(self):
            self.connection = connection

        def execute(self, sql, params=None):
            with connection.cursor() as cur:
                cur.execute(sql, params)

    migration.backfill(apps, Editor())
    assert sorted(PersonNameKey.objects.values_list("person_id", "position", "key")) == expected


# -- the plan on PostgreSQL --------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL plans only")
@pytest.mark.parametrize("province", ["", "01"])
def test_plan_is_an_ordered_index_range_scan(users, many, province):
    scope = search._Scope("province", province) if province else search._Scope("national")
    sql, params = search.key_scan_sql("an", scope, ("an", 0))
    with connection.cursor() as cur:
        # A test database has a handful of rows, where a bitmap scan and a sort cost nothing: take
        # those away and check that the index alone serves the range in order (no Sort node).
        # At size the planner picks this plan by itself: the inner query has no upper bound for it
        # to misjudge (bench/search.py shows it at 1 M persons).
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    index = "person_name_key_province" if province else "person_name_key"
    assert f" using {index} on registry_personnamekey" in plan.lower(), plan
    assert "Sort" not in plan, plan

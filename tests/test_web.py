"""The web pages: every page renders for the roles it serves, and the scope matrix holds.

For each page: anonymous visitors are sent to log in, viewers outside the scope get 403 with a
message and none of the person's data, sensitive fields are shown only to roles allowed to read
them, and hot pages keep a bounded number of SQL queries.
"""

import html
import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from conftest import make_pupil
from django.core.cache import cache
from django.urls import reverse

from vnemis.core.models import AuditEntry
from vnemis.orgs.models import ApiToken
from vnemis.registry import views as registry_views
from vnemis.registry.models import (
    Enrolment,
    Ethnicity,
    HealthRecord,
    ResultSummary,
    SchoolClass,
    StaffAssignment,
    Subject,
    SubjectResult,
)

FULL_CCCD = "001217001234"


@pytest.fixture(autouse=True)
def _clear_cache():
    # Home figures are cached per scope; ids repeat between tests, so start every test empty.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def web(users, pupils, tree, school_year):
    """The conftest world plus what the pages show: staff, results, health, a second pupil."""
    an = pupils["an"]
    an.ethnicity = Ethnicity.objects.get(code="02")  # Tày: a marker that must stay hidden
    an.save(update_fields=["ethnicity"])
    enrolment = Enrolment.objects.get(pupil=an)
    math = Subject.objects.get(code="TOAN")
    SubjectResult.objects.create(
        enrolment=enrolment, subject=math, period="term1", score=Decimal("8.50"), rating="T"
    )
    ResultSummary.objects.create(
        enrolment=enrolment, period="term1", learning_rating="T", conduct_rating="K"
    )
    HealthRecord.objects.create(
        person=an,
        school=tree["a"],
        measured_on=date(2025, 10, 1),
        height_cm=Decimal("131.7"),
        weight_kg=Decimal("27.3"),
        bmi=Decimal("15.7"),
        eyesight_left=9,
        eyesight_right=10,
        province_code="01",
    )
    StaffAssignment.objects.create(
        person=users["teacher"].person,
        school=tree["a"],
        role="teacher",
        qualification="bachelor",
        contract_type="permanent",
        starts_on=date(2010, 9, 1),
        province_code="01",
    )
    # A second pupil of 3A: by family name Bùi comes before Nguyễn, by given name Yến after An,
    # so the roster order shows which one the page sorts by.
    make_pupil(
        school=tree["a"],
        school_year=school_year,
        grade=3,
        class_name="3A",
        full_name="Bùi Thị Yến",
        birth_date=date(2017, 8, 9),
    )
    return {"class_a": SchoolClass.objects.get(school=tree["a"], name="3A"), **pupils}


def _get(client, user, url):
    client.force_login(user)
    return client.get(url)


_CSRF_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+')


def body_of(response) -> str:
    """The page's HTML with its random CSRF tokens blanked, so "3A" or "1985" cannot match them."""
    return _CSRF_TOKEN.sub(r"\1", response.content.decode())


def person_url(person):
    return reverse("person_detail", args=[person.pk])


# --- Anonymous visitors and log-in ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/", "/schools/", "/schools/01000101/", "/classes/1/", "/persons/1/", "/search/?q=an"],
)
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_renders_in_vietnamese(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    body = body_of(response)
    assert '<html lang="vi">' in body
    assert "Đăng nhập" in body
    assert "/static/vendor/bootstrap.min.css" in body
    assert "cdn" not in body.lower()


def test_login_is_audited_and_logout_is_post(client, users):
    response = client.post(reverse("login"), {"username": "truong_a", "password": "pw"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    entry = AuditEntry.objects.filter(action="login").last()
    assert entry.actor == users["school"]
    assert entry.channel == "web"
    assert client.get(reverse("logout")).status_code == 405  # a link cannot log anyone out
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_shows_a_message(client, users):
    response = client.post(reverse("login"), {"username": "truong_a", "password": "nope"})
    assert response.status_code == 200
    assert "mật khẩu không đúng" in body_of(response)
    assert not AuditEntry.objects.filter(action="login").exists()


# --- Home per role --------------------------------------------------------------------------


def test_home_ministry_shows_national_figures_by_province(client, web, users):
    body = body_of(_get(client, users["ministry"], "/"))
    assert "Số liệu toàn quốc" in body
    assert "Thành phố Hà Nội" in body and "Thành phố Đà Nẵng" in body
    assert 'id="total-schools">3<' in body
    assert 'id="total-pupils">4<' in body
    assert 'id="total-staff">2<' in body  # the conftest teacher and the web fixture's principal
    assert "/rollover/" in body


def test_home_figures_are_cached(client, web, users, django_assert_max_num_queries):
    client.force_login(users["ministry"])
    client.get("/")
    with django_assert_max_num_queries(4):  # session, user, scope name, current year
        assert client.get("/").status_code == 200


def test_home_department_shows_its_province_and_levels(client, web, users):
    body = body_of(_get(client, users["department"], "/"))
    assert "Sở GD&amp;ĐT Hà Nội" in body
    assert "Tiểu học" in body and "Trung học cơ sở" in body
    assert "Thành phố Đà Nẵng" not in body
    assert 'id="total-schools">2<' in body
    assert 'id="total-pupils">3<' in body


def test_home_school_shows_classes_by_grade(client, web, users):
    body = body_of(_get(client, users["school"], "/"))
    assert "Trường Tiểu học Ba Đình" in body
    assert "Khối 3" in body
    assert reverse("class_detail", args=[web["class_a"].pk]) in body
    assert 'id="total-pupils">2<' in body


def test_home_teacher_lists_only_their_classes(client, web, users):
    body = body_of(_get(client, users["teacher"], "/"))
    assert "Lớp của tôi" in body
    assert reverse("class_detail", args=[web["class_a"].pk]) in body
    assert "7B" not in body
    assert "/rollover/" not in body


def test_home_citizen_links_to_their_own_record(client, web, users):
    body = body_of(_get(client, users["citizen"], "/"))
    assert person_url(web["an"]) in body
    assert "/schools/" not in body


def test_home_system_shows_token_prefix_and_api_docs(client, web, users):
    ApiToken.objects.create(
        user=users["system"], name="Phần mềm QLTH", prefix="ab12cd34", digest="0" * 64
    )
    body = body_of(_get(client, users["system"], "/"))
    assert "/api/v1/docs" in body
    assert "ab12cd34" in body and "Phần mềm QLTH" in body


# --- Schools --------------------------------------------------------------------------------


def test_school_list_is_scoped_and_filtered(client, web, users):
    body = body_of(_get(client, users["department"], "/schools/"))
    assert "01000101" in body and "01000102" in body
    assert "48000101" not in body
    body = body_of(client.get("/schools/?level=lower_secondary"))
    assert "01000102" in body and "01000101" not in body
    body = body_of(client.get("/schools/?q=ba dinh"))  # diacritics ignored
    assert "01000101" in body and "01000102" not in body
    body = body_of(client.get("/schools/?province=01&commune=09619"))
    assert "01000102" in body and "01000101" not in body
    body = body_of(client.get("/schools/?ownership=private"))
    assert "01000101" not in body


def test_school_list_keyset_pagination(client, web, users, monkeypatch):
    monkeypatch.setattr(registry_views, "PAGE_SIZE", 1)

    def codes(url):
        body = body_of(client.get(url))
        shown = [c for c in ("01000101", "01000102", "48000101") if f"<td>{c}</td>" in body]
        return shown, body

    client.force_login(users["ministry"])
    shown, body = codes("/schools/")
    assert shown == ["01000101"] and 'href="?after=01000101"' in body
    shown, body = codes("/schools/?after=01000101")
    assert shown == ["01000102"] and 'href="?after=01000102"' in body
    shown, body = codes("/schools/?after=01000102")
    assert shown == ["48000101"] and 'rel="next"' not in body


def test_commune_fragment_for_htmx(client, web, users):
    client.force_login(users["department"])
    body = body_of(client.get("/schools/communes/?province=01", HTTP_HX_REQUEST="true"))
    assert "Xã Sóc Sơn" in body and "<html" not in body
    # A Department is offered only its own province's communes.
    assert "Phường Hải Châu" not in body_of(client.get("/schools/communes/?province=48"))


def test_school_list_refused_to_citizens(client, web, users):
    response = _get(client, users["citizen"], "/schools/")
    assert response.status_code == 403


def test_school_page_shows_classes_staff_and_counts(client, web, users):
    body = body_of(_get(client, users["school"], "/schools/01000101/"))
    assert "3A" in body
    assert "Phạm Thị Hoa" in body and "Giáo viên" in body
    assert "Nam" in body and "Nữ" in body
    assert '<td class="num">2</td>' in body  # two pupils in 3A
    # Staff list: names and roles only, nothing sensitive about staff.
    assert "1985" not in body


def test_school_page_outside_scope_is_refused(client, web, users):
    response = _get(client, users["school_c"], "/schools/01000101/")
    assert response.status_code == 403
    body = body_of(response)
    assert "ngoài phạm vi" in body
    assert "Trường Tiểu học Ba Đình" not in body and "3A" not in body


# --- Class roster ---------------------------------------------------------------------------


def test_roster_sorted_by_given_name_with_status_and_links(client, web, users):
    body = body_of(_get(client, users["school"], f"/classes/{web['class_a'].pk}/"))
    assert body.index("Nguyễn Văn An") < body.index("Bùi Thị Yến")
    assert "Đang học" in body
    assert person_url(web["an"]) in body
    assert "14/03/2017" in body  # dd/mm/yyyy


def _add_pupils(tree, school_year, *, class_name: str, name: str, month: int, count: int = 15):
    """``count`` grade-3 pupils of school A named ``name A``, ``name B``..."""
    for i in range(count):
        make_pupil(
            school=tree["a"],
            school_year=school_year,
            grade=3,
            class_name=class_name,
            full_name=f"{name} {chr(65 + i)}",
            birth_date=date(2017, month, 1 + i),
        )


def test_roster_query_count_is_bounded(
    client, web, users, tree, school_year, django_assert_max_num_queries
):
    _add_pupils(tree, school_year, class_name="3A", name="Vũ Minh Khôi", month=1)
    client.force_login(users["school"])
    # Session, user, scope (nav), class twice (page and roster check), roster, audit append
    # (lock, last hash, insert, savepoints): the same for 2 pupils or 2,000.
    with django_assert_max_num_queries(12):
        response = client.get(f"/classes/{web['class_a'].pk}/")
    assert body_of(response).count("/persons/") == 17


def test_roster_outside_scope_is_refused(client, web, users):
    url = f"/classes/{web['class_a'].pk}/"
    for role in ("school_c", "department_dn"):
        response = _get(client, users[role], url)
        assert response.status_code == 403
        assert "Nguyễn Văn An" not in body_of(response)


def test_teacher_sees_only_their_class(client, web, users):
    assert _get(client, users["teacher"], f"/classes/{web['class_a'].pk}/").status_code == 200
    other = SchoolClass.objects.get(name="7B")
    assert client.get(f"/classes/{other.pk}/").status_code == 403
    assert client.get(person_url(web["binh"])).status_code == 403
    assert client.get(person_url(web["an"])).status_code == 200


# --- Pupil page -----------------------------------------------------------------------------


def test_pupil_page_for_school_shows_sensitive_data_and_masks_cccd(client, web, users):
    body = body_of(_get(client, users["school"], person_url(web["an"])))
    assert "Nguyễn Văn An" in body
    assert web["an"].education_id in body
    assert "•••••••••234" in body
    assert FULL_CCCD not in body
    assert "Tày" in body  # ethnicity
    assert "131.7" in body or "131,7" in body  # health record
    assert "14/03/2017" in body
    assert "2025-2026" in body
    assert "Toán" in body and "8,5" in body and "Hoàn thành tốt" in body
    assert "Khá" in body  # conduct rating


@pytest.mark.parametrize("role", ["department", "ministry"])
def test_pupil_page_hides_health_and_ethnicity_from_aggregate_roles(client, web, users, role):
    response = _get(client, users[role], person_url(web["an"]))
    assert response.status_code == 200
    body = body_of(response)
    assert "Nguyễn Văn An" in body
    assert "Tày" not in body
    assert "131" not in body and "Sức khoẻ</h2>" not in body
    assert 'id="sensitive-hidden"' in body
    assert FULL_CCCD not in body


@pytest.mark.parametrize("role", ["school_c", "department_dn"])
def test_pupil_page_outside_scope_refused_without_personal_data(client, web, users, role):
    before = AuditEntry.objects.filter(object_type="person", action="read").count()
    response = _get(client, users[role], person_url(web["an"]))
    assert response.status_code == 403
    body = body_of(response)
    assert "Hồ sơ không tồn tại hoặc nằm ngoài phạm vi của bạn." in body
    for leaked in ("Nguyễn Văn An", web["an"].education_id, "234", "14/03/2017", "Tày"):
        assert leaked not in body
    assert AuditEntry.objects.filter(object_type="person", action="read").count() == before


def test_citizen_sees_only_their_own_record(client, web, users):
    response = _get(client, users["citizen"], person_url(web["an"]))
    assert response.status_code == 200
    assert "Tày" in body_of(response)  # their own sensitive data
    response = client.get(person_url(web["binh"]))
    assert response.status_code == 403
    assert "Trần Thị Bình" not in body_of(response)


def test_viewing_a_pupil_page_is_audited(client, web, users):
    client.force_login(users["school"])
    before = AuditEntry.objects.filter(object_type="person", object_id=str(web["an"].pk)).count()
    client.get(person_url(web["an"]))
    entries = AuditEntry.objects.filter(object_type="person", object_id=str(web["an"].pk))
    assert entries.count() == before + 1
    entry = entries.last()
    assert entry.actor == users["school"] and entry.action == "read" and entry.channel == "web"


def test_unknown_person_is_refused_like_out_of_scope(client, web, users):
    assert _get(client, users["school"], "/persons/999999/").status_code == 403


# --- Search ---------------------------------------------------------------------------------


def test_search_ignores_diacritics_and_case(client, web, users):
    client.force_login(users["school"])
    for q in ("nguyen van an", "NGUYỄN VĂN AN", "van an"):
        body = body_of(client.get("/search/", {"q": q}))
        assert "Nguyễn Văn An" in body, q


def test_search_by_education_id(client, web, users):
    body = body_of(_get(client, users["school"], f"/search/?q={web['an'].education_id}"))
    assert "Nguyễn Văn An" in body


def test_search_is_scoped(client, web, users):
    body = body_of(_get(client, users["department_dn"], "/search/?q=nguyen"))
    assert "Nguyễn Văn An" not in body
    assert "Không tìm thấy" in body
    body = body_of(_get(client, users["citizen"], "/search/?q=tran thi binh"))
    assert "Trần Thị Bình" not in body


def test_search_keyset_pagination(client, web, users, monkeypatch):
    monkeypatch.setattr(registry_views, "PAGE_SIZE", 1)
    client.force_login(users["ministry"])
    # Alphabetical by the matched part ("van an" < "van cuong"); ``after`` is an opaque cursor.
    body = body_of(client.get("/search/", {"q": "van"}))
    assert "Nguyễn Văn An" in body and "Lê Văn Cường" not in body
    after = html.unescape(re.search(r'href="\?[^"]*after=([^"&]+)', body).group(1))
    body = body_of(client.get("/search/", {"q": "van", "after": unquote(after)}))
    assert "Lê Văn Cường" in body and "Nguyễn Văn An" not in body
    assert 'rel="next"' not in body
    # A cursor that was not issued for this search starts again from the first page.
    body = body_of(client.get("/search/", {"q": "van", "after": "forged"}))
    assert "Nguyễn Văn An" in body


def test_search_query_count_is_bounded(
    client, web, users, tree, school_year, django_assert_max_num_queries
):
    _add_pupils(tree, school_year, class_name="3B", name="Nguyễn Minh", month=2)
    client.force_login(users["school"])
    # Session, user, scope (nav), one scoped search, audit append: independent of the hits.
    with django_assert_max_num_queries(12):
        body = body_of(client.get("/search/", {"q": "nguyen"}))
    assert body.count("/persons/") == 16


# --- Language ------------------------------------------------------------------------------


def test_english_switch_translates_the_nav(client, web, users):
    client.force_login(users["school"])
    body = body_of(client.get("/"))
    assert "Trang chủ" in body and "Đăng xuất" in body
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = body_of(client.get("/"))
    assert '<html lang="en">' in body
    assert ">Home<" in body and "Log out" in body and "Schools" in body
    assert "Đăng xuất" not in body
    # Model choice labels and selector messages are translated too.
    assert "Studying" in body_of(client.get(f"/classes/{web['class_a'].pk}/"))
    body = body_of(_get(client, users["school_c"], person_url(web["an"])))
    assert "outside your scope" in body


def _po_entries():
    """The entries of the English django.po: msgctxt, msgid, msgid_plural, msgstr (a list, one
    per plural form) and flags; the header (empty msgid) is left out."""
    import ast
    from pathlib import Path

    from django.conf import settings

    path = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES" / "django.po"
    entries, current, key = [], {"flags": []}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        keyword, _, literal = line.partition(" ")
        if keyword in ("msgctxt", "msgid", "msgid_plural") or keyword.startswith("msgstr"):
            key = keyword
            current.setdefault(key, []).append(ast.literal_eval(literal))
        elif line.startswith('"') and key:
            current[key].append(ast.literal_eval(line))
        elif line.startswith("#,"):
            current["flags"] += [flag.strip() for flag in line[2:].split(",")]
        elif not line.strip() and "msgid" in current:
            entry = {k: "".join(v) for k, v in current.items() if k != "flags"}
            entry["msgstr"] = [entry.pop(k) for k in sorted(entry) if k.startswith("msgstr")]
            entry["flags"] = current["flags"]
            if entry["msgid"]:
                entries.append(entry)
            current, key = {"flags": []}, None
    return entries


def test_compiled_english_catalogue_matches_the_po_file():
    """The committed django.mo is what django.po says (fresh machines have no msgfmt)."""
    import gettext
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.LOCALE_PATHS[0]) / "en" / "LC_MESSAGES"
    with (folder / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    translated = [e for e in _po_entries() if all(e["msgstr"])]
    assert len(translated) > 200

    def compiled_forms(e):
        context, msgid = e.get("msgctxt"), e["msgid"]
        if "msgid_plural" in e:
            plural = e["msgid_plural"]
            if context is not None:
                return [compiled.npgettext(context, msgid, plural, n) for n in (1, 2)]
            return [compiled.ngettext(msgid, plural, n) for n in (1, 2)]
        return [
            compiled.pgettext(context, msgid) if context is not None else compiled.gettext(msgid)
        ]

    stale = [e["msgid"] for e in translated if compiled_forms(e) != e["msgstr"]]
    assert stale == [], "run: msgfmt --check -o django.mo django.po"


def test_english_catalogue_has_no_untranslated_or_fuzzy_entries():
    """Every string marked for translation has a checked English form (plurals: every form)."""
    entries = _po_entries()
    assert len(entries) > 200
    untranslated = [e["msgid"] for e in entries if not e["msgstr"] or not all(e["msgstr"])]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert untranslated == [], "translate these in django.po, then msgfmt --check"
    assert fuzzy == [], "check these translations in django.po and remove the fuzzy flag"


_VIETNAMESE_LETTER = re.compile(
    "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.IGNORECASE
)


class _VisibleText(HTMLParser):
    """Text a reader sees or hears: text nodes and the title, aria-label, placeholder, alt and
    value attributes; not scripts, styles or anything inside an element marked lang="vi" (the
    language button says "Tiếng Việt" in every language)."""

    VOID = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"))
    ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "value")

    def __init__(self):
        super().__init__()
        self.open, self.texts = [], []

    def _hidden(self):
        return any(tag in ("script", "style") or lang == "vi" for tag, lang in self.open)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in self.VOID:
            self.open.append((tag, attrs.get("lang")))
        if not self._hidden() and attrs.get("lang") != "vi":
            self.texts += [attrs[a] for a in self.ATTRIBUTES if attrs.get(a)]

    def handle_endtag(self, tag):
        if any(t == tag for t, _ in self.open):
            while self.open.pop()[0] != tag:
                pass

    def handle_data(self, data):
        if data.strip() and not self._hidden():
            self.texts.append(data.strip())


def test_english_pages_leave_no_vietnamese_in_the_interface(
    client, users, tree, school_year, settings, tmp_path, django_capture_on_commit_callbacks
):
    """In English, the data-exchange pages (imports, the data standard, period submissions)
    show Vietnamese only in data: names of organisations, places and people."""
    import csv

    from django.conf import settings as django_settings

    from vnemis.exchange import submissions as submission_actions
    from vnemis.exchange.models import ReportingPeriod, Submission
    from vnemis.geo.models import Commune, Province
    from vnemis.orgs.models import Organisation
    from vnemis.registry.models import Person

    settings.VAR_DIR = tmp_path / "var"
    made = submission_actions.reporting_periods_create(
        school_year=school_year, actor=users["ministry"]
    )
    period = {p.kind: p for p in made}[ReportingPeriod.Kind.START_OF_YEAR]
    sub = Submission.objects.get(school=tree["a"], period=period)
    school_page = f"/exchange/submissions/school/{tree['a'].code}/"
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    seen = {}

    def visit(role, method, url, data=None, **extra):
        client.force_login(users[role])
        response = getattr(client, method)(url, data or {}, follow=True, **extra)
        assert response.status_code == 200, url
        seen[f"{role} {method.upper()} {url}"] = body_of(response)
        return response

    upload = tmp_path / "roster.csv"
    header = "school_code pupil_code full_name birth_date sex ethnicity_code nationality"
    header += " school_year class_name status started_on"
    with upload.open("w", newline="", encoding="utf-8") as handle:
        rows = csv.writer(handle)
        rows.writerow(header.split())
        for code, name, born in (("HS1", "Lê Minh Khoa", "2017-13-45"), ("HS2", "Vũ Đức Anh", "")):
            rows.writerow(
                [
                    tree["a"].code,
                    code,
                    name,
                    born,
                    "M",
                    "01",
                    "VN",
                    "2025-2026",
                    "3A",
                    "studying",
                    "2025-09-05",
                ]
            )
    client.force_login(users["school"])
    with django_capture_on_commit_callbacks(execute=True), upload.open("rb") as handle:
        job_url = client.post(
            reverse("import_new"),
            {"file": handle, "entity": "", "mode": "apply_valid"},
            HTTP_X_REQUESTED_WITH="XMLHttpRequest",
        ).json()["url"]
    assert "import-errors" in body_of(visit("school", "get", job_url))
    visit("school", "get", reverse("import_list"))
    visit("school", "get", reverse("import_new"))
    visit("school", "get", reverse("exchange_standard"))
    visit("school", "post", f"{school_page}{period.pk}/check/")
    visit("school", "post", f"{school_page}{period.pk}/submit/")  # the confirmation step
    visit("school", "post", f"{school_page}{period.pk}/submit/", {"confirmed": "1"})
    visit("department", "get", reverse("submission_overview"), {"period": period.pk})
    visit("department", "get", f"/exchange/submissions/{sub.pk}/")
    visit("department", "post", f"/exchange/submissions/{sub.pk}/approve/")
    visit("department", "post", f"/exchange/submissions/{sub.pk}/return/", {"reason": "3B?"})
    visit(
        "department",
        "post",
        f"/exchange/submissions/{sub.pk}/return/",
        {"reason": "Class 3B is missing.", "confirmed": "1"},
    )
    visit("department", "get", reverse("submission_remind"), {"period": period.pk})
    with django_capture_on_commit_callbacks(execute=True):
        visit(
            "department",
            "post",
            reverse("submission_remind"),
            {"period": period.pk, "confirmed": "1"},
        )
    page = body_of(visit("school", "get", school_page))
    assert "Class 3B is missing." in page and 'data-reminder="' in page
    visit("ministry", "get", reverse("submission_overview"), {"period": period.pk})
    visit(
        "ministry", "get", reverse("submission_overview"), {"period": period.pk, "province": "01"}
    )

    data = {
        *Organisation.objects.values_list("name", flat=True),
        *Province.objects.values_list("name", flat=True),
        *Commune.objects.values_list("name", flat=True),
        *(p.full_name for p in Person.objects.all()),
    }
    data = sorted(data, key=len, reverse=True)
    left = {}
    for page_name, body in seen.items():
        parser = _VisibleText()
        parser.feed(body)
        for text in parser.texts:
            chrome = text
            for value in data:
                chrome = chrome.replace(value, "")
            if _VIETNAMESE_LETTER.search(chrome):
                left.setdefault(page_name, []).append(text)
    assert left == {}, "mark these for translation and translate them in django.po"

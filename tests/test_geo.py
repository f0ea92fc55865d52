"""Loading administrative units and the old→new mapping; reading old-map data on today's map;
seeding the Ministry and Departments.

The full load takes about a second, so it runs once per module (committed, removed at the end);
tests that load again run inside their own rolled-back transaction.
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Q

from vnemis.core.models import AuditEntry
from vnemis.geo.loaders import GeoDataError, default_data_dir, geo_load, read_converter
from vnemis.geo.models import (
    Commune,
    LegacyCommune,
    LegacyCommuneMapping,
    LegacyDistrict,
    LegacyProvince,
    LegacyProvinceMapping,
    Province,
)
from vnemis.geo.selectors import (
    current_commune_for_legacy,
    current_province_for_legacy,
    legacy_commune_to_current_map,
)
from vnemis.orgs.models import Organisation, OrgClosure
from vnemis.orgs.seed import SeedError, department_name, orgs_seed

GEO_MODELS = [
    LegacyCommuneMapping,
    LegacyProvinceMapping,
    LegacyCommune,
    LegacyDistrict,
    LegacyProvince,
    Commune,
    Province,
]


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    """The real data, loaded once for the module and removed afterwards for other modules."""
    with django_db_blocker.unblock():
        report = geo_load()
    yield report
    with django_db_blocker.unblock():
        for model in GEO_MODELS:
            model.objects.all().delete()


def table_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in GEO_MODELS}


# --------------------------------------------------------------------------- the load


def test_full_load_counts(loaded, db):
    assert Province.objects.count() == 34
    assert Commune.objects.count() == 3321
    assert LegacyProvince.objects.count() == 63
    assert LegacyDistrict.objects.count() == 696
    assert LegacyCommune.objects.count() == 10035
    kinds = dict(Commune.objects.values_list("kind").annotate(n=Count("id")))
    assert kinds == {"xa": 2621, "phuong": 687, "dac_khu": 13}
    assert Province.objects.get(code="01").name == "Thành phố Hà Nội"
    assert Commune.objects.get(code="00097").name == "Phường Hồng Hà"

    assert loaded.tables["commune"].created == 3321
    assert loaded.legacy_communes_mapped == loaded.legacy_communes == 10035
    assert loaded.unmapped_legacy_communes == []
    assert loaded.unmatched_new_wards == []
    assert loaded.unknown_legacy_keys == []
    assert loaded.defaults_repaired == []
    # Island districts without a commune level (Bạch Long Vĩ, Cồn Cỏ, Hoàng Sa, Lý Sơn, Côn Đảo).
    assert len(loaded.wardless_districts) == 5
    assert loaded.seconds < 30


def test_second_run_changes_nothing(loaded, db):
    before = table_counts()
    report = geo_load()
    assert report.changed == 0
    assert report.tables["legacy_commune_mapping"].unchanged == loaded.mapping_rows
    assert table_counts() == before


def test_rerun_repairs_drift(loaded, db):
    """Edited names, a moved default and a stray mapping row are all put back."""
    Commune.objects.filter(code="00097").update(name="Phường Sai Tên")
    hoa_lien = LegacyCommune.objects.get(code="20296")
    LegacyCommuneMapping.objects.filter(legacy_commune=hoa_lien).update(is_default=False)
    LegacyCommuneMapping.objects.filter(legacy_commune=hoa_lien, commune__code="20195").update(
        is_default=True
    )
    LegacyCommuneMapping.objects.create(
        legacy_commune=hoa_lien, commune=Commune.objects.get(code="00097")
    )

    report = geo_load()

    assert report.tables["commune"].updated == 1
    assert report.tables["legacy_commune_mapping"].updated == 2
    assert report.tables["legacy_commune_mapping"].deleted == 1
    assert Commune.objects.get(code="00097").name == "Phường Hồng Hà"
    assert current_commune_for_legacy("20296").code == "20197"
    assert hoa_lien.successors.count() == 2


# --------------------------------------------------------------------------- the mapping


def test_known_mappings(loaded, db):
    # Hải Dương merged into Hải Phòng, which kept its code 31.
    tran_hung_dao = current_commune_for_legacy("10525")  # Phường Trần Hưng Đạo, TP Hải Dương
    assert (tran_hung_dao.name, tran_hung_dao.province.code) == ("Phường Hải Dương", "31")
    assert current_commune_for_legacy("00001").name == "Phường Hồng Hà"  # Phúc Xá, Ba Đình
    assert current_commune_for_legacy(1).code == "00097"  # leading zeros lost in old files
    # Tiền Giang (old 82) went whole into Đồng Tháp (new 82), Long An (old 80) into Tây Ninh
    # (new 80): the converter data has no old province split across two new ones.
    assert current_commune_for_legacy("28261").name == "Phường Mỹ Tho"
    assert current_commune_for_legacy("27694").province.code == "80"
    assert [p.code for p in current_province_for_legacy("82")] == ["82"]
    assert [p.code for p in current_province_for_legacy("80")] == ["80"]
    assert [p.code for p in current_province_for_legacy("30")] == ["31"]
    assert current_province_for_legacy("99") == []
    assert current_commune_for_legacy("99999") is None
    assert set(
        Province.objects.get(code="31").predecessors.values_list("legacy_province__code", flat=True)
    ) == {"30", "31"}
    # Xã Hòa Liên was split: Liên Chiểu by default, part went to Hải Vân.
    parts = dict(
        LegacyCommuneMapping.objects.filter(legacy_commune__code="20296").values_list(
            "commune__code", "is_default"
        )
    )
    assert parts == {"20197": True, "20195": False}
    # Matched by name, not by the dataset's code, which is swapped between these neighbours.
    assert current_commune_for_legacy("01537").name == "Xã Lý Quốc"


def test_every_old_commune_has_exactly_one_default(loaded, db):
    counts = LegacyCommune.objects.annotate(
        defaults=Count("successors", filter=Q(successors__is_default=True)),
        parts=Count("successors"),
    )
    assert not counts.exclude(defaults=1).exists()
    assert counts.filter(parts__gt=1).count() == loaded.legacy_communes_split == 471
    assert LegacyProvince.objects.annotate(n=Count("successors")).filter(n=0).count() == 0


def test_legacy_map_is_one_query(loaded, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        mapping = legacy_commune_to_current_map()
    assert len(mapping) == 10035
    assert mapping["10525"] == "10525"
    assert mapping["20296"] == "20197"
    assert set(mapping.values()) <= set(Commune.objects.values_list("code", flat=True))


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"DICT_PROVINCE": {}}), r"lacks section\(s\) DICT_PROVINCE_WARD_NO_DIVIDED"),
        (
            json.dumps(
                {
                    "DICT_PROVINCE": ["x"],
                    "DICT_PROVINCE_WARD_NO_DIVIDED": {},
                    "DICT_PROVINCE_WARD_DIVIDED": {},
                }
            ),
            "Section DICT_PROVINCE",
        ),
    ],
)
def test_malformed_converter_is_refused(tmp_path, content, message):
    path = tmp_path / "converter.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(GeoDataError, match=message) as info:
        read_converter(path)
    assert str(path) in str(info.value)


def test_bad_sources_change_nothing(db, tmp_path):
    before = table_counts()
    corrupt_json = tmp_path / "converter.json"
    corrupt_json.write_text("[1, 2", encoding="utf-8")
    with pytest.raises(GeoDataError, match="không phải JSON hợp lệ"):
        geo_load(converter_path=corrupt_json)
    corrupt_db = tmp_path / "dataset.db"
    corrupt_db.write_bytes(b"this is not an SQLite file" * 100)
    with pytest.raises(GeoDataError, match="corrupt"):
        geo_load(dataset_path=corrupt_db)
    with pytest.raises(GeoDataError, match="not found"):
        geo_load(dataset_path=tmp_path / "missing.db")
    assert table_counts() == before


def test_command_reports_and_fails_cleanly(loaded, db, tmp_path):
    out = StringIO()
    call_command("geo", "load", stdout=out)
    assert "0 row(s) changed" in out.getvalue()
    assert "10035/10035" in out.getvalue()
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not found"):
        call_command("geo", "load", "--converter", str(tmp_path / "none.json"))


def test_data_files_are_found():
    data_dir = default_data_dir()
    assert (data_dir / "dataset.db").is_file()
    assert (data_dir / "converter_2025.json").is_file()


# --------------------------------------------------------------------------- the seed


def test_seed_creates_ministry_and_departments(loaded, db):
    report = orgs_seed()
    assert (report.created, report.updated) == (35, 0)
    assert Organisation.objects.count() == 35
    moet = Organisation.objects.get(code="BGDDT")
    assert (moet.name, moet.kind, moet.parent_id) == ("Bộ Giáo dục và Đào tạo", "ministry", None)
    hn = Organisation.objects.get(code="SGD01")
    assert hn.name == "Sở Giáo dục và Đào tạo Hà Nội"
    assert hn.name_search == "so giao duc va dao tao ha noi"
    assert (hn.kind, hn.parent_id, hn.province.code) == ("department", moet.pk, "01")
    assert Organisation.objects.get(code="SGD04").name == "Sở Giáo dục và Đào tạo Cao Bằng"
    assert (
        Organisation.objects.filter(kind="department", parent=moet).count()
        == Province.objects.count()
        == 34
    )
    # Closure: each organisation with itself, and the Ministry above each Department.
    assert OrgClosure.objects.count() == report.closure_rows == 35 + 34
    assert OrgClosure.objects.filter(ancestor=moet).count() == 35
    assert set(OrgClosure.objects.filter(descendant=hn).values_list("ancestor_id", "depth")) == {
        (hn.pk, 0),
        (moet.pk, 1),
    }
    assert AuditEntry.objects.filter(object_type="organisation", action="create").count() == 35

    again = orgs_seed()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 35)
    assert again.closure_rows is None
    assert OrgClosure.objects.count() == 69

    Organisation.objects.filter(code="SGD48").update(name="Sở GD&ĐT ĐN")
    fixed = orgs_seed()
    assert (fixed.created, fixed.updated) == (0, 1)
    assert Organisation.objects.get(code="SGD48").name == "Sở Giáo dục và Đào tạo Đà Nẵng"


def test_seed_command(loaded, db):
    out = StringIO()
    call_command("orgs", "seed", stdout=out)
    assert "created 35" in out.getvalue()


def test_seed_needs_provinces(loaded, db):
    for model in GEO_MODELS:
        model.objects.all().delete()  # rolled back with the test
    with pytest.raises(SeedError, match="vnemis geo load"):
        orgs_seed()
    assert not Organisation.objects.exists()


def test_department_name():
    assert department_name("Thành phố Hồ Chí Minh") == "Sở Giáo dục và Đào tạo Hồ Chí Minh"
    assert department_name("Tỉnh Gia Lai") == "Sở Giáo dục và Đào tạo Gia Lai"
    assert department_name("Gia Lai") == "Sở Giáo dục và Đào tạo Gia Lai"

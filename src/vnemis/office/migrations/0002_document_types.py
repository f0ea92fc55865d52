"""The document types of Decree 30/2020 (Appendix III) with their notation abbreviations, the
official letter (công văn: no type abbreviation, the drafting unit's instead), and the circular
(thông tư, a legal normative document: the year in its notation, 05/2025/TT-BGDĐT)."""

from django.db import migrations

# code, name, abbreviation
TYPES = [
    ("NQ", "Nghị quyết", "NQ"),
    ("QD", "Quyết định", "QĐ"),
    ("CT", "Chỉ thị", "CT"),
    ("QC", "Quy chế", "QC"),
    ("QYD", "Quy định", "QyĐ"),
    ("TC", "Thông cáo", "TC"),
    ("TB", "Thông báo", "TB"),
    ("HD", "Hướng dẫn", "HD"),
    ("CTR", "Chương trình", "CTr"),
    ("KH", "Kế hoạch", "KH"),
    ("PA", "Phương án", "PA"),
    ("DEA", "Đề án", "ĐA"),
    ("DA", "Dự án", "DA"),
    ("BC", "Báo cáo", "BC"),
    ("BB", "Biên bản", "BB"),
    ("TTR", "Tờ trình", "TTr"),
    ("HOD", "Hợp đồng", "HĐ"),
    ("CD", "Công điện", "CĐ"),
    ("BGN", "Bản ghi nhớ", "BGN"),
    ("BTT", "Bản thỏa thuận", "BTT"),
    ("GUQ", "Giấy ủy quyền", "GUQ"),
    ("GM", "Giấy mời", "GM"),
    ("GGT", "Giấy giới thiệu", "GGT"),
    ("GNP", "Giấy nghỉ phép", "GNP"),
    ("PG", "Phiếu gửi", "PG"),
    ("PC", "Phiếu chuyển", "PC"),
    ("PB", "Phiếu báo", "PB"),
    ("SY", "Sao y", "SY"),
    ("TRS", "Trích sao", "TrS"),
    ("SL", "Sao lục", "SL"),
]


def forwards(apps, schema_editor):
    DocumentType = apps.get_model("office", "DocumentType")
    rows = [DocumentType(code="CV", name="Công văn", abbreviation="", is_letter=True, position=0)]
    rows += [
        DocumentType(code=code, name=name, abbreviation=abbr, position=i)
        for i, (code, name, abbr) in enumerate(TYPES, start=1)
    ]
    rows.append(
        DocumentType(
            code="TT",
            name="Thông tư",
            abbreviation="TT",
            notation_with_year=True,
            position=len(TYPES) + 1,
        )
    )
    DocumentType.objects.bulk_create(rows, ignore_conflicts=True)


def backwards(apps, schema_editor):
    DocumentType = apps.get_model("office", "DocumentType")
    DocumentType.objects.filter(code__in=["CV", "TT", *[t[0] for t in TYPES]]).delete()


class Migration(migrations.Migration):
    dependencies = [("office", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]

"""Loading the administrative units and the old→new mapping into the ``geo`` tables.

Sources, all installed packages (no network):

- ``vietnam-provinces``: the 34 provinces and 3,321 communes in force since 1 July 2025, with
  the national statistical codes we store;
- ``vietnamadminunits``: its bundled SQLite file (the pre-2025 provinces, districts and
  communes) and ``converter_2025.json`` (which old units went into which new ones). Only the data
  files are read: the package's converter may call an online geocoder and must never run here.

``geo_load`` reads and checks every source first, then writes the difference in one transaction,
so a bad file changes nothing and a second run writes nothing.
"""

import importlib.util
import json
import re
import sqlite3
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.db import models, transaction

from vnemis.core.text import clean_text, search_key

from .models import (
    Commune,
    LegacyCommune,
    LegacyCommuneMapping,
    LegacyDistrict,
    LegacyProvince,
    LegacyProvinceMapping,
    Province,
)

BATCH_SIZE = 2000
CONVERTER_SECTIONS = (
    "DICT_PROVINCE",
    "DICT_PROVINCE_WARD_NO_DIVIDED",
    "DICT_PROVINCE_WARD_DIVIDED",
)
_KIND_BY_DIVISION_TYPE = {
    "phường": Commune.Kind.WARD,
    "xã": Commune.Kind.COMMUNE,
    "đặc khu": Commune.Kind.SPECIAL_ZONE,
}
_NOT_WORD = re.compile(r"[\W_]+")


class GeoDataError(Exception):
    """A source file is missing, unreadable or not shaped as expected."""


# --------------------------------------------------------------------------- reports


@dataclass
class TableCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deleted


@dataclass
class GeoLoadReport:
    """What a load did and how well the old map is covered by the mapping."""

    tables: dict[str, TableCounts] = field(default_factory=dict)
    legacy_communes: int = 0
    legacy_communes_mapped: int = 0
    legacy_communes_split: int = 0
    mapping_rows: int = 0
    # Old districts with no commune level (island districts): the converter maps them, but
    # there is no commune code to store them under.
    wardless_districts: list[str] = field(default_factory=list)
    # The two packages' codes for the same new ward disagree: (ward, dataset code, our code).
    code_disagreements: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched_new_wards: list[str] = field(default_factory=list)
    unmapped_legacy_communes: list[str] = field(default_factory=list)
    unknown_legacy_keys: list[str] = field(default_factory=list)
    defaults_repaired: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(t.changed for t in self.tables.values())


# --------------------------------------------------------------------------- sources


def default_data_dir() -> Path:
    """The ``data`` folder of ``vietnamadminunits``, found without importing the package."""
    # Importing the package would pull in its parser and converter; we only want its files.
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise GeoDataError(
            "Không tìm thấy gói vietnamadminunits; hãy cài đặt lại môi trường. "
            "/ Package vietnamadminunits not found; reinstall the environment."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _name_key(name: str) -> str:
    """Diacritics-free key: 'Xã Chân Mây – Lăng Cô' → 'xachanmaylangco' (the packages' keys)."""
    return _NOT_WORD.sub("", search_key(name))


def _accented_key(name: str) -> str:
    """Key keeping diacritics, for names that differ only by them (Văn Lang / Văn Lăng)."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFC", name).lower())


def read_current_units() -> tuple[list[dict], list[dict]]:
    """The 34 provinces and 3,321 communes in force, from ``vietnam-provinces``."""
    try:
        from vietnam_provinces import Province as VpProvince
        from vietnam_provinces import Ward as VpWard
    except ImportError as exc:
        raise GeoDataError(
            "Không tìm thấy gói vietnam-provinces. / Package vietnam-provinces not found."
        ) from exc

    provinces = [
        {
            "code": f"{int(p.code):02d}",
            "name": clean_text(p.name),
            "division_type": str(p.division_type.value),
            "codename": p.codename,
        }
        for p in VpProvince.iter_all()
    ]
    communes = []
    for w in VpWard.iter_all():
        division_type = str(w.division_type.value)
        kind = _KIND_BY_DIVISION_TYPE.get(division_type)
        if kind is None:
            raise GeoDataError(
                f"Loại đơn vị hành chính không rõ '{division_type}' ({w.name}). "
                f"/ Unknown division type '{division_type}' for {w.name}."
            )
        communes.append(
            {
                "code": f"{int(w.code):05d}",
                "name": clean_text(w.name),
                "kind": str(kind),
                "province_code": f"{int(w.province_code):02d}",
                "codename": w.codename,
            }
        )
    return provinces, communes


def _connect_dataset(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise GeoDataError(
            f"Không tìm thấy tệp dữ liệu đơn vị hành chính {path}. "
            f"/ Administrative units dataset {path} not found."
        )
    # Read-only: the file belongs to an installed package.
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def read_dataset(path: Path) -> tuple[list[tuple], list[tuple]]:
    """Rows of the dataset's ``admin_units_legacy`` and ``admin_units`` tables."""
    legacy_sql = (
        "SELECT provinceCode, province, provinceKey, districtCode, district, districtKey, "
        "wardCode, ward, wardKey FROM admin_units_legacy"
    )
    new_sql = "SELECT provinceCode, provinceKey, wardCode, ward, wardKey FROM admin_units"
    conn = _connect_dataset(path)
    try:
        legacy = conn.execute(legacy_sql).fetchall()
        new = conn.execute(new_sql).fetchall()
    except sqlite3.Error as exc:
        raise GeoDataError(
            f"Tệp dữ liệu {path} bị hỏng hoặc sai cấu trúc ({exc}). "
            f"/ Dataset {path} is corrupt or has an unexpected structure ({exc})."
        ) from exc
    finally:
        conn.close()
    if not legacy or not new:
        raise GeoDataError(
            f"Tệp dữ liệu {path} không có đơn vị hành chính nào. / Dataset {path} holds no units."
        )
    return legacy, new


def read_converter(path: Path) -> dict[str, dict]:
    """The three mapping tables of ``converter_2025.json``, checked for shape."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError as exc:
        raise GeoDataError(
            f"Không tìm thấy tệp chuyển đổi {path}. / Converter file {path} not found."
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GeoDataError(
            f"Tệp chuyển đổi {path} không phải JSON hợp lệ ({exc}). "
            f"/ Converter file {path} is not valid JSON ({exc})."
        ) from exc
    missing = [s for s in CONVERTER_SECTIONS if not isinstance(data, dict) or s not in data]
    if missing:
        raise GeoDataError(
            f"Tệp chuyển đổi {path} thiếu mục {', '.join(missing)}. "
            f"/ Converter file {path} lacks section(s) {', '.join(missing)}."
        )

    def bad(section: str) -> GeoDataError:
        return GeoDataError(
            f"Mục {section} của tệp chuyển đổi {path} sai cấu trúc. "
            f"/ Section {section} of converter file {path} has an unexpected shape."
        )

    provinces = data["DICT_PROVINCE"]
    if not isinstance(provinces, dict) or not all(
        isinstance(v, list) and all(isinstance(o, str) for o in v) for v in provinces.values()
    ):
        raise bad("DICT_PROVINCE")
    whole = data["DICT_PROVINCE_WARD_NO_DIVIDED"]
    if not isinstance(whole, dict) or not all(
        isinstance(wards, dict) and all(isinstance(olds, list) for olds in wards.values())
        for wards in whole.values()
    ):
        raise bad("DICT_PROVINCE_WARD_NO_DIVIDED")
    divided = data["DICT_PROVINCE_WARD_DIVIDED"]
    if not isinstance(divided, dict) or not all(
        isinstance(olds, dict)
        and all(
            isinstance(parts, list)
            and all(isinstance(p, dict) and "newWardKey" in p for p in parts)
            for parts in olds.values()
        )
        for olds in divided.values()
    ):
        raise bad("DICT_PROVINCE_WARD_DIVIDED")
    return {s: data[s] for s in CONVERTER_SECTIONS}


# --------------------------------------------------------------------------- building rows


@dataclass
class GeoSource:
    """Everything to write, as plain rows keyed by code; built without touching the database."""

    provinces: dict[str, dict]
    communes: dict[str, dict]
    legacy_provinces: dict[str, dict]
    legacy_districts: dict[str, dict]
    legacy_communes: dict[str, dict]
    province_mapping: set[tuple[str, str]]  # (old province code, new province code)
    commune_mapping: dict[tuple[str, str], bool]  # (old commune code, new code) → is default
    report: GeoLoadReport


def _legacy_rows(legacy: list[tuple], report: GeoLoadReport):
    provinces: dict[str, dict] = {}
    districts: dict[str, dict] = {}
    communes: dict[str, dict] = {}
    key_to_code: dict[str, str] = {}
    province_key_to_code: dict[str, str] = {}
    for p_code, p_name, p_key, d_code, d_name, d_key, w_code, w_name, w_key in legacy:
        if not p_code or not d_code:
            raise GeoDataError(
                f"Dòng đơn vị cũ thiếu mã tỉnh hoặc huyện ({p_name}, {d_name}). "
                f"/ A legacy unit row lacks a province or district code ({p_name}, {d_name})."
            )
        provinces.setdefault(p_code, {"code": p_code, "name": clean_text(p_name), "key": p_key})
        province_key_to_code[p_key] = p_code
        districts.setdefault(
            d_code, {"code": d_code, "name": clean_text(d_name), "province_code": p_code}
        )
        full_key = f"{p_key}_{d_key}_{w_key or ''}"
        if not w_code:
            report.wardless_districts.append(f"{d_code} {clean_text(d_name)} ({p_name})")
            continue
        key_to_code[full_key] = w_code
        communes[w_code] = {
            "code": w_code,
            "name": clean_text(w_name),
            "district_code": d_code,
            "province_code": p_code,
        }
    return provinces, districts, communes, key_to_code, province_key_to_code


def _match_new_wards(
    new: list[tuple], communes: dict[str, dict], report: GeoLoadReport
) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """Map the dataset's (province key, ward key) to our commune codes.

    Matched by name within the province, not by the dataset's ``wardCode``: for about a hundred
    wards that code differs from the national one carried by ``vietnam-provinces`` (some are
    swapped between neighbours), while the names agree.
    """
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_accented: dict[tuple[str, str], list[str]] = defaultdict(list)
    for c in communes.values():
        by_key[(c["province_code"], _name_key(c["name"]))].append(c["code"])
        by_accented[(c["province_code"], _accented_key(c["name"]))].append(c["code"])
    ward_to_code: dict[tuple[str, str], str] = {}
    province_key_to_code: dict[str, str] = {}
    claimed: set[str] = set()
    for p_code, p_key, w_code, w_name, w_key in new:
        province_key_to_code[p_key] = p_code
        found = by_key.get((p_code, _name_key(w_name)), [])
        if len(found) != 1:
            found = by_accented.get((p_code, _accented_key(w_name)), [])
        if len(found) != 1:
            # Last resort: the dataset's own code, if it is ours and in the same province.
            same = communes.get(w_code)
            found = [w_code] if same and same["province_code"] == p_code else []
        if len(found) != 1 or found[0] in claimed:
            report.unmatched_new_wards.append(f"{w_code} {w_name} ({p_key})")
            continue
        code = found[0]
        claimed.add(code)
        ward_to_code[(p_key, w_key)] = code
        if code != w_code:
            report.code_disagreements.append((w_name, w_code, code))
    return ward_to_code, province_key_to_code


def build_source(*, dataset_path: Path | None = None, converter_path: Path | None = None):
    """Read and check every source; return the rows to write and the coverage report."""
    data_dir = None if dataset_path and converter_path else default_data_dir()
    dataset_path = Path(dataset_path or data_dir / "dataset.db")
    converter_path = Path(converter_path or data_dir / "converter_2025.json")
    report = GeoLoadReport()

    province_rows, commune_rows = read_current_units()
    provinces = {p["code"]: p for p in province_rows}
    communes = {c["code"]: c for c in commune_rows}
    legacy, new = read_dataset(dataset_path)
    converter = read_converter(converter_path)

    l_provinces, l_districts, l_communes, legacy_key_to_code, legacy_pkey_to_code = _legacy_rows(
        legacy, report
    )
    ward_to_code, new_pkey_to_code = _match_new_wards(new, communes, report)

    def new_province_code(p_key: str) -> str:
        code = new_pkey_to_code.get(p_key)
        if code not in provinces:
            raise GeoDataError(
                f"Tỉnh mới '{p_key}' trong tệp chuyển đổi không có trong danh mục. "
                f"/ New province '{p_key}' in the converter is not in the current list."
            )
        return code

    province_mapping: set[tuple[str, str]] = set()
    for new_key, old_keys in converter["DICT_PROVINCE"].items():
        target = new_province_code(new_key)
        for old_key in old_keys:
            if old_key not in legacy_pkey_to_code:
                report.unknown_legacy_keys.append(old_key)
                continue
            province_mapping.add((legacy_pkey_to_code[old_key], target))

    # Every (old, new) part, in file order, with the file's default flag.
    parts: dict[str, list[tuple[str, bool]]] = defaultdict(list)

    def add_part(p_key: str, old_key: str, new_ward_key: str, is_default: bool) -> None:
        new_province_code(p_key)
        new_code = ward_to_code.get((p_key, new_ward_key))
        if new_code is None:
            return  # already reported as an unmatched new ward
        old_code = legacy_key_to_code.get(old_key)
        if old_code is None:
            # 'province_district_' keys are the wardless districts, reported already.
            if not old_key.endswith("_"):
                report.unknown_legacy_keys.append(old_key)
            return
        parts[old_code].append((new_code, is_default))

    for p_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward_key, old_keys in wards.items():
            for old_key in old_keys:
                add_part(p_key, old_key, new_ward_key, True)
    for p_key, olds in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, pieces in olds.items():
            for piece in pieces:
                add_part(p_key, old_key, piece["newWardKey"], bool(piece.get("isDefaultNewWard")))

    commune_mapping: dict[tuple[str, str], bool] = {}
    for old_code, targets in parts.items():
        flagged = [c for c, d in targets if d]
        # Exactly one default per old commune: the first flagged one, or the first listed.
        default = flagged[0] if flagged else targets[0][0]
        if len(set(flagged)) != 1:
            report.defaults_repaired.append(old_code)
        for new_code, _ in targets:
            commune_mapping[(old_code, new_code)] = new_code == default
        if len({c for c, _ in targets}) > 1:
            report.legacy_communes_split += 1

    report.legacy_communes = len(l_communes)
    report.legacy_communes_mapped = len(parts)
    report.mapping_rows = len(commune_mapping)
    report.unmapped_legacy_communes = sorted(set(l_communes) - set(parts))
    return GeoSource(
        provinces=provinces,
        communes=communes,
        legacy_provinces=l_provinces,
        legacy_districts=l_districts,
        legacy_communes=l_communes,
        province_mapping=province_mapping,
        commune_mapping=commune_mapping,
        report=report,
    )


# --------------------------------------------------------------------------- writing


def _sync_by_code(
    model: type[models.Model], rows: dict[str, dict], fields: list[str]
) -> tuple[TableCounts, dict[str, int]]:
    """Insert missing rows and update changed ones, keyed by ``code``; return code → id.

    Units missing from the source are kept, not deleted: records may still point at them.
    """
    existing = {r["code"]: r for r in model.objects.values("id", "code", *fields)}
    counts = TableCounts()
    to_create, to_update = [], []
    for code, row in rows.items():
        values = {f: row[f] for f in fields}
        current = existing.get(code)
        if current is None:
            to_create.append(model(code=code, **values))
        elif any(current[f] != v for f, v in values.items()):
            to_update.append(model(id=current["id"], code=code, **values))
        else:
            counts.unchanged += 1
    model.objects.bulk_create(to_create, batch_size=BATCH_SIZE)
    if to_update:
        model.objects.bulk_update(to_update, fields, batch_size=BATCH_SIZE)
    counts.created, counts.updated = len(to_create), len(to_update)
    ids = dict(model.objects.values_list("code", "id"))
    return counts, ids


def _sync_province_mapping(pairs: set[tuple[int, int]]) -> TableCounts:
    existing = {
        (lp, p): pk
        for pk, lp, p in LegacyProvinceMapping.objects.values_list(
            "id", "legacy_province_id", "province_id"
        )
    }
    stale = [pk for pair, pk in existing.items() if pair not in pairs]
    LegacyProvinceMapping.objects.filter(id__in=stale).delete()
    new = [
        LegacyProvinceMapping(legacy_province_id=lp, province_id=p)
        for lp, p in sorted(pairs - existing.keys())
    ]
    LegacyProvinceMapping.objects.bulk_create(new, batch_size=BATCH_SIZE)
    return TableCounts(created=len(new), deleted=len(stale), unchanged=len(existing) - len(stale))


def _sync_commune_mapping(wanted: dict[tuple[int, int], bool]) -> TableCounts:
    existing = {
        (lc, c): (pk, d)
        for pk, lc, c, d in LegacyCommuneMapping.objects.values_list(
            "id", "legacy_commune_id", "commune_id", "is_default"
        )
    }
    stale = [pk for pair, (pk, _) in existing.items() if pair not in wanted]
    clear = [pk for pair, (pk, d) in existing.items() if d and wanted.get(pair) is False]
    set_ = [pk for pair, (pk, d) in existing.items() if not d and wanted.get(pair) is True]
    new = [
        LegacyCommuneMapping(legacy_commune_id=lc, commune_id=c, is_default=d)
        for (lc, c), d in sorted(wanted.items())
        if (lc, c) not in existing
    ]
    # Order matters: the partial unique index allows one default per old commune at every
    # statement, so old defaults go before new ones arrive.
    for start in range(0, len(stale), BATCH_SIZE):
        LegacyCommuneMapping.objects.filter(id__in=stale[start : start + BATCH_SIZE]).delete()
    for start in range(0, len(clear), BATCH_SIZE):
        LegacyCommuneMapping.objects.filter(id__in=clear[start : start + BATCH_SIZE]).update(
            is_default=False
        )
    LegacyCommuneMapping.objects.bulk_create(
        [m for m in new if not m.is_default], batch_size=BATCH_SIZE
    )
    LegacyCommuneMapping.objects.bulk_create(
        [m for m in new if m.is_default], batch_size=BATCH_SIZE
    )
    for start in range(0, len(set_), BATCH_SIZE):
        LegacyCommuneMapping.objects.filter(id__in=set_[start : start + BATCH_SIZE]).update(
            is_default=True
        )
    updated = len(clear) + len(set_)
    return TableCounts(
        created=len(new),
        updated=updated,
        deleted=len(stale),
        unchanged=len(existing) - len(stale) - updated,
    )


def geo_write(source: GeoSource) -> GeoLoadReport:
    """Write a checked source into the ``geo`` tables, in one transaction, changes only."""
    report = source.report
    with transaction.atomic():
        counts, province_ids = _sync_by_code(
            Province, source.provinces, ["name", "division_type", "codename"]
        )
        report.tables["province"] = counts
        communes = {
            code: {**row, "province_id": province_ids[row["province_code"]]}
            for code, row in source.communes.items()
        }
        counts, commune_ids = _sync_by_code(
            Commune, communes, ["name", "kind", "province_id", "codename"]
        )
        report.tables["commune"] = counts
        counts, l_province_ids = _sync_by_code(
            LegacyProvince, source.legacy_provinces, ["name", "key"]
        )
        report.tables["legacy_province"] = counts
        districts = {
            code: {**row, "province_id": l_province_ids[row["province_code"]]}
            for code, row in source.legacy_districts.items()
        }
        counts, l_district_ids = _sync_by_code(LegacyDistrict, districts, ["name", "province_id"])
        report.tables["legacy_district"] = counts
        l_communes = {
            code: {
                **row,
                "district_id": l_district_ids[row["district_code"]],
                "province_id": l_province_ids[row["province_code"]],
            }
            for code, row in source.legacy_communes.items()
        }
        counts, l_commune_ids = _sync_by_code(
            LegacyCommune, l_communes, ["name", "district_id", "province_id"]
        )
        report.tables["legacy_commune"] = counts
        report.tables["legacy_province_mapping"] = _sync_province_mapping(
            {(l_province_ids[old], province_ids[new]) for old, new in source.province_mapping}
        )
        report.tables["legacy_commune_mapping"] = _sync_commune_mapping(
            {
                (l_commune_ids[old], commune_ids[new]): is_default
                for (old, new), is_default in source.commune_mapping.items()
            }
        )
    return report


def geo_load(
    *, dataset_path: Path | str | None = None, converter_path: Path | str | None = None
) -> GeoLoadReport:
    """Load current and legacy units and the old→new mapping; idempotent, changes only."""
    started = time.perf_counter()
    source = build_source(
        dataset_path=Path(dataset_path) if dataset_path else None,
        converter_path=Path(converter_path) if converter_path else None,
    )
    report = geo_write(source)
    report.seconds = time.perf_counter() - started
    return report

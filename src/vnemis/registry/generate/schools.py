"""The school map: how many schools of each level, where, how big, and their names and codes.

Proportions follow the national picture (about 45k schools for 24 M pupils counting the levels
below; DOMAIN.md §1): preschool 15.5k, primary 15k, lower secondary 10.5k, upper secondary
2.5k, multi-level 1k, continuing-education centres 0.5k, scaled to the requested size. The plan
is small (one row per school) and is drawn once, before pupils are generated chunk by chunk.
"""

from datetime import date

import numpy as np
import polars as pl

from .geography import PROVINCE_POPULATION, Province, ethnic_shares, unit_name

LEVELS = (
    "preschool",
    "primary",
    "lower_secondary",
    "upper_secondary",
    "multi_level",
    "continuing",
)
LEVEL_SCHOOLS_K = np.array([15.5, 15.0, 10.5, 2.5, 1.0, 0.5])  # thousands of schools
LEVEL_MEAN_PUPILS = np.array([340, 590, 620, 1080, 450, 300])  # pupils per school
# Share of private schools (rural commune, urban ward): preschool and cities have far more.
PRIVATE_SHARE = {
    "preschool": (0.12, 0.35),
    "primary": (0.01, 0.06),
    "lower_secondary": (0.01, 0.05),
    "upper_secondary": (0.06, 0.2),
    "multi_level": (0.4, 0.8),
    "continuing": (0.0, 0.0),
}
PREFIX = {
    "preschool": "Trường Mầm non",
    "primary": "Trường Tiểu học",
    "lower_secondary": "Trường THCS",
    "upper_secondary": "Trường THPT",
    "multi_level": "Trường TH, THCS và THPT",
    "continuing": "Trung tâm GDNN-GDTX",
}
# Schools beyond the first of a level in a commune take a name of their own.
PRESCHOOL_NAMES = [
    "Hoa",
    "Sen",
    "Sơn",
    "Ca",
    "Họa",
    "Mi",
    "Hoa",
    "Mai",
    "Tuổi",
    "Thơ",
    "Ánh",
    "Dương",
    "Hoa",
    "Hồng",
    "Búp",
    "Sen",
    "Hoa",
    "Ban",
    "Măng",
    "Non",
    "Bình",
    "Minh",
    "Hướng",
    "Dương",
    "Thỏ",
    "Ngọc",
    "Vàng",
    "Anh",
    "Hoa",
    "Phượng",
    "Ban",
    "Mai",
    "Bông",
    "Sen",
    "Hoa",
    "Cúc",
    "Sao",
    "Mai",
]
PRESCHOOL_NAMES = [" ".join(PRESCHOOL_NAMES[i : i + 2]) for i in range(0, len(PRESCHOOL_NAMES), 2)]
NOTABLE_NAMES = [
    "Nguyễn Trãi", "Lê Lợi", "Trần Hưng Đạo", "Chu Văn An", "Lê Quý Đôn", "Nguyễn Du",
    "Quang Trung", "Võ Thị Sáu", "Kim Đồng", "Nguyễn Văn Trỗi", "Lý Thường Kiệt",
    "Trần Quốc Toản", "Nguyễn Bỉnh Khiêm", "Phan Bội Châu", "Lê Hồng Phong", "Ngô Quyền",
    "Hai Bà Trưng", "Nguyễn Thị Minh Khai", "Trần Phú", "Nguyễn Huệ", "Lương Thế Vinh",
    "Phan Chu Trinh", "Hùng Vương", "Nguyễn Đình Chiểu", "Tô Hiệu", "Lý Tự Trọng",
    "Nguyễn Khuyến", "Hoàng Hoa Thám", "Võ Trường Toản", "Trưng Vương", "Đinh Tiên Hoàng",
    "Lê Văn Tám", "Phan Đình Phùng", "Nguyễn Tất Thành", "Mạc Đĩnh Chi", "Trần Đại Nghĩa",
]  # fmt: skip


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights, exactly."""
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - out.sum()
    if rest:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def school_counts(*, students: int | None, schools: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Schools and pupils per level (LEVELS order) for the requested sizes."""
    pupil_weight = LEVEL_SCHOOLS_K * LEVEL_MEAN_PUPILS
    if schools is None:
        per_school = pupil_weight.sum() / LEVEL_SCHOOLS_K.sum()
        schools = max(1, round(students / per_school))
    n_schools = _largest_remainder(schools, LEVEL_SCHOOLS_K)
    if students is None:
        students = int((n_schools * LEVEL_MEAN_PUPILS).sum())
    weights = n_schools * LEVEL_MEAN_PUPILS
    n_pupils = _largest_remainder(students, weights.astype(float))
    return n_schools, n_pupils


def plan_schools(
    rng: np.random.Generator,
    *,
    provinces: list[Province],
    students: int | None,
    schools: int | None,
    year: int,
) -> pl.DataFrame:
    """One row per school: exchange-format columns plus ``pupils`` and ``is_ward`` for planning."""
    n_schools, n_pupils = school_counts(students=students, schools=schools)
    # Minority regions are younger (higher fertility): more pupils per head of population.
    pop = np.array(
        [
            PROVINCE_POPULATION[p.code] * (1 + 0.6 * (1 - ethnic_shares(p.code)[0]))
            for p in provinces
        ]
    )
    rows: list[dict] = []
    for li, level in enumerate(LEVELS):
        if n_schools[li] == 0:
            continue
        per_province = _largest_remainder(int(n_schools[li]), pop)
        # Sizes vary a lot (a mountain primary school of 80 pupils, a city one of 2,000).
        size_weight = rng.gamma(2.5, 1.0, size=int(n_schools[li]))
        k = 0
        for pi, province in enumerate(provinces):
            m = int(per_province[pi])
            if m == 0:
                continue
            communes = province.communes
            cw = np.array([1.4 if c.is_ward else 1.0 for c in communes])
            picks = rng.choice(len(communes), size=m, p=cw / cw.sum())
            for ci in picks:
                c = communes[ci]
                rows.append(
                    {
                        "level": level,
                        "province_code": province.code,
                        "province_name": province.short_name,
                        "commune_code": c.code,
                        "commune_name": c.name,
                        "is_ward": c.is_ward,
                        "weight": size_weight[k] * (1.5 if c.is_ward else 1.0),
                    }
                )
                k += 1
    if not rows:
        raise AssertionError("no schools planned")  # school_counts always gives at least one
    # Pupils per school: a floor so no school is empty, the rest in proportion to its weight.
    level_of = np.array([LEVELS.index(r["level"]) for r in rows])
    pupils = np.zeros(len(rows), dtype=np.int64)
    for li in range(len(LEVELS)):
        idx = np.flatnonzero(level_of == li)
        if len(idx) == 0:
            continue
        total = int(n_pupils[li])
        floor = min(20, total // len(idx))
        w = np.array([rows[i]["weight"] for i in idx])
        pupils[idx] = floor + rng.multinomial(total - floor * len(idx), w / w.sum())
    for r, n in zip(rows, pupils, strict=True):
        r["pupils"] = int(n)
    # Codes: province + six-digit sequence, numbered by commune then level within a province.
    rows.sort(key=lambda r: (r["province_code"], r["commune_code"], LEVELS.index(r["level"])))
    _name_and_code(rng, rows, year)
    return pl.DataFrame(rows).drop("weight", "province_name", "commune_name")


def _name_and_code(rng: np.random.Generator, rows: list[dict], year: int) -> None:
    """Codes, names, ownership, parent and opening date (one Python pass over the small plan)."""
    seq: dict[str, int] = {}
    used: set[tuple[str, str]] = set()
    first_in_commune: set[tuple[str, str]] = set()
    u = rng.random((len(rows), 4))
    for i, r in enumerate(rows):
        p = r["province_code"]
        seq[p] = seq.get(p, 0) + 1
        r["school_code"] = f"{p}{seq[p]:06d}"
        level = r["level"]
        private = u[i, 0] < PRIVATE_SHARE[level][1 if r["is_ward"] else 0]
        if private:
            # A few private preschools are still registered as people-founded (dân lập).
            r["ownership"] = (
                "people_founded" if level == "preschool" and u[i, 3] < 0.05 else "private"
            )
        else:
            r["ownership"] = "public"
        place = unit_name(r["commune_name"])
        key = (r["commune_code"], level)
        if key not in first_in_commune and not private and level != "continuing":
            first_in_commune.add(key)
            base = place
        elif level == "preschool":
            base = PRESCHOOL_NAMES[int(u[i, 1] * len(PRESCHOOL_NAMES))]
        elif level == "continuing":
            base = place
        else:
            base = NOTABLE_NAMES[int(u[i, 1] * len(NOTABLE_NAMES))]
        prefix = PREFIX[level] + (" tư thục" if private and level == "preschool" else "")
        name = f"{prefix} {base}"
        n = 2
        while (p, name) in used:
            name = f"{prefix} {base} {n}"
            n += 1
        used.add((p, name))
        r["name"] = name
        r["kind"] = "school"
        r["parent_code"] = f"SGD{p}"
        r["address"] = f"{r['commune_name']}, {r['province_name']}"
        r["status"] = "open"
        # Public schools mostly date from the 1960s–2000s, private ones from the last 25 years.
        lo, hi = (1998, year - 1) if private else (1956, year - 3)
        opened_year = lo + int(u[i, 2] ** 0.8 * (hi - lo + 1))
        r["opened_on"] = date(min(opened_year, year - 1), 8, 1 + int(u[i, 3] * 31) % 31)


def assign_chunks(plan: pl.DataFrame, chunk_pupils: int) -> pl.DataFrame:
    """Group consecutive schools of one province into chunks of about ``chunk_pupils`` pupils."""
    provinces = plan["province_code"].to_numpy()
    pupils = plan["pupils"].to_numpy()
    chunk = np.zeros(len(plan), dtype=np.int64)
    current, acc = 0, 0
    for i in range(len(plan)):
        if i and (provinces[i] != provinces[i - 1] or acc >= chunk_pupils):
            current += 1
            acc = 0
        chunk[i] = current
        acc += pupils[i]
    return plan.with_columns(chunk=pl.Series(chunk))


# About 500 universities and colleges for 24 M pupils, concentrated in the big cities.
PUPILS_PER_INSTITUTION = 48_000
UNIVERSITY_SHARE = 0.6
HIGHER_ED_FIELDS = (
    "Bách khoa",
    "Kinh tế",
    "Sư phạm",
    "Y Dược",
    "Nông Lâm",
    "Luật",
    "Ngoại thương",
    "Công nghệ",
    "Giao thông Vận tải",
    "Xây dựng",
    "Văn hoá",
    "Kỹ thuật",
    "Thuỷ lợi",
    "Mỏ - Địa chất",
)


def plan_higher_education(
    rng: np.random.Generator, *, provinces: list[Province], students: int, year: int
) -> pl.DataFrame:
    """Universities (under the Ministry) and colleges (under their Department), one per
    ``PUPILS_PER_INSTITUTION`` pupils, at least one, placed in proportion to urban population."""
    count = max(1, round(students / PUPILS_PER_INSTITUTION))
    # Cities hold most institutions: weight by population squared.
    weights = np.array([PROVINCE_POPULATION[p.code] ** 2 for p in provinces], dtype=float)
    per_province = _largest_remainder(count, weights)
    rows: list[dict] = []
    for province, n in zip(provinces, per_province, strict=True):
        wards = [c for c in province.communes if c.is_ward] or province.communes
        for k in range(int(n)):
            is_university = rng.random() < UNIVERSITY_SHARE
            kind, prefix = ("university", "DH") if is_university else ("college", "CD")
            field = HIGHER_ED_FIELDS[int(rng.integers(len(HIGHER_ED_FIELDS)))]
            place = province.short_name
            name = (
                f"Trường Đại học {field} {place}"
                if is_university
                else f"Trường Cao đẳng {field} {place}"
            )
            if k:
                name += f" {k + 1}"
            commune = wards[int(rng.integers(len(wards)))]
            rows.append(
                {
                    "school_code": f"{prefix}{province.code}{k + 1:03d}",
                    "name": name,
                    "kind": kind,
                    "level": None,
                    "ownership": "private" if rng.random() < 0.25 else "public",
                    "parent_code": "BGDDT" if is_university else f"SGD{province.code}",
                    "province_code": province.code,
                    "commune_code": commune.code,
                    "address": f"{commune.name}, {province.short_name}",
                    "status": "open",
                    "opened_on": date(1956 + int(rng.integers(year - 1956)), 9, 1),
                }
            )
    return pl.DataFrame(rows)

"""Geography and population facts the generator draws from: provinces, communes, ethnic mixes.

Units are the map in force since 1 July 2025, read from the ``vietnam-provinces`` package (or
handed in from the database by the command), so generation needs no database. The weights are
rounded public figures (2019 census, 2024 population estimates) merged onto the 34 new
provinces; they shape the synthetic data and are not statistics to quote.
"""

from dataclasses import dataclass

import numpy as np

# Approximate population (millions) of the 34 current provinces: where pupils and schools go.
PROVINCE_POPULATION = {
    "01": 8.7, "04": 0.57, "08": 1.87, "11": 0.65, "12": 0.49, "14": 1.3, "15": 1.78,
    "19": 1.8, "20": 0.8, "22": 1.4, "24": 3.6, "25": 4.0, "31": 4.7, "33": 3.6, "37": 4.4,
    "38": 4.3, "40": 3.8, "42": 1.6, "44": 1.9, "46": 1.2, "48": 3.1, "51": 2.2, "52": 3.6,
    "56": 2.25, "66": 3.35, "68": 3.9, "75": 4.5, "79": 14.0, "80": 3.25, "82": 4.4,
    "86": 4.3, "91": 4.95, "92": 4.2, "96": 2.6,
}  # fmt: skip

# Pre-2025 provinces merged into each current one, with their rough populations: a CCCD opens
# with the three-digit code of the (old) province where the birth was registered.
CCCD_PREDECESSORS = {
    "01": {"001": 8.7}, "04": {"004": 0.57}, "08": {"008": 0.8, "002": 0.9},
    "11": {"011": 0.65}, "12": {"012": 0.49}, "14": {"014": 1.3},
    "15": {"010": 0.77, "015": 0.85}, "19": {"019": 1.35, "006": 0.33},
    "20": {"020": 0.8}, "22": {"022": 1.4}, "24": {"027": 1.5, "024": 1.9},
    "25": {"025": 1.5, "026": 1.2, "017": 0.9}, "31": {"031": 2.1, "030": 1.95},
    "33": {"033": 1.3, "034": 1.9}, "37": {"037": 1.0, "035": 0.9, "036": 1.9},
    "38": {"038": 3.7}, "40": {"040": 3.4}, "42": {"042": 1.3},
    "44": {"045": 0.65, "044": 0.92}, "46": {"046": 1.2}, "48": {"048": 1.2, "049": 1.5},
    "51": {"051": 1.25, "062": 0.57}, "52": {"064": 1.6, "052": 1.5},
    "56": {"056": 1.25, "058": 0.6}, "66": {"066": 1.9, "054": 0.9},
    "68": {"068": 1.3, "067": 0.65, "060": 1.25}, "75": {"075": 3.2, "070": 1.0},
    "79": {"079": 9.4, "074": 2.8, "077": 1.2}, "80": {"072": 1.2, "080": 1.7},
    "82": {"087": 1.6, "082": 1.8}, "86": {"086": 1.03, "083": 1.3, "084": 1.0},
    "91": {"089": 1.9, "091": 1.75}, "92": {"092": 1.24, "094": 1.2, "093": 0.73},
    "96": {"096": 1.2, "095": 0.9},
}  # fmt: skip

# Ethnic mix (percent, two-digit codes of ethnic_groups.csv) where it differs from the plain
# Kinh majority; the rest of each province is Kinh. Northern mountains and the Central
# Highlands are mostly minorities, Khơ-me live in the Mekong delta, Hoa in the cities.
ETHNIC_MIX = {
    "01": {"06": 0.9, "02": 0.2, "09": 0.1, "03": 0.1, "07": 0.1},
    "04": {"02": 41, "07": 31, "08": 10.5, "09": 10, "15": 0.5, "51": 0.3, "46": 0.1, "47": 0.1},
    "08": {"02": 24, "08": 18, "09": 13, "07": 6, "15": 4, "25": 2.2, "43": 0.3, "40": 0.5,
           "46": 0.4, "47": 0.1, "51": 0.3, "49": 0.1, "38": 0.3},
    "11": {"08": 38, "03": 34, "29": 3.5, "35": 0.4, "37": 0.6, "48": 0.1, "50": 0.1, "09": 1,
           "06": 0.4, "42": 0.1},
    "12": {"03": 33, "08": 24, "09": 13, "35": 5.5, "25": 5, "41": 2.5, "42": 1.5, "45": 1,
           "48": 0.1, "50": 0.1, "29": 0.5},
    "14": {"03": 53, "08": 17, "06": 8, "09": 2, "34": 2.5, "29": 1, "33": 0.7, "39": 0.7,
           "37": 0.1},
    "15": {"08": 18, "02": 17, "09": 12, "03": 3, "25": 2, "07": 2, "40": 0.5, "35": 0.5,
           "06": 0.5, "49": 0.1, "38": 0.2},
    "19": {"02": 19, "07": 7, "09": 5, "18": 3, "15": 2, "08": 2, "04": 0.2, "06": 0.3},
    "20": {"07": 42, "02": 35, "09": 3.5, "15": 1, "08": 0.3, "04": 0.3},
    "22": {"09": 5, "02": 3.5, "18": 1.5, "15": 1, "04": 0.5, "07": 0.5},
    "24": {"07": 2.5, "02": 2, "15": 1, "18": 1, "09": 0.5, "04": 0.3},
    "25": {"06": 22, "09": 1.2, "18": 0.7, "03": 1, "02": 0.7, "08": 0.2},
    "31": {"04": 0.1},
    "33": {},
    "37": {"06": 0.5},
    "38": {"06": 9, "03": 6.5, "08": 0.5, "09": 0.2, "24": 0.2, "29": 0.03},
    "40": {"03": 10, "29": 1.3, "08": 1, "24": 0.9, "53": 0.02},
    "42": {"44": 0.05, "37": 0.05},
    "44": {"23": 3, "31": 0.6, "44": 0.2},
    "46": {"31": 2, "26": 1, "23": 0.3},
    "48": {"26": 2.5, "14": 1.2, "27": 0.6, "30": 0.2, "04": 0.1},
    "51": {"14": 8.5, "19": 7, "13": 4, "27": 2, "30": 1.5, "06": 0.5, "52": 0.05, "54": 0.05},
    "52": {"10": 18, "13": 6.5, "02": 0.4, "07": 0.4, "06": 0.2, "08": 0.2, "19": 0.2, "17": 0.2},
    "56": {"21": 6, "17": 4, "16": 0.4, "04": 0.5, "12": 0.2},
    "66": {"12": 13, "07": 3, "02": 2.5, "20": 2, "08": 1, "10": 0.7, "09": 0.7, "06": 0.7,
           "03": 0.7, "17": 0.8, "13": 0.2},
    "68": {"16": 5.3, "07": 2.3, "02": 1.8, "20": 2, "08": 1.3, "17": 1.2, "28": 1.2, "09": 0.8,
           "36": 0.6, "21": 0.6, "04": 0.3, "12": 0.2, "22": 0.1},
    "75": {"04": 2.4, "22": 2.1, "07": 1.4, "02": 0.9, "05": 0.6, "32": 0.5, "20": 0.3, "06": 0.3,
           "28": 0.2, "09": 0.2},
    "79": {"04": 5, "05": 0.5, "02": 0.3, "07": 0.3, "06": 0.2, "17": 0.1, "32": 0.1},
    "80": {"05": 0.5, "04": 0.2, "17": 0.1},
    "82": {"04": 0.2, "05": 0.1},
    "86": {"05": 10.3, "04": 0.4},
    "91": {"05": 8.3, "04": 1.2, "17": 0.4},
    "92": {"05": 12.5, "04": 2.7, "17": 0.05},
    "96": {"05": 4.7, "04": 1.3},
}  # fmt: skip

ETHNIC_CODES = tuple(f"{i:02d}" for i in range(1, 55))

# Regions set the southern/northern spelling of shared family names (Huỳnh/Hoàng, Võ/Vũ).
NORTH, CENTRAL, SOUTH = 0, 1, 2


def region_of(province_code: str) -> int:
    code = int(province_code)
    if code < 40:
        return NORTH
    if code < 70:
        return CENTRAL
    return SOUTH


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    is_ward: bool  # phường: urban, as statistics count it


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    communes: tuple[Commune, ...]

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("Thành phố ").removeprefix("Tỉnh ")


def load_from_package() -> dict[str, Province]:
    """The 34 provinces and their communes from ``vietnam-provinces``, ordered by code."""
    from vietnam_provinces import Province as PkgProvince
    from vietnam_provinces import Ward

    by_province: dict[str, list[Commune]] = {}
    for ward in Ward.iter_all():
        pcode = f"{int(ward.province_code.value):02d}"
        by_province.setdefault(pcode, []).append(
            Commune(
                code=f"{int(ward.code.value):05d}",
                name=ward.name,
                is_ward=ward.division_type.value == "phường",
            )
        )
    result = {}
    for p in PkgProvince.iter_all():
        code = f"{int(p.code.value):02d}"
        communes = tuple(sorted(by_province.get(code, []), key=lambda c: c.code))
        result[code] = Province(code=code, name=p.name, communes=communes)
    return dict(sorted(result.items()))


def ethnic_shares(province_code: str) -> np.ndarray:
    """Probability of each of the 54 groups (ETHNIC_CODES order) for people of a province."""
    p = np.zeros(len(ETHNIC_CODES))
    for code, pct in ETHNIC_MIX.get(province_code, {}).items():
        p[int(code) - 1] += pct
    p[0] = max(0.0, 100.0 - p.sum())
    return p / p.sum()


def unit_name(commune_name: str) -> str:
    """'Phường Ba Đình' → 'Ba Đình' (schools are named after the place)."""
    for prefix in ("Phường ", "Xã ", "Đặc khu "):
        if commune_name.startswith(prefix):
            return commune_name[len(prefix) :]
    return commune_name

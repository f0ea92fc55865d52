"""A tile grid map of the 34 provinces (post-2025 units): one square per province.

No map tiles or boundary files are available offline, so the map is a grid in which each
province keeps roughly its place on the map of Viet Nam: columns run west → east (about one
degree of longitude each, column 0 ≈ 103°E), rows north → south. The S-shape survives: the
northern mountains and the Red River delta, the narrow central coast, the Central Highlands,
the South East and the Mekong delta.
"""

# code → (column, row, short label shown inside the square)
GRID: dict[str, tuple[int, int, str]] = {
    # Northern mountains and midlands
    "12": (0, 0, "LCh"),  # Lai Châu
    "15": (1, 0, "LCa"),  # Lào Cai
    "08": (2, 0, "TQ"),  # Tuyên Quang
    "04": (3, 0, "CB"),  # Cao Bằng
    "11": (0, 1, "ĐB"),  # Điện Biên
    "14": (1, 1, "SL"),  # Sơn La
    "25": (2, 1, "PT"),  # Phú Thọ
    "19": (3, 1, "TN"),  # Thái Nguyên
    "20": (4, 1, "LS"),  # Lạng Sơn
    # Red River delta
    "01": (3, 2, "HN"),  # Hà Nội
    "24": (4, 2, "BN"),  # Bắc Ninh
    "22": (5, 2, "QN"),  # Quảng Ninh
    "37": (3, 3, "NB"),  # Ninh Bình
    "33": (4, 3, "HY"),  # Hưng Yên
    "31": (5, 3, "HP"),  # Hải Phòng
    # North Central and the central coast
    "38": (2, 4, "TH"),  # Thanh Hóa
    "40": (2, 5, "NA"),  # Nghệ An
    "42": (3, 6, "HT"),  # Hà Tĩnh
    "44": (3, 7, "QT"),  # Quảng Trị
    "46": (4, 8, "Huế"),  # Huế
    "48": (4, 9, "ĐN"),  # Đà Nẵng
    "51": (5, 10, "QNg"),  # Quảng Ngãi
    # Central Highlands and the south-central coast
    "52": (5, 11, "GL"),  # Gia Lai
    "66": (5, 12, "ĐL"),  # Đắk Lắk
    "56": (6, 13, "KH"),  # Khánh Hòa
    "68": (5, 13, "LĐ"),  # Lâm Đồng
    # South East
    "75": (4, 13, "ĐNa"),  # Đồng Nai
    "80": (3, 13, "TNi"),  # Tây Ninh
    "79": (4, 14, "HCM"),  # Hồ Chí Minh
    # Mekong delta
    "91": (2, 14, "AG"),  # An Giang
    "82": (3, 14, "ĐT"),  # Đồng Tháp
    "92": (2, 15, "CT"),  # Cần Thơ
    "86": (3, 15, "VL"),  # Vĩnh Long
    "96": (2, 16, "CM"),  # Cà Mau
}

COLUMNS = 1 + max(c for c, _, _ in GRID.values())
ROWS = 1 + max(r for _, r, _ in GRID.values())

"""Administrative units: the map in force since 1 July 2025 and the pre-2025 map it replaced.

Loaded from packages made for it (``vnemis geo load``), never typed by hand. Data recorded on the
old map is reported on today's map through ``LegacyCommuneMapping``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Province(models.Model):
    """One of the 34 provinces and centrally-run cities (tỉnh / thành phố trung ương)."""

    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=100)
    division_type = models.CharField(max_length=30)
    codename = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("tỉnh/thành phố")

    def __str__(self) -> str:
        return self.name


class Commune(models.Model):
    """A commune, ward or special zone (xã / phường / đặc khu): the level below the province."""

    class Kind(models.TextChoices):
        WARD = "phuong", _("Phường")
        COMMUNE = "xa", _("Xã")
        SPECIAL_ZONE = "dac_khu", _("Đặc khu")

    code = models.CharField(max_length=5, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="communes")
    codename = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("xã/phường")

    def __str__(self) -> str:
        return self.name

    @property
    def is_urban(self) -> bool:
        """Wards (phường) are urban; communes and special zones rural, as statistics count them."""
        return self.kind == self.Kind.WARD


class LegacyProvince(models.Model):
    """One of the 63 provinces before 1 July 2025."""

    code = models.CharField(max_length=2, unique=True)
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class LegacyDistrict(models.Model):
    code = models.CharField(max_length=3, unique=True)
    name = models.CharField(max_length=100)
    province = models.ForeignKey(LegacyProvince, on_delete=models.PROTECT, related_name="districts")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class LegacyCommune(models.Model):
    code = models.CharField(max_length=5, unique=True)
    name = models.CharField(max_length=100)
    district = models.ForeignKey(LegacyDistrict, on_delete=models.PROTECT, related_name="communes")
    province = models.ForeignKey(LegacyProvince, on_delete=models.PROTECT, related_name="communes")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class LegacyProvinceMapping(models.Model):
    """Which new province(s) an old province became part of (old 82 → 80 and 82)."""

    legacy_province = models.ForeignKey(
        LegacyProvince, on_delete=models.CASCADE, related_name="successors"
    )
    province = models.ForeignKey(Province, on_delete=models.CASCADE, related_name="predecessors")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["legacy_province", "province"], name="uniq_legacy_province_map"
            )
        ]


class LegacyCommuneMapping(models.Model):
    """An old commune and the new commune(s) it went into.

    A commune split between several new ones has one row per part; ``is_default`` marks the one
    to report on when no finer location is known (exactly one per old commune).
    """

    legacy_commune = models.ForeignKey(
        LegacyCommune, on_delete=models.CASCADE, related_name="successors"
    )
    commune = models.ForeignKey(Commune, on_delete=models.CASCADE, related_name="predecessors")
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["legacy_commune", "commune"], name="uniq_legacy_commune_map"
            ),
            models.UniqueConstraint(
                fields=["legacy_commune"],
                condition=models.Q(is_default=True),
                name="one_default_successor",
            ),
        ]

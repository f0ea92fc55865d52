"""What a generation run is asked to produce, checked before any work starts."""

from dataclasses import dataclass, field, fields
from pathlib import Path

FORMATS = ("parquet", "csv", "xlsx")
# XLSX is for school-sized samples people open in a spreadsheet; beyond this the file is unusable.
XLSX_MAX_ROWS = 100_000
DEFAULT_STUDENTS = 10_000


class GenerateError(ValueError):
    """A request the generator cannot honour; the message tells the user what to change."""


@dataclass(frozen=True)
class NoiseConfig:
    """Rates (0–1) of each kind of damage applied to pupil records, for identity-linkage tests."""

    typo: float = 0.0
    no_diacritics: float = 0.0
    nfd: float = 0.0
    date_swap: float = 0.0
    missing_citizen_id: float = 0.0
    wrong_citizen_id: float = 0.0
    duplicate: float = 0.0

    @classmethod
    def kinds(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def uniform(cls, rate: float) -> "NoiseConfig":
        return cls(**dict.fromkeys(cls.kinds(), rate))

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.kinds()}

    @property
    def any(self) -> bool:
        return any(v > 0 for v in self.as_dict().values())


@dataclass(frozen=True)
class GenerateConfig:
    out: Path
    provinces: tuple[str, ...] | None = None  # None: the whole country
    students: int | None = None
    schools: int | None = None
    seed: int = 1
    fmt: str = "parquet"
    year: int = 2025  # the school year starting in September of this year
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    chunk_pupils: int = 200_000  # memory bound: one chunk of schools at a time
    # Citizens not in school, per pupil or staff member, in the registry simulator's dataset.
    registry_extra_ratio: float = 1.0

    @property
    def school_year(self) -> str:
        return f"{self.year}-{self.year + 1}"

    def validate(self, known_provinces: list[str]) -> None:
        if self.fmt not in FORMATS:
            raise GenerateError(
                f"Unknown format '{self.fmt}'. Choose one of: {', '.join(FORMATS)}."
            )
        if self.students is not None and self.students < 1:
            raise GenerateError("The number of students must be at least 1.")
        if self.schools is not None and self.schools < 1:
            raise GenerateError("The number of schools must be at least 1.")
        if self.students is not None and self.schools is not None and self.schools > self.students:
            raise GenerateError(
                f"{self.schools} schools for {self.students} students leaves schools without "
                "pupils; ask for fewer schools or more students."
            )
        if not 2000 <= self.year <= 2100:
            raise GenerateError(f"School year {self.year} is out of range (2000–2100).")
        if self.seed < 0:
            raise GenerateError("The seed must be a non-negative integer.")
        if self.chunk_pupils < 1000:
            raise GenerateError("The chunk size must be at least 1,000 pupils.")
        if self.provinces is not None:
            if not self.provinces:
                raise GenerateError("No province codes given.")
            unknown = [p for p in self.provinces if p not in known_provinces]
            if unknown:
                raise GenerateError(
                    f"Unknown province code(s): {', '.join(unknown)}. Valid codes (since "
                    f"1 July 2025): {', '.join(known_provinces)}."
                )
            if len(set(self.provinces)) != len(self.provinces):
                raise GenerateError("A province code is given twice.")
        if not 0.0 <= self.registry_extra_ratio <= 10.0:
            raise GenerateError(
                f"The registry's extra citizens per person in school are "
                f"{self.registry_extra_ratio}; give a ratio between 0 and 10."
            )
        for kind, rate in self.noise.as_dict().items():
            if not 0.0 <= rate <= 0.5:
                raise GenerateError(
                    f"Noise rate for '{kind}' is {rate}; rates are fractions between 0 and 0.5."
                )

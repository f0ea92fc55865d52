"""One definition per indicator: UNESCO UIS / SDG 4 formulas as ratios of cube measures.

Notation (UIS Education Indicators Technical Guidelines): E enrolment, R repeaters, N new
entrants, G graduates, P population, T teachers; ``t`` the school year (calendar year in which it
starts), ``g`` a grade, ``a..b`` the level's official ages (entry age to entry age + grades − 1).
Flow rates use two consecutive years (the reconstructed cohort method):

- promotion  p(g, t) = (E(g+1, t+1) − R(g+1, t+1)) / E(g, t); for the level's last grade the
  promotees are the level's graduates G(t);
- repetition r(g, t) = R(g, t+1) / E(g, t);
- dropout    d(g, t) = 1 − p − r.

Rates for a whole level are Σ numerators / Σ denominators over its grades.
"""

from dataclasses import dataclass

from .measures import Measure, Ratio


@dataclass(frozen=True)
class Level:
    code: str
    entry_age: int
    grades: int
    first_grade: int  # the grade number of the level's first grade in the cube's numbering

    @property
    def last_grade(self) -> int:
        return self.first_grade + self.grades - 1

    @property
    def last_age(self) -> int:
        return self.entry_age + self.grades - 1


# The national system (Education Law 2019): grade 1 at six, 5 + 4 + 3 grades, numbered 1–12.
NATIONAL_LEVELS = (
    Level("primary", 6, 5, 1),
    Level("lower_secondary", 11, 4, 6),
    Level("upper_secondary", 15, 3, 10),
)


def _in_level(year: int, level: Level) -> str:
    return f"year = {year} AND level = '{level.code}'"


def _ages(level: Level) -> str:
    return f"age BETWEEN {level.entry_age} AND {level.last_age}"


def _level_and_above(levels: tuple[Level, ...], level: Level) -> str:
    codes = ", ".join(f"'{lv.code}'" for lv in levels if lv.entry_age >= level.entry_age)
    return f"level IN ({codes})"


def population(year: int, ages: str, sign: int = 1) -> Measure:
    return Measure("population", f"year = {year} AND {ages}", sign)


def enrolment(year: int, level: Level) -> Measure:
    return Measure("enrolment", _in_level(year, level))


def promotees(year: int, level: Level, sign: int = 1) -> tuple[Measure, ...]:
    """Pupils of year t promoted to the next grade, each on the grade they left."""
    shifted = {"grade": "grade - 1"}
    nxt = f"{_in_level(year + 1, level)} AND grade > {level.first_grade}"
    return (
        Measure("enrolment", nxt, sign, shifted),
        Measure("repeaters", nxt, -sign, shifted),
        Measure("graduates", _in_level(year, level), sign, {"grade": str(level.last_grade)}),
    )


def ger(year, level, levels):
    return Ratio((enrolment(year, level),), (population(year, _ages(level)),))


def ner(year, level, levels):
    numerator = Measure("enrolment", f"{_in_level(year, level)} AND {_ages(level)}")
    return Ratio((numerator,), (population(year, _ages(level)),))


def aner(year, level, levels):
    numerator = Measure(
        "enrolment", f"year = {year} AND {_level_and_above(levels, level)} AND {_ages(level)}"
    )
    return Ratio((numerator,), (population(year, _ages(level)),))


def out_of_school(year, level, levels):
    enrolled = Measure(
        "enrolment", f"year = {year} AND {_level_and_above(levels, level)} AND {_ages(level)}", -1
    )
    return Ratio((population(year, _ages(level)), enrolled), (population(year, _ages(level)),))


def gir(year, level, levels):
    entrants = Measure("new_entrants", f"{_in_level(year, level)} AND grade = {level.first_grade}")
    return Ratio((entrants,), (population(year, f"age = {level.entry_age}"),))


def ptr(year, level, levels):
    return Ratio(
        (enrolment(year, level),), (Measure("teachers", _in_level(year, level)),), scale=1.0
    )


def repeaters_pct(year, level, levels):
    return Ratio((Measure("repeaters", _in_level(year, level)),), (enrolment(year, level),))


def repetition(year, level, levels):
    return Ratio((Measure("repeaters", _in_level(year + 1, level)),), (enrolment(year, level),))


def promotion(year, level, levels):
    return Ratio(promotees(year, level), (enrolment(year, level),))


def dropout(year, level, levels):
    leavers = (
        enrolment(year, level),
        *promotees(year, level, sign=-1),
        Measure("repeaters", _in_level(year + 1, level), -1),
    )
    return Ratio(leavers, (enrolment(year, level),))


def next_level(levels: tuple[Level, ...], level: Level) -> Level | None:
    later = [lv for lv in levels if lv.entry_age > level.entry_age]
    return min(later, key=lambda lv: lv.entry_age) if later else None


def transition(year, level, levels):
    """Effective transition rate: new entrants to the next level's first grade in t+1 over the
    pupils of the level's last grade in t who do not repeat it in t+1."""
    nxt = next_level(levels, level)
    if nxt is None:
        raise ValueError(f"no level follows {level.code}")
    same = {"grade": "0"}  # the two sides are lined up on one row, whatever their grades
    entry = f"{_in_level(year + 1, nxt)} AND grade = {nxt.first_grade}"
    last_now = f"{_in_level(year, level)} AND grade = {level.last_grade}"
    last_next = f"{_in_level(year + 1, level)} AND grade = {level.last_grade}"
    return Ratio(
        (Measure("enrolment", entry, 1, same), Measure("repeaters", entry, -1, same)),
        (Measure("enrolment", last_now, 1, same), Measure("repeaters", last_next, -1, same)),
    )


def completion(year, level, levels):
    """Completion from administrative data: the level's graduates over the population at the
    official age of its last grade (UIS' gross graduation ratio; the survey-based SDG 4.1.2
    completion rate needs household surveys)."""
    return Ratio(
        (Measure("graduates", _in_level(year, level)),),
        (population(year, f"age = {level.last_age}"),),
    )


# Ministry operations (not UIS): classes, teachers against the staffing norms, verification.
QUALIFIED = "qualification IN ('bachelor', 'master', 'doctorate')"  # Education Law 2019, art. 72


def classes(year: int, level: Level, sign: float = 1, where: str = "") -> Measure:
    return Measure("classes", _in_level(year, level) + (f" AND {where}" if where else ""), sign)


def teachers(year: int, level: Level, where: str = "") -> Measure:
    return Measure("teachers", _in_level(year, level) + (f" AND {where}" if where else ""))


def pupils_per_class(year, level, levels):
    return Ratio((enrolment(year, level),), (classes(year, level),), scale=1.0)


def teachers_per_class(year, level, levels):
    return Ratio((teachers(year, level),), (classes(year, level),), scale=1.0)


def teacher_gap(year, level, levels, norms: dict):
    """Teachers minus the teachers the norms require (negative: a shortage)."""
    norm = norms[level.code]
    if isinstance(norm, dict):  # primary: by one or two sessions a day
        required = (
            classes(year, level, -norm["two_sessions"], "two_sessions = 'yes'"),
            classes(year, level, -norm["one_session"], "two_sessions <> 'yes'"),
        )
    else:
        required = (classes(year, level, -norm),)
    return Ratio((teachers(year, level), *required), (), scale=1.0)


def staffing(year: int, level: Level, measure: str, sign: float = 1) -> Measure:
    """Teachers (full-time equivalents) by teaching subject: supply, demand, shortage, surplus."""
    return Measure("subject_staffing", f"{_in_level(year, level)} AND measure = '{measure}'", sign)


def subject_shortage(year, level, levels):
    # The cube keeps only non-zero shortages: the supply rows, weighted 0, make "none" a 0.
    return Ratio((staffing(year, level, "shortage"), staffing(year, level, "supply", 0)), (), 1.0)


def subject_surplus(year, level, levels):
    return Ratio((staffing(year, level, "surplus"), staffing(year, level, "supply", 0)), (), 1.0)


def subject_balance(year, level, levels):
    return Ratio((staffing(year, level, "supply"), staffing(year, level, "demand", -1)), (), 1.0)


def qualified_teachers(year, level, levels):
    return Ratio((teachers(year, level, QUALIFIED),), (teachers(year, level),))


def identities_verified(year, level, levels):
    return Ratio(
        (Measure("identities", "verification_status = 'verified'"),),
        (Measure("identities", "1 = 1"),),
    )


def _submissions(year: int, where: str = "") -> Measure:
    return Measure("submissions", f"year = {year}" + (f" AND {where}" if where else ""))


def submissions_complete(year, level, levels):
    return Ratio((_submissions(year, "complete = 'yes'"),), (_submissions(year),))


def submissions_on_time(year, level, levels):
    return Ratio((_submissions(year, "on_time = 'yes'"),), (_submissions(year),))

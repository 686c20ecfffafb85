"""Generated children for tests and the import benchmark: a county with schools, residents and the planted
out-of-school children (deterministic from a seed, valid GB 11643 ID numbers)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.registry.domain.registration import id_number_check_digit

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "小明华丽强伟芳娜敏静磊洋艳勇军杰涛超秀英"


def make_id(county: str, birth: date, seq: int) -> str:
    body = f"{county}{birth:%Y%m%d}{seq % 1000:03d}"
    return body + id_number_check_digit(body)


@dataclass
class County:
    """A generated county: population rows (public security) and registrations (学籍)."""

    code: str
    population: list[dict[str, str]] = field(default_factory=list)
    students: list[dict[str, str]] = field(default_factory=list)
    planted_out_of_school: set[str] = field(default_factory=set)

    def population_csv(self) -> bytes:
        return _csv(("id_number", "name", "birth_date", "township_code"), self.population)

    def students_csv(self) -> bytes:
        return _csv(("id_number", "name", "birth_date", "school_code", "grade", "class_name"), self.students)


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> bytes:
    lines = [",".join(columns)]
    lines.extend(",".join(r[c] for c in columns) for r in rows)
    return ("\n".join(lines) + "\n").encode()


def generate_county(children: int, *, county: str = "520102", out_of_school_ratio: float = 0.002,
                    school_year: int = 2026, seed: int = 7, townships: int = 10) -> County:
    """`children` residents aged 6-15 on the cut-off; a few are planted with no registration."""
    rng = random.Random(seed)
    result = County(county)
    cutoff = date(school_year, 8, 31)
    used: set[str] = set()
    for n in range(children):
        while True:
            age = rng.randint(6, 15)
            birth = cutoff - timedelta(days=365 * age + rng.randint(1, 360))
            if (cutoff.year - birth.year - ((cutoff.month, cutoff.day) < (birth.month, birth.day))) not in range(6, 16):
                continue
            id_number = make_id(county, birth, rng.randint(0, 999))
            if id_number not in used:
                used.add(id_number)
                break
        township = f"{county}{1 + n % townships:03d}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        result.population.append({"id_number": id_number, "name": name, "birth_date": birth.isoformat(),
                                  "township_code": township})
        if rng.random() < out_of_school_ratio:
            result.planted_out_of_school.add(id_number)
            continue
        grade = max(1, min(9, cutoff.year - birth.year - 6 + ((cutoff.month, cutoff.day) >= (birth.month, birth.day))))
        level = "P" if grade <= 6 else "J"
        school = f"{county}{level}{1 + n % townships:03d}"
        result.students.append({"id_number": id_number, "name": name, "birth_date": birth.isoformat(),
                                "school_code": school, "grade": str(grade), "class_name": f"{grade}-{1 + n % 4}"})
    return result


def schools_of(county: str, townships: int = 10) -> list[dict[str, str]]:
    """The primary and junior school of each generated township."""
    out = []
    for t in range(1, townships + 1):
        for level, tag in (("primary", "P"), ("junior", "J")):
            out.append({"code": f"{county}{tag}{t:03d}", "name": f"第{t}{'小学' if tag == 'P' else '中学'}",
                        "level": level, "county_code": county, "township_code": f"{county}{t:03d}"})
    return out

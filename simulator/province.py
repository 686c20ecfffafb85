"""A synthetic province on the real division hierarchy: counties and townships from the registry's GB/T 2260
codes, schools in townships, children with valid ID numbers, special groups and risk. Pure: no I/O."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "子涵欣怡梓轩浩宇雨桐一诺俊杰思远佳琪明轩嘉怡博文晨曦语嫣宇航诗涵天佑若汐泽宇梦瑶"
# special groups (特殊群体) and how often they occur among children
GROUPS = {"left_behind": 0.12, "registered_poor": 0.06, "poverty_exit": 0.04, "monitored": 0.02, "single_parent": 0.04,
          "disabled": 0.01, "learning_difficulty": 0.05, "migrant": 0.03, "orphan": 0.003, "de_facto_unsupported": 0.003}
RISKY = {"left_behind", "registered_poor", "monitored", "single_parent", "learning_difficulty", "orphan",
         "de_facto_unsupported", "disabled"}
CAUSES_BY_GROUP = {"registered_poor": "poverty", "poverty_exit": "poverty", "monitored": "poverty",
                   "learning_difficulty": "learning_difficulty", "disabled": "illness_or_disability",
                   "left_behind": "family", "single_parent": "family", "orphan": "family",
                   "de_facto_unsupported": "family"}
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_digit(first17: str) -> str:
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


@dataclass
class School:
    code: str
    name: str
    level: str
    county: str
    township: str
    school_id: str = ""

    @property
    def grades(self) -> range:
        return range(1, 7) if self.level == "primary" else range(7, 10)


@dataclass
class Child:
    id_number: str
    name: str
    birth_date: date
    county: str
    township: str
    groups: tuple[str, ...]
    school: School | None = None
    grade: int | None = None
    class_name: str | None = None
    student_id: str = ""
    graduated: bool = False  # a primary graduate of the summer (registered in grade 6, then 毕业)


@dataclass
class County:
    code: str
    name: str
    townships: list[str]
    schools: list[School] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)


class Generator:
    """Builds the province deterministically from a seed."""

    def __init__(self, seed: int, school_year: int) -> None:
        self.rng = random.Random(seed)
        self.school_year = school_year
        self._serial: dict[tuple[str, date], int] = {}

    def id_number(self, county: str, birth: date) -> str:
        n = self._serial.get((county, birth), self.rng.randrange(0, 300))
        self._serial[(county, birth)] = n + 1
        if n > 999:
            raise ValueError("too many children born on one day in one county")
        first = f"{county}{birth:%Y%m%d}{n:03d}"
        return first + check_digit(first)

    def birth_date(self, grade: int) -> date:
        """A child of this grade on time: six on 1 September of the year they entered grade 1."""
        start = date(self.school_year - grade - 5, 9, 1)
        return start + timedelta(days=self.rng.randrange(0, 365))

    def groups(self) -> tuple[str, ...]:
        return tuple(sorted(g for g, p in GROUPS.items() if self.rng.random() < p))

    def name(self) -> str:
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2))))

    def county(self, code: str, name: str, townships: list[str], schools: int, students: int, run: str,
               never_enrolled: int) -> County:
        county = County(code, name, townships)
        for i in range(schools):
            level = "primary" if i % 2 == 0 or schools == 1 else "junior"
            township = townships[i % len(townships)]
            county.schools.append(School(code=f"S{run}{code}{i:03d}", name=f"{name}第{i + 1}{'小学' if level == 'primary' else '中学'}",
                                         level=level, county=code, township=township))
        for n in range(students):
            school = county.schools[n % len(county.schools)]
            grade = self.rng.choice(list(school.grades))
            birth = self.birth_date(grade)
            county.children.append(Child(
                id_number=self.id_number(code, birth), name=self.name(), birth_date=birth, county=code,
                township=school.township, groups=self.groups(), school=school, grade=grade,
                class_name=f"{grade}-{self.rng.randrange(1, 5)}"))
        for _ in range(never_enrolled):  # 失学: resident, of compulsory age, never registered
            birth = date(self.school_year - 13, 1, 1) + timedelta(days=self.rng.randrange(0, 3 * 365))
            groups = self.groups() or (self.rng.choice(("registered_poor", "left_behind", "disabled")),)
            county.children.append(Child(id_number=self.id_number(code, birth), name=self.name(), birth_date=birth,
                                         county=code, township=self.rng.choice(townships), groups=groups))
        return county


    def graduates(self, county: County, n: int) -> list[Child]:
        """Children who finished primary school this summer: registered in grade 6 (now of junior age), then
        graduated; none is admitted to a junior school (小升初 missed unless someone acts)."""
        out = []
        primary = [s for s in county.schools if s.level == "primary"] or county.schools
        for i in range(n):
            school = primary[i % len(primary)]
            birth = self.birth_date(7)
            out.append(Child(id_number=self.id_number(county.code, birth), name=self.name(), birth_date=birth,
                             county=county.code, township=school.township, groups=self.groups(), school=school,
                             grade=6, class_name="6-1", graduated=True))
        return out


def students_csv(children: list[Child]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id_number", "name", "birth_date", "school_code", "grade", "class_name", "guardian_name",
                "guardian_phone", "head_teacher_id", "head_teacher_name"])
    for c in children:
        if c.school is None:
            continue
        w.writerow([c.id_number, c.name, c.birth_date.isoformat(), c.school.code, c.grade, c.class_name,
                    c.name[0] + "家长", "13800000000", f"ht-{c.school.code}-{c.class_name}", "班主任"])
    return out.getvalue().encode()


def population_csv(children: list[Child]) -> bytes:
    """The public-security / poverty / disability merge (适龄儿童少年台账) with special groups."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id_number", "name", "birth_date", "township_code", "flags"])
    for c in children:
        flags = ";".join(f"{g}:2" if g == "disabled" else g for g in c.groups)
        w.writerow([c.id_number, c.name, c.birth_date.isoformat(), c.township, flags])
    return out.getvalue().encode()

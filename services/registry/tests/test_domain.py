"""Registry rules as stories: valid ID numbers, one registration per child, least exposure."""

from datetime import date

import pytest
from hypothesis import given, strategies as st

from services.registry.adapters.publishing import to_contract
from services.registry.application.registry import Registry
from services.registry.application.store import RegistryApp
from services.registry.domain.errors import Conflict, InvalidInput, NotFound
from services.registry.domain.registration import (
    id_number_check_digit,
    mask_id_number,
    mask_name,
    normalise_id_number,
    student_id_for,
    validate_id_number,
)
from services.runtime.testing import in_memory

TODAY = date(2026, 11, 22)


def make_id(prefix17: str) -> str:
    return prefix17 + id_number_check_digit(prefix17)


def wrong_id(prefix17: str) -> str:
    right = id_number_check_digit(prefix17)
    return prefix17 + ("0" if right != "0" else "1")


@pytest.fixture
def registry():
    app = Registry(in_memory(RegistryApp))
    school, _ = app.registration.register_school(
        code="52010200101", name="观山湖第一小学", level="primary", county_code="520102", township_code="520102001", meta={}
    )
    app.school_id = school.school_id
    return app


def enrol(app, id_number, **overrides):
    fields = dict(
        id_number=id_number, name="王小明", birth_date=validate_id_number(id_number), school_id=app.school_id,
        grade=4, class_name="4-2",
    )
    fields.update(overrides)
    return app.registration.enrol_student(today=TODAY, meta={"actor_id": "t"}, **fields)


def test_a_child_is_enrolled_once_and_a_repeat_is_harmless(registry):
    child = make_id("52010220160512003")
    first, created = enrol(registry, child)
    again, created_again = enrol(registry, child)
    assert created and not created_again and first == again
    assert first.name_masked == "王*明" and first.id_number_masked == "520102********" + child[-4:]


def test_a_child_registered_elsewhere_must_transfer(registry):
    child = make_id("52010220160512003")
    enrol(registry, child)
    with pytest.raises(Conflict) as err:
        enrol(registry, child, class_name="4-3")
    assert err.value.rule == "one_active_enrolment"


@pytest.mark.parametrize(
    "id_number, birth, rule",
    [
        (wrong_id("52010220160512003"), None, "id_number_check_digit"),
        ("52010220160512003", None, "id_number_format"),
        (make_id("52010220161312003"), date(2016, 1, 1), "id_number_birth_date"),
        (make_id("52010220300101003"), date(2030, 1, 1), "birth_date_not_future"),
        (make_id("52010219900101003"), date(1990, 1, 1), "age_plausible"),
    ],
)
def test_bad_identity_data_is_refused_with_the_rule_named(registry, id_number, birth, rule):
    with pytest.raises(InvalidInput) as err:
        registry.registration.enrol_student(
            today=TODAY, meta={}, id_number=id_number, name="李四", birth_date=birth or date(2016, 5, 12),
            school_id=registry.school_id, grade=4, class_name="4-1",
        )
    assert err.value.rule == rule


def test_birth_date_must_match_the_id_number(registry):
    with pytest.raises(InvalidInput) as err:
        enrol(registry, make_id("52010220160512003"), birth_date=date(2016, 5, 13))
    assert err.value.rule == "birth_date_matches_id_number"


def test_a_primary_school_has_no_grade_eight(registry):
    with pytest.raises(InvalidInput) as err:
        enrol(registry, make_id("52010220120512003"), grade=8)
    assert err.value.rule == "grade_fits_school"


def test_unknown_school_is_not_found(registry):
    import uuid

    with pytest.raises(NotFound):
        enrol(registry, make_id("52010220160512003"), school_id=str(uuid.uuid4()))


def test_same_school_code_with_other_details_conflicts(registry):
    with pytest.raises(Conflict):
        registry.registration.register_school(
            code="52010200101", name="别的学校", level="primary", county_code="520102", township_code="520102001", meta={}
        )


def test_published_enrolment_carries_no_clear_name_or_id_number(registry):
    child = make_id("52010220160512003")
    enrol(registry, child)
    notifications = registry.store.recorder.select_notifications(start=1, limit=10)
    contracts = [to_contract(registry.store.mapper.to_domain_event(n)) for n in notifications]
    enrolled = contracts[-1]
    dumped = enrolled.model_dump_json()
    assert child not in dumped and "王小明" not in dumped


@given(st.from_regex(r"[0-9]{17}", fullmatch=True))
def test_every_id_with_its_check_digit_validates_and_any_other_check_character_does_not(first17):
    body = "520102" + "20150101" + first17[-3:]
    good = body + id_number_check_digit(body)
    assert validate_id_number(good) == date(2015, 1, 1)
    for wrong in "0123456789X":
        if wrong != good[-1]:
            with pytest.raises(InvalidInput):
                validate_id_number(body + wrong)


@given(st.from_regex(r"\d", fullmatch=True).filter(lambda d: not "0" <= d <= "9"))
def test_an_id_number_with_any_non_ascii_digit_is_refused_and_full_width_ones_normalise_to_the_same_child(digit):
    good = "52010220150101" + "123"
    good += id_number_check_digit(good)
    with pytest.raises(InvalidInput):
        validate_id_number(good[:10] + digit + good[11:])
    full_width = good.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert normalise_id_number(full_width) == good and student_id_for(full_width) == student_id_for(good)


@given(st.text(min_size=1, max_size=8))
def test_masked_names_never_reveal_the_middle(name):
    masked = mask_name(name)
    assert len(masked) == max(len(name), 1) or len(name) == 1
    if len(name) > 2:
        assert masked[1:-1] == "*" * (len(name) - 2)


def test_masked_id_number_keeps_region_and_last_four():
    assert mask_id_number("52010220150301123X") == "520102********123X"

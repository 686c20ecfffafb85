"""Personal data at rest: keyed pseudonyms (the attack), sealed fields, blind indexes, rotation, erasure."""

from __future__ import annotations

import os
import uuid
from datetime import date, timedelta

import pytest

from services.registry.domain import pseudonyms
from services.registry.domain.registration import NAMESPACE, id_number_check_digit, mask_id_number
from services.registry.domain.erasure import Erasure, erasure_id_for
from services.registry.adapters.keys import KeyFileProvider, MemoryDataKeys, SubjectErased
from services.registry.adapters.sealing import ERASED_ID_NUMBER, Sealer
from services.registry.settings import RegistrySettings
from services.registry.tests.stories import META, County, make_id
from services.runtime.aggregates import load
from contracts.events.registry import StudentEnrolledV1

CHILD = make_id("52010220150807102")


@pytest.fixture
def production_key():
    """A secret pseudonym key, as a deployment sets it (the attacker does not have it)."""
    pseudonyms.configure(os.urandom(24).hex())
    yield
    pseudonyms.configure(pseudonyms.DEV_PSEUDONYM_KEY)


def recover_id_number(student_id: str, id_number_masked: str) -> str | None:
    """The attack: try every hidden birth date (2005-2020) behind the masked number against the published id,
    with every scheme an attacker reading the source could try (the old uuid5, the development key)."""
    region, tail = id_number_masked[:6], id_number_masked[-4:]
    day = date(2005, 1, 1)
    dev = pseudonyms.DEV_PSEUDONYM_KEY.encode()
    import hashlib
    import hmac

    while day <= date(2020, 12, 31):
        candidate = region + day.strftime("%Y%m%d") + tail
        if id_number_check_digit(candidate[:17]) == candidate[17]:
            old = uuid.uuid5(NAMESPACE, f"student:{candidate}")
            devkeyed = uuid.UUID(bytes=hmac.new(dev, f"student\x00{candidate}".encode(), hashlib.sha256).digest()[:16],
                                 version=4)
            if student_id in (str(old), str(devkeyed)):
                return candidate
        day += timedelta(days=1)
    return None


def test_a_published_student_id_and_masked_id_number_do_not_give_the_number_back(production_key):
    county = County()
    county.enrol(CHILD)
    published = [c for c in county.published() if isinstance(c, StudentEnrolledV1)][0]
    assert published.id_number_masked == mask_id_number(CHILD)
    assert recover_id_number(published.student_id, published.id_number_masked) is None
    again = County()  # the same child enrolled twice is the same student (idempotent, import linkage)
    assert again.enrol(CHILD) == county.enrol(CHILD) == published.student_id


def test_the_attack_works_on_ids_made_with_the_development_key():
    """The development key is public (in the source): production refuses it (next test)."""
    county = County()
    county.enrol(CHILD)
    published = [c for c in county.published() if isinstance(c, StudentEnrolledV1)][0]
    assert recover_id_number(published.student_id, published.id_number_masked) == CHILD


def test_production_refuses_the_development_pseudonym_key_and_a_missing_key_file(tmp_path):
    base = {"env": "production", "jwt_secret": "x" * 40, "jwt_dev_tokens": True}
    with pytest.raises(ValueError, match="PSEUDONYM_KEY"):
        RegistrySettings(**base, key_file=tmp_path / "k.json")
    with pytest.raises(ValueError, match="KEY_FILE"):
        RegistrySettings(**base, pseudonym_key="p" * 40)
    assert RegistrySettings(**base, pseudonym_key="p" * 40, key_file=tmp_path / "k.json").key_file


def test_personal_fields_are_sealed_in_the_stored_events_and_open_through_the_app():
    county = County()
    sid = county.app.registration.enrol_student(today=date(2026, 9, 1), meta=META, id_number=CHILD, name="李秀英",
                                                birth_date=date(2015, 8, 7), school_id=county.primary, grade=4, class_name="4-1",
                                                guardian_name="李大壮", guardian_phone="13912345678")[0].student_id
    county.resident(CHILD, name="李秀英", guardian_phone="13912345678")
    stored = b"".join(n.state for n in county.app.store.recorder.select_notifications(start=1, limit=1000))
    for clear in ("李秀英", "李大壮", "13912345678", CHILD, "2015-08-07"):
        assert clear.encode() not in stored
    student = county.app.registration.student(uuid.UUID(sid))
    assert (student.name, student.guardian_phone, student.birth_date) == ("李秀英", "13912345678", date(2015, 8, 7))


def test_the_read_model_keeps_no_clear_name_and_finds_by_exact_name():
    county = County()
    county.resident(CHILD, name="李秀英", guardian_name="李大壮", guardian_phone="13912345678")
    county.app.index.catch_up(county.app.store)
    assert "李秀英" not in str(county.app.index.tables) and "13912345678" not in str(county.app.index.tables)
    found = county.app.queries.find_children("520102", name="李秀英")
    assert [f["name_masked"] for f in found] == ["李*英"]
    assert county.app.queries.find_children("520102", name="李秀") == []
    again = county.resident(CHILD, name="李秀英", guardian_name="李大壮", guardian_phone="13912345678")
    assert county.last_outcome == "unchanged" and again is not None


def test_history_masks_the_birth_date_beside_the_masked_id_number():
    county = County()
    sid = county.enrol(CHILD)
    county.resident(CHILD)
    history = county.app.queries.child_history("520102", sid)
    text = str(history)
    assert "2015-08-07" not in text and "08-07" not in text and "2015-**-**" in text


def test_rotation_rewraps_every_data_key_and_the_old_kek_can_go():
    old = KeyFileProvider({"k1": os.urandom(32)}, "k1")
    keys = MemoryDataKeys(old)
    county = County(data_keys=keys)
    sid = county.enrol(CHILD, name="李秀英")
    assert keys.kek_ids_in_use() == {"k1": 1}
    both = KeyFileProvider({"k1": old._keys["k1"], "k2": os.urandom(32)}, "k2")
    keys.provider = both
    assert keys.rewrap() == 1 and keys.kek_ids_in_use() == {"k2": 1}
    only_new = KeyFileProvider({"k2": both._keys["k2"]}, "k2")
    fresh = MemoryDataKeys(only_new)  # a new process: nothing cached, only the new KEK
    fresh.rows = keys.rows
    county.app.store.mapper.sealer = Sealer(fresh)  # the same stored events read by a process with only the new KEK
    assert county.app.registration.student(uuid.UUID(sid)).name == "李秀英"


def test_erasure_destroys_the_keys_so_the_data_reads_as_blanks_while_counts_stay():
    county = County()
    sid = county.enrol(CHILD, name="李秀英")
    county.resident(CHILD, name="李秀英", guardian_phone="13912345678")
    other = county.enrol(make_id("52010220160512103"), name="张三丰")
    before = county.app.queries.grade_counts("520102", by="school")
    with pytest.raises(Exception, match="审批"):
        county.app.erasure.erase_child("520102", sid, legal_basis="consent_withdrawn", reference="R1",
                                       approved_by=META["actor_id"], meta=META)
    with pytest.raises(Exception, match="没有该儿童"):
        county.app.erasure.erase_child("520103", sid, legal_basis="consent_withdrawn", reference="R1", approved_by="boss",
                                       meta=META)
    done = county.app.erasure.erase_child("520102", sid, legal_basis="consent_withdrawn", reference="R1", approved_by="boss",
                                          meta=META)
    assert done["data_keys_destroyed"] == 2  # registration + population record
    student = county.app.registration.student(uuid.UUID(sid))
    assert (student.name, student.id_number, student.birth_date) == ("", ERASED_ID_NUMBER, None)
    everything = str([vars(county.app.store.mapper.to_domain_event(n))
                      for n in county.app.store.recorder.select_notifications(start=1, limit=1000)])
    assert "李秀英" not in everything and "13912345678" not in everything and CHILD not in everything
    assert "张三丰" in everything  # other children untouched
    county.app.index.drop()
    county.app.index.catch_up(county.app.store)  # a rebuilt read model holds nothing of the erased child either
    assert "李*英" not in str(county.app.index.tables) and "李秀英" not in str(county.app.index.tables)
    assert county.app.queries.grade_counts("520102", by="school") == before
    assert county.app.queries.find_children("520102", name="李秀英") == []
    assert county.app.queries.find_children("520102", name="张三丰")[0]["student_id"] == other
    assert load(county.app.store.repository, Erasure, erasure_id_for(sid)).approved_by == "boss"
    erased = [c for c in county.published() if type(c).__name__ == "StudentErasedV1"]
    assert [(e.student_id, e.legal_basis) for e in erased] == [(sid, "consent_withdrawn")]
    with pytest.raises(SubjectErased):  # a source reporting the child again records nothing personal
        county.resident(CHILD, name="李秀英")
    assert "李秀英" not in str([vars(county.app.store.mapper.to_domain_event(n))
                             for n in county.app.store.recorder.select_notifications(start=1, limit=1000)])

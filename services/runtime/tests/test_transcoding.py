"""The event store's transcoder decodes what the library's JSON transcoder decodes, to equal values."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

from services.runtime.eventstore import DateAsISO, ServiceApplication
from services.runtime.transcoding import FastJSONTranscoder


def transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    app = ServiceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    assert isinstance(app.mapper.transcoder, FastJSONTranscoder)
    library = JSONTranscoder()
    app.register_transcodings(library)
    return library, app.mapper.transcoder


STATES = [
    {"timestamp": datetime(2026, 9, 1, 8, 30, 1, 5, tzinfo=timezone.utc), "on": date(2026, 9, 1),
     "originator_topic": "x:Y", "id": uuid.uuid4(), "grade": 3, "ratio": 0.1, "none": None, "flag": True,
     "meta": {"actor_id": "cli", "at": "2026-09-01T08:00:00+08:00", "nested": {"d": date(2020, 1, 2)}},
     "records": [{"on": date(2026, 1, 1), "ids": [uuid.uuid4(), uuid.uuid4()]}, [date(2026, 2, 2), "名字"]],
     "pair": ("a", date(2026, 3, 3)), "looks_typed": {"_type_": "date_iso", "_data_": "2026-04-04", "x": 1},
     "only_type": {"_type_": "nothing"}, "text": "\u0000 \\ \" 名 \U0001f600"},
    [1, 2, {"a": [date(2026, 1, 1)]}],
    {"big": 2**70, "bigger": 3**50, "negative": -(2**64) - 1, "u64": 2**64 - 1, "float": 1e308, "tiny": 5e-324},
    "just text",
]


@pytest.mark.parametrize("state", STATES)
def test_fast_decode_equals_the_library_decode(state):
    library, fast = transcoders()
    data = library.encode(state)
    assert repr(fast.decode(data)) == repr(library.decode(data))  # repr: an int and an equal float differ
    assert fast.encode(state) == data  # encoding is the library's


def test_text_orjson_refuses_is_decoded_by_the_library():
    library, fast = transcoders()
    for data in (b'{"x": NaN, "y": [Infinity]}', b'{"s": "\\ud800"}', b'{"n": 123456789012345678901234567890}',
                 b'[1E400, -0.0, 1.00000000000000000000001]'):
        assert repr(fast.decode(data)) == repr(library.decode(data))


def test_an_unknown_transcoding_fails_as_the_library_fails():
    library, fast = transcoders()
    data = b'{"a": {"_type_": "gone", "_data_": 1}}'
    for transcoder in (library, fast):
        with pytest.raises(TranscodingNotRegisteredError):
            transcoder.decode(data)


def test_the_date_transcoding_is_registered():
    _, fast = transcoders()
    assert isinstance(fast.names["date_iso"], DateAsISO)

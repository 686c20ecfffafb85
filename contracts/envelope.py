"""The CloudEvents 1.0 envelope every message carries (binary mode over Kafka).

Standard attributes: id, source, type, subject, time, datacontenttype. Extensions (lower-case
alphanumerics, as CloudEvents requires): aggregateversion, sequence (the source event store's
notification id), partitionprev (the previous sequence published to the same partition, so a
consumer can prove it saw every message), actorid, actorrole, jurisdiction, correlationid,
causationid.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """Metadata of one published event; the payload is a :class:`contracts.Contract`."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Unique event id (the stored event's originator id and version)")
    source: str = Field(description="Publishing service, e.g. /baoxue/casework")
    type: str = Field(description="Contract type, e.g. cn.baoxue.casework.CaseOpened.v1")
    subject: str = Field(description="Aggregate id; also the Kafka message key")
    time: datetime
    aggregateversion: int
    sequence: int = Field(description="Notification id in the source event store")
    partitionprev: int = Field(0, description="Sequence of the previous message in this partition")
    actorid: str
    actorrole: str
    jurisdiction: str = Field(description="Administrative division code the event belongs to")
    correlationid: str
    causationid: str | None = None

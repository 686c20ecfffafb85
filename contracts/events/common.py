"""Field types shared by contracts."""

from typing import Annotated

from pydantic import Field

JurisdictionCode = Annotated[
    str,
    Field(
        pattern=r"^\d{2}(\d{2}(\d{2}(\d{3}(\d{3})?)?)?)?$",
        description="GB/T 2260-style administrative division code (行政区划): 2/4/6/9/12 digits",
    ),
]
Id = Annotated[str, Field(min_length=1, max_length=64, description="Opaque identifier (UUID text)")]
Grade = Annotated[int, Field(ge=1, le=9, description="Grade 1-6 primary, 7-9 junior secondary")]

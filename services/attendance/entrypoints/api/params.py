"""Path parameters the attendance routes share."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path

SchoolId = Annotated[str, Path(min_length=1, max_length=64, description="School id from the registry")]
Day = Annotated[date, Path(description="School date, YYYY-MM-DD (local time)")]
Code = Annotated[str, Path(pattern=r"^[0-9]{2}([0-9]{2}([0-9]{2}([0-9]{3}([0-9]{3})?)?)?)?$", description="行政区划 code")]
CountyCode = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="County code (6 digits)")]

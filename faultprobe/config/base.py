"""The pieces every config section shares: the error type, UTC times, the frozen base."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
)

from faultprobe.errors import InputError


class ConfigError(InputError, ValueError):
    """A study config that cannot be used; the message names the file and the key."""


def _to_utc(value: Any) -> datetime:
    """Accept TOML datetimes or ISO strings; naive values are taken as UTC."""
    if isinstance(value, str):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ValueError("expected a date-time such as 2016-10-30T06:40:17Z")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UTCTime = Annotated[datetime, BeforeValidator(_to_utc)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

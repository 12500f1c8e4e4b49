"""The contract's clock: timestamps are naive local time in Asia/Shanghai (CONTRACT.md)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

#: The time zone every naive timestamp of the data, the store and the API is in.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_now() -> dt.datetime:
    """Now as a naive Asia/Shanghai timestamp, whatever the machine's own time zone."""
    return dt.datetime.now(LOCAL_TZ).replace(tzinfo=None)


def naive_local(value: dt.datetime) -> dt.datetime:
    """``value`` as naive Asia/Shanghai time (an aware one is converted, a naive one is kept)."""
    if value.tzinfo is not None:
        return value.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return value

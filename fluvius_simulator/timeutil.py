"""Time helpers: the API's UTC datetime format and Europe/Brussels day boundaries.

Slices are handled as integer epoch seconds internally because value generation
touches ~100 000 slices for three years of quarter-hours; datetimes are only built
at the edges (parsing query parameters, truth records).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
import re
import time
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")

HOUR = 3600
DAY = 86400

# Gas days run 06:00 -> 06:00 local time.
GAS_DAY_START_HOUR = 6


def parse_utc(text: str) -> datetime:
    """Parse the API's strict `YYYY-MM-DDTHH:MM:SSZ` format; raise ValueError otherwise."""
    if not _DATETIME_RE.fullmatch(text):
        raise ValueError(f"'{text}' is not a UTC datetime in the format YYYY-MM-DDTHH:MM:SSZ")
    return datetime.strptime(text, DATETIME_FORMAT).replace(tzinfo=UTC)


def format_utc(moment: datetime) -> str:
    """Format an aware datetime in the API's UTC format."""
    return moment.astimezone(UTC).strftime(DATETIME_FORMAT)


_TIMES_OF_DAY = tuple(f"T{m // 60:02d}:{m % 60:02d}:00Z" for m in range(1440))
_EPOCH = date(1970, 1, 1)


@lru_cache(maxsize=8192)
def _utc_date_text(days: int) -> str:
    return (_EPOCH + timedelta(days=days)).isoformat()


def format_ts(ts: int) -> str:
    """Format epoch seconds in the API's UTC format (fast path for whole minutes)."""
    days, seconds = divmod(ts, DAY)
    if seconds % 60:
        return time.strftime(DATETIME_FORMAT, time.gmtime(ts))
    return _utc_date_text(days) + _TIMES_OF_DAY[seconds // 60]


def ts_to_datetime(ts: int) -> datetime:
    """Epoch seconds to an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def to_ts(moment: datetime) -> int:
    """Aware datetime to epoch seconds."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not accepted; use UTC")
    return int(moment.timestamp())


def local_date(moment: datetime) -> date:
    """The Europe/Brussels calendar date of a moment."""
    return moment.astimezone(BRUSSELS).date()


def local_date_of_ts(ts: int) -> date:
    """The Europe/Brussels calendar date of epoch seconds."""
    return datetime.fromtimestamp(ts, BRUSSELS).date()


@lru_cache(maxsize=8192)
def local_time_ts(day: date, hour: int = 0) -> int:
    """Epoch seconds of `hour`:00 local time on `day` (hours 0 and 6 are never ambiguous)."""
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=BRUSSELS).timestamp())


def local_midnight(day: date) -> datetime:
    """Local midnight of `day` as an aware UTC datetime."""
    return ts_to_datetime(local_time_ts(day))


def electricity_day_bounds(day: date) -> tuple[int, int]:
    """Local midnight to local midnight; 23, 24 or 25 hours long."""
    return local_time_ts(day), local_time_ts(day + timedelta(days=1))


def gas_day_bounds(day: date) -> tuple[int, int]:
    """06:00 local on `day` to 06:00 local the next day."""
    return (
        local_time_ts(day, GAS_DAY_START_HOUR),
        local_time_ts(day + timedelta(days=1), GAS_DAY_START_HOUR),
    )


@lru_cache(maxsize=8192)
def local_minutes(start: int, end: int, step: int) -> tuple[int, ...]:
    """Local minute-of-day of each slice start in [start, end); handles DST days."""
    first_offset = _offset(start)
    if first_offset == _offset(end - 1):
        base = (start + first_offset) % DAY // 60
        return tuple((base + i * step // 60) % 1440 for i in range((end - start) // step))
    return tuple((ts + _offset(ts)) % DAY // 60 for ts in range(start, end, step))


def _offset(ts: int) -> int:
    offset = datetime.fromtimestamp(ts, BRUSSELS).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month0 = divmod(index, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last_day))


def shift_months(moment: datetime, months: int) -> datetime:
    """Shift an aware datetime by calendar months, keeping its UTC time of day."""
    utc = moment.astimezone(UTC)
    shifted = add_months(utc.date(), months)
    return utc.replace(year=shifted.year, month=shifted.month, day=shifted.day)


def history_limit(now: datetime) -> datetime:
    """Oldest readTime `from` the API accepts: local midnight three years before today.

    Aligned to a local midnight so a client may ask from a default mandate's
    dataPeriodFrom, which is built the same way.
    """
    return local_midnight(add_months(local_date(now), -36))

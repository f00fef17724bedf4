"""Brussels days and months, UTC hours and ISO text: the time rules every module shares.

Fluvius cuts its data in local (Europe/Brussels) days, and the capacity tariff
in local months; Home Assistant keeps statistics in UTC hours. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")
HOUR = timedelta(hours=1)
# Gas days run 06:00 -> 06:00 local time.
GAS_DAY_START_HOUR = 6

type MonthKey = tuple[int, int]
"""A Brussels calendar month as (year, month)."""


def require_aware(value: datetime, name: str) -> None:
    """Reject naive datetimes: a naive value cannot be placed in a Brussels day."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def local_midnight(day: date, hour: int = 0) -> datetime:
    """The UTC instant a local day starts (``hour`` local time: 6 for a gas day)."""
    return datetime.combine(day, time(hour), BRUSSELS).astimezone(UTC)


def local_day(moment: datetime) -> date:
    """The Brussels calendar day of an instant."""
    return moment.astimezone(BRUSSELS).date()


def floor_hour(moment: datetime) -> datetime:
    """The start of the (UTC) hour a moment falls in."""
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """The first hour that starts at or after ``moment``."""
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def local_month(moment: datetime) -> MonthKey:
    """The Brussels month an aware instant falls in."""
    require_aware(moment, "moment")
    local = moment.astimezone(BRUSSELS)
    return (local.year, local.month)


def shift_month(key: MonthKey, delta: int) -> MonthKey:
    """The month ``delta`` months after ``key`` (negative goes back)."""
    index = key[0] * 12 + key[1] - 1 + delta
    return (index // 12, index % 12 + 1)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The UTC start (inclusive) and end (exclusive) of a Brussels month."""
    next_year, next_month = shift_month((year, month), 1)
    start = datetime(year, month, 1, tzinfo=BRUSSELS)
    end = datetime(next_year, next_month, 1, tzinfo=BRUSSELS)
    return start.astimezone(UTC), end.astimezone(UTC)


def first_of_month_back(moment: datetime, months: int) -> date:
    """The first day of the Brussels month ``months`` months before ``moment``'s."""
    year, month = shift_month(local_month(moment), -months)
    return date(year, month, 1)


def month_id(key: MonthKey) -> str:
    """``YYYY-MM``, as months are shown in attributes, events and stores."""
    return f"{key[0]:04d}-{key[1]:02d}"


def join_spans[T: (datetime, int)](spans: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    """[start, end) spans, adjacent or overlapping ones joined, in order."""
    joined: list[tuple[T, T]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 text of an optional instant, as attributes, events and stores carry it."""
    return None if moment is None else moment.isoformat()

"""Date ranges: ISO dates, datetimes or shorthands (``7d``), read in the project's time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentlytics.errors import ValidationError

_SHORTHAND = re.compile(r"^(\d{1,5})\s*(m|min|h|d|w|mo|y)$", re.I)
_UNITS = {
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "mo": timedelta(days=30),
    "y": timedelta(days=365),
}
_TZ_NAME = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")


def check_timezone(name: str) -> str:
    """An IANA zone name, safe to inline in SQL.

    Raises:
        ValidationError: INVALID_TIMEZONE.
    """
    try:
        if not _TZ_NAME.match(name):
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'",
            code="INVALID_TIMEZONE",
        ) from None
    return name


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC, exclusive
    tz: str

    @property
    def start_param(self) -> datetime:
        """Naive UTC, as the stores compare timestamps."""
        return self.start.astimezone(UTC).replace(tzinfo=None)

    @property
    def end_param(self) -> datetime:
        return self.end.astimezone(UTC).replace(tzinfo=None)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        length = self.end - self.start
        return Period(self.start - length, self.start, self.tz)

    def as_json(self) -> dict[str, str]:
        return {"from": _iso(self.start), "to": _iso(self.end)}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_point(value: str, zone: ZoneInfo, now: datetime, *, is_end: bool, name: str) -> datetime:
    value = value.strip()
    match = _SHORTHAND.match(value)
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2).lower()]
    if value.lower() in ("now", "today") and is_end:
        return now
    if value.lower() == "today":
        return datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone)
    if value.isdigit() and len(value) >= 10:  # unix ms or seconds
        number = int(value)
        return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, datetime.min.time(), zone)
            return start + timedelta(days=1) if is_end else start
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"{name}={value!r} is not a date: use YYYY-MM-DD, an ISO datetime, unix ms, or a "
            "shorthand such as 7d, 24h, 12w",
            code="INVALID_DATE",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def parse_period(
    since: str | None,
    until: str | None,
    tz: str,
    *,
    default: str = "7d",
    now: datetime | None = None,
) -> Period:
    """The [since, until) range; a date for ``until`` includes that whole day.

    Raises:
        ValidationError: INVALID_DATE, INVALID_DATE_RANGE or INVALID_TIMEZONE.
    """
    zone = ZoneInfo(check_timezone(tz))
    now = now or datetime.now(UTC)
    start = _parse_point(since or default, zone, now, is_end=False, name="since")
    end = _parse_point(until, zone, now, is_end=True, name="until") if until else now
    if start >= end:
        raise ValidationError(
            f"since ({_iso(start)}) must be before until ({_iso(end)})", code="INVALID_DATE_RANGE"
        )
    return Period(start.astimezone(UTC), end.astimezone(UTC), tz)

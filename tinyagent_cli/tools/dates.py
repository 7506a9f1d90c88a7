"""Date arguments: ISO 8601 or a phrase relative to now, resolved to a local aware datetime.

The plan parser resolves every ``date`` argument with :func:`resolve_date` and hands the
tool :func:`to_iso` text; tools read it back with :func:`from_iso`. Phrases go to
dateparser (imported lazily: it takes ~0.3 s), future-preferring, relative to the ``now``
given. What dateparser misreads or does not read is normalised first: a day said alone
("the 3rd", read as March) gets its month and year (see ``_day_of_month``); a bare hour after
"at" ("next Tuesday at 9", "Friday at 3") is read by dateparser as a month, so it becomes
"at 09:00" / "at 15:00" (see ``_bare_hours``); clock times as people say them ("half past
four", "quarter to nine", "4 o'clock", "3p") and short words ("tmrw", "thurs", "weds") are
written as dateparser reads them (see ``_as_written``).

A date without a time of day ("tomorrow", "Dec 12", "2026-12-01", "in 3 days") resolves to
``DEFAULT_TIME`` (09:00) on that day: the text that crosses from the parser to a tool is
an ISO timestamp, so a tool could not tell "no time given" from "midnight" afterwards, and
09:00 is what a person means by "a meeting tomorrow" or "remind me on Friday". All-day
reminders use only the date part anyway.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

DEFAULT_TIME = time(9, 0)
DEFAULT_DURATION = timedelta(minutes=60)

# dateparser "periods" that mean the text named a day (or coarser) but no time of day.
_DATE_ONLY_PERIODS = {"day", "week", "month", "year"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "at 9", "at 3:30", "at 9.30" not followed by am/pm: dateparser reads the number as a month.
_AT_BARE_HOUR = re.compile(r"\bat\s+(\d{1,2})(?:[:.](\d{2}))?\b(?!\s*(?:[ap]\.?m\b|o'?clock|h\b)|[:.]\d)", re.IGNORECASE)
_EVENING_WORDS = re.compile(r"\b(tonight|evening|night|pm)\b", re.IGNORECASE)
# "tomorrow morning at 7" is 07:00: the afternoon rule below is for an hour said alone.
_MORNING_WORDS = re.compile(r"\b(morning|am)\b", re.IGNORECASE)
# "at 1" .. "at 7" with no am/pm means the afternoon: nobody books a 3 a.m. meeting by saying "at 3".
_AFTERNOON_HOURS = range(1, 8)
# A clock time written short, which dateparser reads as something else: "17h"/"17h30" (an
# offset of 17 hours), "5" (May). Only when it is the whole text.
_CLOCK_SHORT = re.compile(r"^(?:at\s+)?(\d{1,2})h(\d{2})?$|^(\d{1,2})$", re.IGNORECASE)
# Alone, these are offsets from now to dateparser ("5m", "2h") or a year ("1700"): nobody
# means either by a due date, and a time of day written so would be silently wrong.
_AMBIGUOUS = re.compile(r"^\d+\s*(?:s|secs?|m|mins?|h|hrs?|d|w|wks?|y|yrs?)$|^\d{4}$", re.IGNORECASE)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*\b", re.IGNORECASE)
_NEXT = re.compile(r"\bnext\b", re.IGNORECASE)
# Spoken clock times and typed short words, as dateparser reads them (``_as_written``).
_HOUR_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_HOUR = r"(1[0-2]|[1-9]|" + "|".join(_HOUR_WORDS) + ")"
_SPOKEN_CLOCK = re.compile(
    r"\b(?:at\s+)?(?:(half|quarter)\s+past|(?:a\s+)?(quarter)\s+(?:to|till|of)|(half))\s+" + _HOUR + r"\b",
    re.IGNORECASE)
_OCLOCK = re.compile(r"\b(?:at\s+)?" + _HOUR + r"\s*o'?clock\b", re.IGNORECASE)
_SHORT_AMPM = re.compile(r"\b(\d{1,2}(?::\d{2})?)([ap])\b(?!\.)", re.IGNORECASE)  # "3p", "9:30a"
_SHORT_WORDS = {"tmrw": "tomorrow", "tmr": "tomorrow", "tmrow": "tomorrow", "tmw": "tomorrow",
                "2morrow": "tomorrow", "thur": "thursday", "thurs": "thursday", "weds": "wednesday"}
_SHORT_WORD = re.compile(r"\b(" + "|".join(_SHORT_WORDS) + r")\b", re.IGNORECASE)
_HALF_AN_HOUR = re.compile(r"\bhalf an hour\b", re.IGNORECASE)
# "the 12th" with no month: dateparser reads 1st..12th as a month ("on the 3rd" -> March).
_DAY_ORDINAL = re.compile(r"\b(?:the\s+)?(3[01]|[12]\d|[1-9])(?:st|nd|rd|th)\b", re.IGNORECASE)
_MONTH_NAME = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE)


def _local_tz(now: datetime) -> tzinfo | None:
    """The zone wall-clock results are in: now's own, or None for the system's (DST-aware)."""
    tz = now.tzinfo
    if tz is None or hasattr(tz, "key"):  # naive, or a zoneinfo zone that knows its own DST rules
        return tz
    # A fixed offset (what datetime.now().astimezone() gives): when it is the system's offset,
    # use the system's rules so a date across a DST change gets its own offset.
    return None if now.utcoffset() == now.astimezone().utcoffset() else tz


def _localise(wall: datetime, now: datetime) -> datetime:
    """Attach the local zone to a naive wall-clock time."""
    tz = _local_tz(now)
    return wall.astimezone() if tz is None else wall.replace(tzinfo=tz)


def _to_local(dt: datetime, now: datetime) -> datetime:
    """An aware datetime expressed in the local zone (same instant)."""
    tz = _local_tz(now)
    return dt.astimezone() if tz is None else dt.astimezone(tz)


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return None


def _hour(word: str) -> int:
    return int(word) if word.isdigit() else _HOUR_WORDS.index(word.lower()) + 1


def _as_written(text: str) -> str:
    """Clock times as said and short words as typed, in the forms dateparser reads:
    "half past four" / "half four" -> "at 4:30", "quarter to nine" -> "at 8:45",
    "4 o'clock" -> "at 4:00" (then an hour like any other "at 4"), "3p" -> "3pm",
    "tmrw" -> "tomorrow", "thurs" -> "thursday", "half an hour" -> "30 minutes"."""

    def spoken(match: re.Match[str]) -> str:
        hour = _hour(match.group(4))
        if match.group(2):  # "quarter to"
            return f"at {hour - 1 or 12}:45"
        return f"at {hour}:{15 if (match.group(1) or '').lower() == 'quarter' else 30}"

    text = _SPOKEN_CLOCK.sub(spoken, text)
    text = _OCLOCK.sub(lambda match: f"at {_hour(match.group(1))}:00", text)
    text = _SHORT_AMPM.sub(lambda match: f"{match.group(1)}{match.group(2)}m", text)
    text = _SHORT_WORD.sub(lambda match: _SHORT_WORDS[match.group(1).lower()], text)
    return _HALF_AN_HOUR.sub("30 minutes", text)


def _day_of_month(text: str, today: date) -> str:
    """ "the 12th" alone as the next 12th, with its month and year written out ("12 December
    2026"): today if it is the 12th, else this month's or a later one's that has that day."""
    match = _DAY_ORDINAL.search(text)
    if match is None or _MONTH_NAME.search(text):
        return text
    day = int(match.group(1))
    months = today.year * 12 + today.month - 1 + (day < today.day)  # this month, or the next once its day has passed
    while True:
        try:
            found = date(months // 12, months % 12 + 1, day)
            break
        except ValueError:  # no 31st in this month: the next month that has one
            months += 1
    return f"{text[:match.start()]}{found:%d %B %Y}{text[match.end():]}"


def _bare_hours(text: str) -> str:
    """Rewrite "at 9" / "at 3" / "at 9.30" as a 24-hour clock time dateparser reads as a time."""
    evening = bool(_EVENING_WORDS.search(text))
    morning = bool(_MORNING_WORDS.search(text))

    def clock(match: re.Match[str]) -> str:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour > 23 or minute > 59:
            return match.group(0)
        if hour < 12 and (evening or (hour in _AFTERNOON_HOURS and not morning)):
            hour += 12
        return f"at {hour:02d}:{minute:02d}"

    return _AT_BARE_HOUR.sub(clock, text)


def _clock_short(text: str) -> str:
    """ "17h" / "17h30" / "5" as "at 17:00" / "at 17:30" / "at 5" (an afternoon hour by
    ``_bare_hours``'s rule); any other text ("2h" too) as it was."""
    match = _CLOCK_SHORT.match(text)
    if match is None:
        return text
    if match.group(3) is not None:
        return f"at {match.group(3)}"
    hour = int(match.group(1))
    if hour > 23 or (hour < 8 and match.group(2) is None):  # "2h" is more likely two hours: refused
        return text
    return f"at {hour:02d}:{match.group(2) or '00'}"


def resolve_date(text: str, now: datetime, *, default_time: time = DEFAULT_TIME) -> datetime | None:
    """``text`` (ISO 8601 or a phrase such as "tomorrow 3pm") as a local aware datetime.

    Empty or blank text is None. Relative phrases count from ``now`` and prefer the future
    ("Friday" is the coming Friday). Raises ValueError saying what was not understood.
    """
    text = " ".join(text.split())
    if not text:
        return None
    if _ISO_DATE.match(text):
        try:
            return _localise(datetime.combine(date.fromisoformat(text), default_time), now)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid date") from None
    iso = _parse_iso(text)
    if iso is not None:
        return _to_local(iso, now) if iso.tzinfo else _localise(iso, now)

    text = _clock_short(_as_written(text))
    if _AMBIGUOUS.match(text):
        raise ValueError(f"{text!r} is ambiguous: write a time ('5pm', '17:00'), a date, or an offset ('in 5 minutes')")

    from dateparser.date import DateDataParser

    wall_now = now if now.tzinfo is None else _to_local(now, now)
    parser = DateDataParser(
        languages=["en"],
        settings={
            # A microsecond nobody says: dateparser tells a time from a bare day by the time it
            # applied changing the base, so "tomorrow at 10" said at 10:00:00 sharp lost its 10.
            "RELATIVE_BASE": wall_now.replace(tzinfo=None, microsecond=1),
            "PREFER_DATES_FROM": "future",
            "RETURN_TIME_AS_PERIOD": True,  # tells "tomorrow" (period day) from "tomorrow 3pm" (time)
        },
    )
    data = parser.get_date_data(_bare_hours(_day_of_month(text, wall_now.date())))
    found = data.date_obj
    if found is None:
        raise ValueError(
            f"cannot understand the date {text!r}: use ISO 8601 (2026-11-22T15:00) "
            "or a phrase such as 'tomorrow 3pm' or 'next Tuesday at 9'"
        )
    if found.tzinfo is not None:  # the phrase named a zone ("3pm UTC")
        return _to_local(found, now)
    if data.period in _DATE_ONLY_PERIODS:
        found = datetime.combine(found.date(), default_time)
    found = _today_if_still_ahead(text, found, wall_now.replace(tzinfo=None))
    return _localise(found.replace(microsecond=0), now)


def _today_if_still_ahead(text: str, found: datetime, wall_now: datetime) -> datetime:
    """"Friday at 5pm" said on a Friday morning is today: dateparser's future preference
    gives the Friday after. Not with "next", and not when that time of today has passed."""
    named = _WEEKDAY.search(text)
    if (named is None or _NEXT.search(text) or found.date() != wall_now.date() + timedelta(days=7)
            or _WEEKDAYS.index(named.group(1).lower()) != wall_now.weekday()):
        return found
    today = found - timedelta(days=7)
    return today if today > wall_now else found


def to_iso(dt: datetime) -> str:
    """ISO 8601 with the UTC offset, to the second: ``2026-11-22T15:00:00+01:00``."""
    return dt.isoformat(timespec="seconds")


def from_iso(text: str) -> datetime | None:
    """Read back :func:`to_iso` text; "" is None, a naive time is taken as local.

    Raises ValueError for text that is not ISO 8601 (a tool falls back to
    :func:`resolve_date` when it was called with a phrase directly).
    """
    text = text.strip()
    if not text:
        return None
    if _ISO_DATE.match(text):
        return datetime.combine(date.fromisoformat(text), DEFAULT_TIME).astimezone()
    parsed = _parse_iso(text)
    if parsed is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date")
    return parsed if parsed.tzinfo else parsed.astimezone()


def default_end(start: datetime) -> datetime:
    """The end of an event given only its start: one hour later."""
    return start + DEFAULT_DURATION

"""Date arguments: ISO 8601 and phrases relative to a pinned now, future-preferring, local and aware."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from tinyagent_cli.tools.dates import (
    DEFAULT_TIME,
    default_end,
    from_iso,
    resolve_date,
    to_iso,
)

PLUS_ONE = timezone(timedelta(hours=1))
# Friday 20 November 2026, 10:30 at UTC+01:00.
NOW = datetime(2026, 11, 20, 10, 30, tzinfo=PLUS_ONE)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow 3pm", "2026-11-21T15:00:00+01:00"),
        ("next Tuesday at 9", "2026-11-24T09:00:00+01:00"),  # dateparser alone fails on this
        ("Tuesday at 9:30", "2026-11-24T09:30:00+01:00"),
        ("Friday at 3", "2026-11-20T15:00:00+01:00"),  # said on a Friday morning: today; 3 is the afternoon
        ("next Friday at 3", "2026-11-27T15:00:00+01:00"),
        ("fri 9am", "2026-11-27T09:00:00+01:00"),  # today's 9am has passed
        ("tonight at 8", "2026-11-20T20:00:00+01:00"),
        ("Dec 12 6pm", "2026-12-12T18:00:00+01:00"),
        ("in 2 hours", "2026-11-20T12:30:00+01:00"),
        ("Friday morning", "2026-11-27T09:00:00+01:00"),  # this morning has passed: the next one
        ("tonight", "2026-11-20T20:00:00+01:00"),
        ("tomorrow at 9.30", "2026-11-21T09:30:00+01:00"),
        ("at 9:30pm", "2026-11-20T21:30:00+01:00"),
        ("9am", "2026-11-21T09:00:00+01:00"),  # already past today: future-preferring
        ("Jan 5 10am", "2027-01-05T10:00:00+01:00"),  # past in this year: next year
        ("on Monday at 10", "2026-11-23T10:00:00+01:00"),
    ],
)
def test_phrases_resolve_relative_to_now(phrase: str, expected: str) -> None:
    assert to_iso(resolve_date(phrase, NOW)) == expected


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("tomorrow at half past four", "2026-11-21T16:30:00+01:00"),  # an hour said alone is the afternoon's
        ("Monday quarter to nine", "2026-11-23T08:45:00+01:00"),
        ("a quarter to eight tonight", "2026-11-20T19:45:00+01:00"),
        ("Thursday at half four", "2026-11-26T16:30:00+01:00"),  # British: half past four
        ("quarter past twelve", "2026-11-20T12:15:00+01:00"),
        ("tomorrow at 10 o'clock", "2026-11-21T10:00:00+01:00"),
        ("tmrw 3p", "2026-11-21T15:00:00+01:00"),
        ("Tmrw at 9:30a", "2026-11-21T09:30:00+01:00"),
        ("thurs 2pm", "2026-11-26T14:00:00+01:00"),
        ("weds", "2026-11-25T09:00:00+01:00"),
        ("in half an hour", "2026-11-20T11:00:00+01:00"),
        ("tomorrow morning at 7", "2026-11-21T07:00:00+01:00"),  # not 19:00: the morning was said
        ("Monday morning at 6:30", "2026-11-23T06:30:00+01:00"),
    ],
)
def test_clock_times_as_said_and_short_words_as_typed(phrase: str, expected: str) -> None:
    assert to_iso(resolve_date(phrase, NOW)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T15:00:00+01:00", "2026-11-22T15:00:00+01:00"),
        ("2026-11-22T14:00:00Z", "2026-11-22T15:00:00+01:00"),  # same instant, local offset
        ("2026-11-22 15:00", "2026-11-22T15:00:00+01:00"),  # naive: local
        ("2026-11-22T15:00", "2026-11-22T15:00:00+01:00"),
    ],
)
def test_iso_input(text: str, expected: str) -> None:
    assert to_iso(resolve_date(text, NOW)) == expected


@pytest.mark.parametrize("text", ["tomorrow", "Dec 12", "2026-12-01", "next Tuesday", "in 3 days"])
def test_a_date_without_a_time_gets_the_default_time(text: str) -> None:
    resolved = resolve_date(text, NOW)
    assert resolved is not None and resolved.timetz().replace(tzinfo=None) == DEFAULT_TIME
    assert resolved > NOW


def test_default_time_can_be_chosen_by_the_caller() -> None:
    assert resolve_date("tomorrow", NOW, default_time=time(0, 0)) == datetime(2026, 11, 21, tzinfo=PLUS_ONE)


def test_explicit_midnight_is_kept() -> None:
    assert resolve_date("tomorrow midnight", NOW).hour == 0


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_empty_is_none(blank: str) -> None:
    assert resolve_date(blank, NOW) is None
    assert from_iso(blank) is None


@pytest.mark.parametrize("bad", ["banana", "the day after never", "xyz 3pm", "2026-13-01"])
def test_unparseable_is_a_clear_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match=bad.replace("(", r"\(")):
        resolve_date(bad, NOW)


def test_results_are_aware_and_round_trip_through_iso() -> None:
    for phrase in ("tomorrow 3pm", "in 2 hours", "2026-12-01"):
        resolved = resolve_date(phrase, NOW)
        assert resolved.tzinfo is not None
        assert from_iso(to_iso(resolved)) == resolved


def test_zone_with_daylight_saving_gets_the_offset_of_that_day() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tz database here")
    summer_now = datetime(2026, 10, 20, 10, 0, tzinfo=berlin)  # CEST, +02:00
    assert to_iso(resolve_date("Nov 2 3pm", summer_now)) == "2026-11-02T15:00:00+01:00"


def test_from_iso_rejects_phrases_and_default_end_is_an_hour() -> None:
    with pytest.raises(ValueError):
        from_iso("tomorrow 3pm")
    start = resolve_date("tomorrow 3pm", NOW)
    assert default_end(start) - start == timedelta(hours=1)


@pytest.mark.parametrize(("text", "expected"), [
    ("17h", "2026-11-20T17:00:00+01:00"),  # a clock time, not seventeen hours from now
    ("17h30", "2026-11-20T17:30:00+01:00"),
    ("5", "2026-11-20T17:00:00+01:00"),  # an hour, not May; the afternoon, as "at 5"
])
def test_short_clock_times(text: str, expected: str) -> None:
    assert to_iso(resolve_date(text, NOW)) == expected


@pytest.mark.parametrize("text", ["5m", "2h", "3d", "1700", "2027"])
def test_offsets_and_years_alone_are_refused_not_guessed(text: str) -> None:
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_date(text, NOW)


def test_a_time_said_at_that_very_minute_is_kept() -> None:
    """dateparser reads "at 10" as no time at all when it equals its base time to the microsecond."""
    sharp = datetime(2026, 11, 20, 10, 0, tzinfo=PLUS_ONE)
    assert to_iso(resolve_date("tomorrow at 10", sharp)) == "2026-11-21T10:00:00+01:00"
    assert to_iso(resolve_date("tomorrow", sharp)) == "2026-11-21T09:00:00+01:00"


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("on the 3rd", "2026-12-03T09:00:00+01:00"),  # dateparser alone: March
        ("the 12th at 10am", "2026-12-12T10:00:00+01:00"),  # dateparser alone: 20 December
        ("the 20th", "2026-11-20T09:00:00+01:00"),  # today is the 20th
        ("the 25th at half past four", "2026-11-25T16:30:00+01:00"),
        ("31st", "2026-12-31T09:00:00+01:00"),  # November has no 31st
        ("Dec 3rd", "2026-12-03T09:00:00+01:00"),  # a month named: dateparser's own reading
        ("3rd of January", "2027-01-03T09:00:00+01:00"),
    ],
)
def test_a_day_of_the_month_said_alone_is_the_next_such_day(phrase: str, expected: str) -> None:
    assert to_iso(resolve_date(phrase, NOW)) == expected

"""Stored and answered times: ``utc_text`` against the standard library's own formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ymnotify.clock import parse_utc_text, utc_text

# astimezone can leave datetime's range at its very ends; the stored times never come near them.
MOMENTS = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31))
ZONES = st.one_of(
    st.just(UTC),
    st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)).map(timezone),
    st.sampled_from([ZoneInfo("Europe/Moscow"), ZoneInfo("America/St_Johns"), ZoneInfo("UTC")]),
)


def by_isoformat(moment: datetime) -> str:
    """The definition: what ``isoformat`` writes for the UTC instant, with a ``Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@given(moment=MOMENTS, zone=ZONES)
def test_utc_text_is_isoformat_of_the_utc_instant(moment: datetime, zone: timezone) -> None:
    aware = moment.replace(tzinfo=zone)
    assert utc_text(aware) == by_isoformat(aware)
    parsed = parse_utc_text(utc_text(aware))
    assert parsed == aware
    assert parsed.tzinfo is UTC


@given(moment=MOMENTS)
def test_naive_times_are_local_as_astimezone_takes_them(moment: datetime) -> None:
    assert utc_text(moment) == by_isoformat(moment)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (
            datetime(2026, 9, 20, 12, 15, 42, 318000, timezone(timedelta(hours=3))),
            "2026-09-20T09:15:42.318000Z",
        ),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000000Z"),
        (
            datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),
            "2025-12-31T23:30:00.000000Z",
        ),
    ],
)
def test_fixed_width_text(moment: datetime, text: str) -> None:
    assert utc_text(moment) == text


def test_texts_sort_as_times_do() -> None:
    moments = [
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=3))),
        datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ]
    assert sorted(moments) == sorted(moments, key=utc_text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T09:15:42.318000",  # no Z: would read as a naive time
        "2026-11-28T09:15:42.318000+00:00",
        "2026-11-28 09:15:42.318000Z",
        "2026-11-28T09:15:42.318Z",
        "20261128T091542.318000000Z",
        "2026-11-28T09:15:42.3180000",
        "",
    ],
)
def test_parse_utc_text_takes_only_utc_texts(text: str) -> None:
    with pytest.raises(ValueError, match="not a UTC time"):
        parse_utc_text(text)

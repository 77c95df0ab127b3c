"""Recurrence rules: what is accepted (and how it is tidied), and why others are refused."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bot.calendar.rules import Rule, RuleError, compile_rule, not_a_day, parse_rule


@pytest.mark.parametrize(
    ("written", "rule"),
    [
        ("FREQ=MONTHLY;BYMONTHDAY=4,14,24", Rule("FREQ=MONTHLY;BYMONTHDAY=4,14,24")),
        ("freq=monthly; bymonthday = 4, 14, 24", Rule("FREQ=MONTHLY;BYMONTHDAY=4,14,24")),
        ("RRULE:FREQ=MONTHLY;BYDAY=2SA", Rule("FREQ=MONTHLY;BYDAY=2SA")),
        ("FREQ=MONTHLY;BYDAY=-1FR;", Rule("FREQ=MONTHLY;BYDAY=-1FR")),
        ("FREQ=MONTHLY;BYDAY=1WE;COUNT=6", Rule("FREQ=MONTHLY;BYDAY=1WE;COUNT=6", count=6)),
        ("FREQ=WEEKLY;BYDAY=WE;UNTIL=20270331", Rule("FREQ=WEEKLY;BYDAY=WE", date(2027, 3, 31))),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", Rule("FREQ=MONTHLY;BYMONTHDAY=-1")),
    ],
)
def test_rules_that_are_accepted(written: str, rule: Rule) -> None:
    assert parse_rule(written) == rule


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("", "the rule is empty; write one such as FREQ=MONTHLY;BYMONTHDAY=4,14,24"),
        (
            "BYMONTHDAY=4,14,24",
            "the rule needs FREQ= (DAILY, WEEKLY, MONTHLY or YEARLY), "
            "such as FREQ=MONTHLY;BYMONTHDAY=4,14,24",
        ),
        (
            "FREQ=HOURLY",
            "FREQ=HOURLY repeats within a day, but an event takes place at most once a day; "
            "use DAILY, WEEKLY, MONTHLY or YEARLY",
        ),
        (
            "FREQ=DAILY;BYHOUR=12,18",
            "BYHOUR is not allowed: the time of day is start:, "
            "and an event takes place at most once a day",
        ),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number of 1 or more, got 0"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number of 1 or more, got 0"),
        (
            "FREQ=MONTHLY;BYMONTHDAY=0",
            "BYMONTHDAY values must be 1 to 31, or -1 to -31 counting from the end; got 0",
        ),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH values must be 1 to 12; got 13"),
        (
            "FREQ=MONTHLY;BYDAY=6SA",
            "BYDAY=6SA: with FREQ=MONTHLY the number before the day must be 1 to 5, "
            "or -1 to -5 counting from the end (-1 is the last)",
        ),
        ("FREQ=DAILY;COUNT=3;UNTIL=20271231", "write either COUNT or UNTIL, not both"),
        (
            "FREQ=DAILY;UNTIL=20271231T000000Z",
            "write UNTIL as a date such as UNTIL=20271231 (or use until: instead)",
        ),
        (
            "FREQ=DAILY;UNTIL=20270230",
            "UNTIL=20270230 is not a real date (February 2027 has 28 days)",
        ),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is written twice"),
        (
            "FREQ=MONTHLY;BYMONTHDAY=4 14",
            "no spaces inside the rule; write it like FREQ=MONTHLY;BYMONTHDAY=4,14,24",
        ),
        (
            "FREQ=MONTHLY;4の日",
            '"4の日" is not NAME=VALUE; write the rule like FREQ=MONTHLY;BYMONTHDAY=4,14,24',
        ),
        (
            "DTSTART:20241014T120000\nRRULE:FREQ=MONTHLY",
            "write only the rule (FREQ=...); the first occurrence is date: and start:",
        ),
    ],
)
def test_rules_that_are_refused(written: str, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(written)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("FREQ=MONTHY", "not a valid RRULE: invalid 'FREQ': MONTHY"),
        ("FREQ=MONTHLY;BYDAY=2SAT", "not a valid RRULE: invalid 'BYDAY': 2SAT"),
        ("FREQ=MONTHLY;COLOUR=RED", "not a valid RRULE: unknown parameter 'COLOUR'"),
    ],
)
def test_what_dateutil_says_about_a_rule_is_passed_on(written: str, said: str) -> None:
    rule = parse_rule(written)
    with pytest.raises(RuleError) as caught:
        compile_rule(rule.text, datetime(2024, 10, 14, 12, 0))  # noqa: DTZ001 -- wall time
    assert str(caught.value) == said


def test_a_day_that_is_not_in_the_rule_names_the_nearest_that_are() -> None:
    sugamo = compile_rule("FREQ=MONTHLY;BYMONTHDAY=4,14,24", datetime(2024, 10, 14, 12, 0))  # noqa: DTZ001
    assert not_a_day(sugamo, date(2024, 11, 14)) is None
    assert not_a_day(sugamo, date(2024, 11, 15)) == (
        "2024-11-15 is not a day of this event's rule (nearest: 2024-11-14 or 2024-11-24)"
    )
    assert not_a_day(sugamo, date(2024, 10, 4)) == (
        "2024-10-04 is not a day of this event's rule (nearest: 2024-10-14)"
    )

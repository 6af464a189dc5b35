"""The shared input rules match the whole string: a trailing newline or a stray character fails."""

import pytest

from governor.core.policy import limits
from governor.core.policy.callers import check_key_name
from governor.core.policy.gate import check_idempotency_key, check_project_name, check_session_id
from governor.service.ports import Refusal

RULES = {
    "PROJECT_NAME": ("demo-1", "-demo"),
    "ACCOUNT_NAME": ("main_eu", "main eu"),
    "ARR_ACCOUNT_ID": ("7a3e0b1c-0d2e-4f5a-8b6c-000000000001", "7a3e_0b1c"),
    "CURRENCY": ("EUR", "1EUR"),
    "PRINCIPAL": ("00000000-aaaa-bbbb-cccc-000000000000", "two words"),
    "SESSION_ID": ("s_1-a", "s.1"),
    "IDEMPOTENCY_KEY": ("req:1.a_b-c", "req/1"),
    "KEY_NAME": ("lobby-kiosk.2", ".kiosk"),
}


@pytest.mark.parametrize("name", RULES)
def test_each_rule_matches_the_whole_string(name):
    rule, (good, bad) = getattr(limits, name), RULES[name]
    assert rule.accepts(good)
    for refused in (bad, good + "\n", "\n" + good, good + "\r\n", "", None, 7):
        assert not rule.accepts(refused), refused


def test_the_gate_refuses_a_trailing_newline_naming_the_field():
    for check, good, field in (
        (check_project_name, "demo", "project"),
        (check_session_id, "s1", "sessionId"),
        (check_idempotency_key, "k1", "Idempotency-Key"),
        (check_key_name, "kiosk", "name"),
    ):
        assert check(good) == good
        with pytest.raises(Refusal) as caught:
            check(good + "\n")
        assert caught.value.reason == "bad-request" and caught.value.figures == {"field": field}


def test_a_working_hours_window_is_matched_in_full_with_ascii_digits():
    from governor.core.policy.schedule import ScheduleError, parse_window

    assert parse_window("08:00-18:00", "hours.mon[0]").start == 8 * 60
    for bad in ("08:00-18:00\n", "\u0660\u0668:00-18:00", "08:00-18:00 ", "8:00-18:00"):
        with pytest.raises(ScheduleError) as caught:
            parse_window(bad, "hours.mon[0]")
        assert caught.value.field == "hours.mon[0]"


def test_json_patterns_are_anchored_at_both_ends():
    assert limits.PROJECT_NAME.json_pattern == r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}(?![\s\S])"

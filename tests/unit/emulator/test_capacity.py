import argparse
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import SessionStatus, VmSize
from governor.emulator import DEV_ACCOUNT_ID, cli
from governor.emulator.capacity import Capacity, build, from_json, parse_flag
from governor.emulator.errors import ApiError
from governor.emulator.store import Store

STANDARD, PREMIUM = VmSize.STANDARD, VmSize.PREMIUM


def parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return parser.parse_args(list(flags))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*:Standard=2", ("*", STANDARD, 2)),
        (f"{DEV_ACCOUNT_ID.upper()}:premium=0", (DEV_ACCOUNT_ID, PREMIUM, 0)),
        ("acct-1:STANDARD=1000000", ("acct-1", STANDARD, 1_000_000)),
    ],
)
def test_flag_values(text, expected):
    assert parse_flag(text) == expected
    assert parse("--capacity", text).capacity == [expected]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Standard=2", "expected ACCOUNT:SIZE=N"),
        ("*:Standard", "expected ACCOUNT:SIZE=N"),
        ("a b:Standard=1", "the account must be"),
        (":Standard=1", "the account must be"),
        ("*:Basic=1", "the size must be Standard or Premium"),
        ("*:Standard=-1", "the number of servers"),
        ("*:Standard=1.5", "the number of servers"),
        ("*:Standard=", "the number of servers"),
        ("*:Standard=1000001", "the number of servers"),
    ],
)
def test_bad_flag_values_say_why(text, reason, capsys):
    with pytest.raises(ValueError, match=reason):
        parse_flag(text)
    with pytest.raises(SystemExit) as exit_:
        parse("--capacity", text)
    assert exit_.value.code == 2
    assert f"argument --capacity: {reason}" in capsys.readouterr().err


def test_flags_for_unconfigured_accounts_are_a_config_error():
    from governor.emulator.cli_identity import ConfigError

    args = parse("--capacity", "0c000000-0000-4000-8000-00000000000c:Standard=1")
    with pytest.raises(ConfigError, match="--capacity names the account"):
        cli.build(args)


def test_an_accounts_own_limit_beats_the_star_and_the_last_flag_wins():
    capacity = build([("*", STANDARD, 5), ("a", STANDARD, 1), ("a", STANDARD, 2), ("*", PREMIUM, 0)])
    assert capacity.servers("a", STANDARD) == 2
    assert capacity.servers("b", STANDARD) == 5
    assert capacity.servers("a", PREMIUM) == 0
    assert Capacity().servers("a", STANDARD) is None
    assert capacity.limits_json() == {"*": {"Premium": 0, "Standard": 5}, "a": {"Standard": 2}}


def test_json_limits_need_configured_accounts():
    assert from_json({"limits": {"A": {"standard": 1}}}, ["a"]).servers("a", STANDARD) == 1
    with pytest.raises(ApiError) as error:
        from_json({"limits": {"b": {"Standard": 1}}}, ["a"])
    assert error.value.status == 400


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self):
        return self.now


def test_store_counts_servers_until_stop_expiry_or_error():
    clock = Clock()
    store = Store(clock, timedelta(seconds=5))
    lease = timedelta(minutes=1)
    store.create("a", "s1", STANDARD, lease, "v", servers=1)
    refused, _ = store.create("a", "s2", STANDARD, lease, "v", servers=1)
    store.create("a", "p1", PREMIUM, lease, "v", servers=1)
    store.create("b", "s1", STANDARD, lease, "v", servers=1)
    assert refused.record.fails and refused.status is SessionStatus.STARTING
    assert store.in_use("a") == {STANDARD: 1, PREMIUM: 1}
    store.stop("a", "p1")
    assert store.in_use("a") == {STANDARD: 1}
    clock.now += timedelta(seconds=5) + lease  # s1 expires
    assert store.in_use("a") == {}
    assert store.get("a", "s2").status is SessionStatus.ERROR
    again, _ = store.create("a", "s3", STANDARD, lease, "v", servers=1)
    assert not again.record.fails

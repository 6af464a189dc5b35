"""The local stack's regions (governor/localhost/regions.py): the emulator accepts their flags, and
the host's settings name three accounts at the emulator, each with an account id of its own (the
sweep lists every account: one id under two names would list each session twice)."""

from __future__ import annotations

import argparse

from governor.arr.accounts import accounts_from_settings
from governor.emulator import DEV_ACCOUNT_ID, DEV_ACCOUNT_KEY, DEV_CONNECT_CLIENT_ID
from governor.emulator import cli as emulator_cli
from governor.emulator.cli_identity import build_directory
from governor.localhost import regions
from governor.localhost.stack import Stack, configure, connect_environment, host_environment
from governor.settings import load

EMULATOR = "http://127.0.0.1:8080"


def stack_settings(**base: str) -> dict[str, str]:
    """The host's environment as `Stack.start` builds it."""
    env = host_environment(base, EMULATOR, 10002, "*/5 * * * * *")
    connect = connect_environment("https://127.0.0.1:8443", "/tmp/emulator-tls/cert.pem")
    env.update({k: v for k, v in connect.items() if k not in base})
    env["GOVERNOR_ARR_ACCOUNTS"] = regions.accounts_setting(EMULATOR, env)
    return env


def test_the_host_has_three_accounts_at_the_emulator_each_its_own_id():
    accounts = accounts_from_settings(load(stack_settings()))
    assert list(accounts) == list(regions.ACCOUNT_IDS) == ["default", "westeurope", "japaneast"]
    assert {name: a.account_id for name, a in accounts.items()} == regions.ACCOUNT_IDS
    assert len({a.account_id for a in accounts.values()}) == 3
    for account in accounts.values():
        assert (account.service_endpoint, account.sts_endpoint, account.auth) == (EMULATOR, EMULATOR, "key")
        assert account.account_key == DEV_ACCOUNT_KEY
        assert account.connect_auth == "entra" and account.connect_identity.client_id == DEV_CONNECT_CLIENT_ID


def test_the_regions_follow_the_default_accounts_api_and_connect_settings():
    accounts = accounts_from_settings(load(stack_settings(ARR_API_VERSION="v1", ARR_CONNECT_AUTH="none")))
    assert {a.api_version for a in accounts.values()} == {"v1"}
    assert {a.connect_auth for a in accounts.values()} == {"none"}


def test_the_emulator_serves_the_regions_and_lets_the_connect_identity_connect_there():
    parser = argparse.ArgumentParser()
    emulator_cli.configure(parser)
    args = parser.parse_args(["--account", f"{DEV_ACCOUNT_ID}:{DEV_ACCOUNT_KEY}", *regions.emulator_flags()])
    accounts = dict(args.account)
    assert set(accounts) == set(regions.ACCOUNT_IDS.values())
    build_directory(args, accounts)  # every --assign names an account of an --account
    assert {account for account, client, _ in args.assign if client == DEV_CONNECT_CLIENT_ID} == set(
        regions.REGIONS.values()
    )


def test_projects_given_as_nothing_applies_none_and_never_reads_the_working_directory(tmp_path):
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(["--projects", "", "--data-dir", str(tmp_path)])
    assert args.projects is None
    assert Stack(args).apply_projects() == "projects: none applied (--projects '')"
    assert parser.parse_args([]).projects.name == "projects.json"

"""`python -m governor arr`: drive ARR sessions from scripts, like the seed's PowerShell scripts.

Options fall back to the --config arrconfig.json (v1 or new shape), then to ARR_* environment
variables. Output is JSON on stdout. Exit codes: 0 success, 1 ARR error (message and MS-CV on
stderr), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from typing import Any

from governor.arr.accounts import accounts_from_settings, make_account
from governor.arr.check_connect import check_account
from governor.arr.client import ArrClient
from governor.arr.errors import ArrError
from governor.core.timespan import TimeSpanError, format_timespan, parse_timespan
from governor.settings import SettingsError, load

DONE = ("ready", "error", "expired", "stopped")


def _lease(text: str) -> timedelta:
    try:
        value = parse_timespan(text)
    except TimeSpanError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError("the lease must be positive")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1]
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--endpoint", help="service endpoint: a region such as westus2, or a URL (ARR_SERVICE_ENDPOINT)"
    )
    parser.add_argument("--sts-endpoint", help="token service URL (ARR_STS_ENDPOINT)")
    parser.add_argument("--account-id", help="ARR account id (ARR_ACCOUNT_ID)")
    parser.add_argument("--account-key", help="ARR account key (ARR_ACCOUNT_KEY); without one, ARR_AUTH decides")
    parser.add_argument("--api-version", choices=("v1", "2021-01-01"), help="API generation (ARR_API_VERSION)")
    parser.add_argument("--config", metavar="arrconfig.json", help="an arrconfig.json of the seed scripts")
    sub = parser.add_subparsers(dest="arr_command", metavar="COMMAND", required=True)

    create = sub.add_parser("create", help="create a session")
    create.add_argument("--size", type=str.lower, choices=("standard", "premium"), help="VM size (config vmSize)")
    create.add_argument("--lease", type=_lease, help="total lease, a TimeSpan such as 4:00:00 (config maxLeaseTime)")
    create.add_argument("--model", action="append", default=[], help="model URL to preload (v1 only; repeatable)")
    create.add_argument("--id", help="session id (2021-01-01; default a new GUID; v1 ignores it)")
    create.add_argument("--poll", action="store_true", help="wait until ready, error, expired or stopped")
    create.add_argument("--poll-interval", type=float, default=10.0, help="seconds between polls (default 10)")
    create.add_argument("--poll-timeout", type=float, default=1800.0, help="give up polling after this (default 1800)")

    get = sub.add_parser("get", help="show one session")
    get.add_argument("id")
    sub.add_parser("list", help="list active (starting or ready) sessions")
    update = sub.add_parser("update", help="set the total lease of a session (not an extension by it)")
    update.add_argument("id")
    update.add_argument("--lease", type=_lease, required=True, help="new total lease since start, e.g. 5:00:00")
    stop = sub.add_parser("stop", help="stop a session")
    stop.add_argument("id")
    check = sub.add_parser(
        "check-connect",
        help="with the configured settings, mint each account's connect token and check that ARR refuses a "
        "session create with it (exit 0) or not (exit 1); a create ARR accepts is stopped at once",
    )
    check.add_argument("--account", help="only this configured account (default: every account)")


def session_json(session) -> dict[str, Any]:
    return {
        "id": session.id,
        "account": session.account,
        "status": session.status.value,
        "size": session.size.value if session.size else None,
        "elapsed": format_timespan(session.elapsed),
        "maxLease": format_timespan(session.max_lease),
        "remainingLease": format_timespan(session.remaining_lease),
        "hostname": session.hostname,
        "arrInspectorPort": session.arr_inspector_port,
        "handshakePort": session.handshake_port,
        "created": session.created.isoformat() if session.created else None,
        "teraflops": session.teraflops,
        "message": session.message,
        "errorCode": session.error_code,
    }


class UsageError(Exception):
    pass


def _read_config(path: str | None) -> dict:
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8-sig") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--config {path}: cannot read it as JSON ({type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise UsageError(f"--config {path}: expected a JSON object")
    return config


def _section(config: dict, name: str) -> dict:
    value = config.get(name) or {}
    if not isinstance(value, dict):
        raise UsageError(f"--config: {name} must be an object")
    return value


def _first(*values):
    return next((v for v in values if v not in (None, "")), None)


def build_account(args, environ=None):
    """The account from flags, then the config file (both shapes), then ARR_* settings."""
    settings = load(environ)
    config = _read_config(args.config)
    acc, ses = _section(config, "accountSettings"), _section(config, "renderingSessionSettings")
    names = {
        "accountId": "--account-id",
        "serviceEndpoint": "--endpoint",
        "stsEndpoint": "--sts-endpoint",
        "apiVersion": "--api-version",
        "auth": "ARR_AUTH",
    }
    account = make_account(
        "default",
        _first(args.account_id, acc.get("arrAccountId"), settings["ARR_ACCOUNT_ID"]),
        _first(
            args.endpoint,
            ses.get("remoteRenderingDomain"),  # new shape
            acc.get("serviceEndpoint"),  # v1 shape: override, else the region
            acc.get("region"),
            settings["ARR_SERVICE_ENDPOINT"],
        ),
        sts=_first(args.sts_endpoint, acc.get("authenticationEndpoint"), settings["ARR_STS_ENDPOINT"]),
        domain=_first(acc.get("arrAccountDomain"), settings["ARR_ACCOUNT_DOMAIN"]),
        api_version=_first(args.api_version, settings["ARR_API_VERSION"]),
        auth=settings["ARR_AUTH"],
        key=_first(args.account_key, acc.get("arrAccountKey"), settings["ARR_ACCOUNT_KEY"]),
        token=settings["ARR_ACCESS_TOKEN"],
        timeout=settings["ARR_HTTP_TIMEOUT_SECONDS"],
        retry_total=settings["ARR_RETRY_TOTAL_SECONDS"],
        names=names,
    )
    return account, ses


def _create(client, args, session_settings: dict):
    size = _first(args.size, session_settings.get("vmSize"))
    if size is None or str(size).lower() not in ("standard", "premium"):
        raise UsageError("create needs --size standard|premium (or vmSize in --config)")
    lease = args.lease
    if lease is None:
        text = session_settings.get("maxLeaseTime")
        if not text:
            raise UsageError("create needs --lease (or maxLeaseTime in --config)")
        try:
            lease = _lease(str(text))
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"--config maxLeaseTime: {exc}") from None
    session = client.create(size, lease, args.model, session_id=args.id)
    if not args.poll:
        return session, 0
    deadline = time.monotonic() + args.poll_timeout
    while session.status.value.lower() not in DONE:
        if time.monotonic() >= deadline:
            print(f"error: session {session.id} still {session.status.value} after polling", file=sys.stderr)
            return session, 1
        time.sleep(args.poll_interval)
        session = client.get(session.id)
    if session.status.value.lower() != "ready":
        detail = f": {session.message}" if session.message else ""
        print(f"error: session {session.id} ended {session.status.value}{detail}", file=sys.stderr)
        return session, 1
    return session, 0


def _execute(client, args, session_settings: dict) -> tuple[Any, int]:
    command = args.arr_command
    if command == "create":
        session, code = _create(client, args, session_settings)
        return session_json(session), code
    if command == "get":
        return session_json(client.get(args.id)), 0
    if command == "list":
        return [session_json(s) for s in client.list()], 0
    if command == "update":
        return session_json(client.update_lease(args.id, args.lease)), 0

    client.stop(args.id)
    try:
        return session_json(client.get(args.id)), 0
    except ArrError as exc:  # the stop itself succeeded; only the read-back failed
        print(f"warning: stopped, but reading the session back failed: {exc}", file=sys.stderr)
        return {"id": args.id, "status": "Stopping"}, 0


def _check_connect(args: argparse.Namespace) -> int:
    accounts = accounts_from_settings(load())
    if args.account:
        if args.account not in accounts:
            raise UsageError(f"--account: no configured account named {args.account!r}")
        accounts = {args.account: accounts[args.account]}
    if not accounts:
        raise UsageError("no ARR account is configured (ARR_ACCOUNT_ID or GOVERNOR_ARR_ACCOUNTS)")
    reports, good = [], True
    for account in accounts.values():
        expected, report = check_account(account, ArrClient)
        good = good and expected
        reports.append(report)
    json.dump(reports, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if good else 1


def run(args: argparse.Namespace) -> int:
    try:
        if args.arr_command == "check-connect":
            return _check_connect(args)
        account, session_settings = build_account(args)
        with ArrClient(account) as client:
            output, code = _execute(client, args, session_settings)
    except (UsageError, SettingsError) as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return 2
    except ArrError as exc:
        if exc.never_sent:
            print(f"usage error: {exc.message}", file=sys.stderr)
            return 2
        print(f"error: {exc}", file=sys.stderr)
        if exc.ms_cv:
            print(f"MS-CV: {exc.ms_cv}", file=sys.stderr)
        return 1
    json.dump(output, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return code

"""`python -m governor emulator`: run the ARR session service emulator until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading

from governor.cli import port, positive
from governor.core.policy.limits import ARR_ACCOUNT_ID
from governor.emulator import DEV_ACCOUNT_ID, DEV_ACCOUNT_KEY, capacity, cli_identity
from governor.emulator.app import Config, Emulator
from governor.emulator.errors import ApiError
from governor.emulator.faults import Faults, parse_paths, parse_statuses
from governor.emulator.persist import StateError, StateFile
from governor.emulator.server import make_server
from governor.emulator.tls import ensure_self_signed


def _account(text: str) -> tuple[str, str]:
    account, sep, key = text.partition(":")
    if not sep or not ARR_ACCOUNT_ID.accepts(account) or not key:
        raise argparse.ArgumentTypeError(
            "expected ACCOUNT_ID:ACCOUNT_KEY (id: letters, digits and hyphens, normally a GUID; key: not empty)"
        )
    return account.lower(), key


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _statuses(text: str) -> tuple[int, ...]:
    try:
        return parse_statuses(text)
    except ApiError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {exc}") from None
    return text


def _capacity(text: str):
    try:
        return capacity.parse_flag(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _page_size(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run a faithful emulator of the Azure Remote Rendering session service (token service, v1 and "
        "2021-01-01 APIs) with a virtual clock, fault injection and admin routes under /_emulator/. "
        "Prints one line 'listening on URL' once ready; stops cleanly on SIGTERM/SIGINT. See docs/emulator.md."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=0, help="port to bind; 0 picks a free port (default 0)")
    parser.add_argument(
        "--account",
        action="append",
        type=_account,
        metavar="ACCOUNT_ID:ACCOUNT_KEY",
        help=f"an account the emulator knows (repeatable). Default: the development account {DEV_ACCOUNT_ID} "
        f"with key {DEV_ACCOUNT_KEY}",
    )
    parser.add_argument(
        "--startup-seconds",
        type=_non_negative,
        default=5.0,
        help="emulated seconds a session spends Starting before it is Ready (default 5)",
    )
    parser.add_argument(
        "--time-scale",
        type=positive,
        default=1.0,
        help="emulated seconds per real second, e.g. 60 runs an hour of lease in a minute (default 1)",
    )
    parser.add_argument(
        "--capacity",
        action="append",
        type=_capacity,
        metavar="ACCOUNT:SIZE=N",
        help="N servers of SIZE (Standard or Premium) for the account (an id, or * for every account; an id's own "
        "limit beats *); a create beyond them is accepted and the session ends in Error. Repeatable; changeable at "
        "run time: PUT /_emulator/capacity. Default: unlimited",
    )
    faults = parser.add_argument_group("fault injection (changeable at run time: PUT /_emulator/faults)")
    faults.add_argument("--fail-rate", type=_rate, default=0.0, help="fraction of requests that fail (default 0)")
    faults.add_argument(
        "--fail-statuses",
        type=_statuses,
        default=(429, 500, 503),
        help="comma-separated statuses injected failures use, chosen at random (default 429,500,503)",
    )
    faults.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After seconds on injected 429/503 (default 1)"
    )
    faults.add_argument("--latency-ms", type=int, default=0, help="real milliseconds added to each request (default 0)")
    faults.add_argument(
        "--fail-paths", type=_regex, default=None, help="only requests whose path matches this regex (default all)"
    )
    parser.add_argument("--tls-cert", metavar="FILE", help="PEM certificate: serve https (needs --tls-key)")
    parser.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-self-signed",
        metavar="DIR",
        help="also serve https on a second port with a self-signed certificate for 127.0.0.1/localhost kept in DIR "
        "(cert.pem, key.pem; made or renewed as needed); prints a second line 'tls listening on URL'",
    )
    parser.add_argument(
        "--tls-port",
        type=port,
        default=0,
        help="port of the --tls-self-signed listener; 0 picks a free one (default 0)",
    )
    parser.add_argument(
        "--state", metavar="FILE", help="keep sessions and the clock in FILE across restarts (default: memory only)"
    )
    parser.add_argument(
        "--page-size", type=_page_size, default=100, help="sessions per page of the 2021-01-01 list (default 100)"
    )
    parser.add_argument("--log-requests", action="store_true", help="log each request line to stderr")
    cli_identity.configure(parser)


def _build_capacity(entries, accounts: dict[str, str]):
    for account, _, _ in entries:
        if account != capacity.EVERY_ACCOUNT and account not in accounts:
            raise cli_identity.ConfigError(f"--capacity names the account {account}, which no --account configures")
    return capacity.build(entries)


def build(args):
    """(servers, state file or None) from parsed arguments: the main server first, then the
    --tls-self-signed one if asked for."""
    accounts = dict(args.account or [(DEV_ACCOUNT_ID, DEV_ACCOUNT_KEY)])
    directory = cli_identity.build_directory(args, accounts)
    faults = Faults(
        rate=args.fail_rate,
        statuses=args.fail_statuses,
        retry_after=args.retry_after,
        latency_ms=args.latency_ms,
        paths=parse_paths(args.fail_paths),
    )
    capacity = _build_capacity(args.capacity or [], accounts)
    config = Config(
        accounts, args.startup_seconds, args.time_scale, args.page_size, faults, args.tenant, directory, capacity
    )
    emulator = Emulator(config)
    state = None
    if args.state:
        state = StateFile(args.state, emulator)
        state.load()
    servers = [make_server(args.host, args.port, emulator, args.tls_cert, args.tls_key, args.log_requests)]
    if args.tls_self_signed:
        try:
            cert, key = ensure_self_signed(args.tls_self_signed)
            servers.append(make_server(args.host, args.tls_port, emulator, cert, key, args.log_requests))
        except BaseException:
            servers[0].server_close()
            raise
    if state is not None:
        state.start()
    return servers, state


def run(args) -> int:
    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    try:
        servers, state = build(args)
    except cli_identity.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print(f"listening on {servers[0].url}", flush=True)  # the first line: tools wait for it
    for server in servers[1:]:
        print(f"tls listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        if state is not None:
            state.close()
    return 0

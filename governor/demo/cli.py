"""`python -m governor demo`: about a minute of the governor at work, through its HTTP API.

Starts a stack of its own exactly as `run` does (Azurite, the ARR emulator at x60, `serve`) on
free ports with its data in a temporary directory, or attaches to a running `make run` with --url.
It prints a timeline (real seconds, ARR time, who, what, figures), the usage report, the sessions
as the gate and ARR see them, and the expected outcomes; the exit code is 0 only if all happened.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import requests
from azure.core.exceptions import AzureError

from governor.demo.report import checklist, sessions_report, usage_report, webhooks_report
from governor.demo.scenario import ADOPT_INTO, DEADLINE_SECONDS, STALL_SECONDS, Demo, Target, scenario
from governor.localhost.children import ChildFailed
from governor.localhost.stack import Stack, azurite_connection_string
from governor.store import TableStore

TIME_SCALE = 60.0
SWEEP_SCHEDULE = "*/2 * * * * *"  # every 2 s: every 2 ARR minutes
HOST_SETTINGS = {"GOVERNOR_UNMANAGED_MODE": "adopt", "GOVERNOR_UNMANAGED_PROJECT": ADOPT_INTO}
RUN_AZURITE_PORT = 10002  # `make run`'s


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[1].replace("\n", " ")
    parser.add_argument("--data-dir", type=Path, help="own stack: keep its data and logs here (default: a temp dir)")
    parser.add_argument("--url", help="attach to a running stack instead, e.g. http://127.0.0.1:7071 (`make run`)")
    parser.add_argument("--emulator-url", help="with --url: the ARR emulator's URL (`make run` prints it)")
    parser.add_argument(
        "--tables",
        help="with --url: Table Storage connection string, to read the audit for the timeline "
        f"(default: GOVERNOR_TABLES_CONNECTION, else `make run`'s Azurite on port {RUN_AZURITE_PORT})",
    )
    parser.add_argument("--table-prefix", default="governor", help="with --url: GOVERNOR_TABLE_PREFIX of the stack")
    parser.add_argument(
        "--stall",
        type=float,
        default=STALL_SECONDS,
        help=f"give up when no expected outcome happened for this many seconds (default {STALL_SECONDS:g})",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=DEADLINE_SECONDS,
        help=f"give up after this many seconds in all; 0: never (default {DEADLINE_SECONDS:g})",
    )


@contextlib.contextmanager
def own_stack(data_dir: Path, out=sys.stdout) -> Iterator[Target]:
    """A stack like `run`'s on free ports, adopting unmanaged sessions into lab; stopped on exit."""
    options = argparse.Namespace(
        host="127.0.0.1",
        port=0,
        azurite_port=0,
        emulator_port=0,
        time_scale=TIME_SCALE,
        sweep_schedule=SWEEP_SCHEDULE,
        data_dir=data_dir,
        projects="",
    )
    stack = Stack(options, extra_env=HOST_SETTINGS)
    print("starting Azurite, the ARR emulator (x60) and the function host ...", file=out, flush=True)
    try:
        stack.start()
        print(f"serving {stack.host_url}/api (sweep {SWEEP_SCHEDULE}); logs in {stack.logs}", file=out, flush=True)
        tables = azurite_connection_string(stack.azurite_port)
        yield Target(f"{stack.host_url}/api", stack.emulator_url, TableStore(tables), tables)
    finally:
        stack.stop()


def attached(args: argparse.Namespace) -> Target:
    if not args.emulator_url:
        raise SystemExit("error: --url needs --emulator-url (the `ARR emulator:` line of `make run`)")
    tables = args.tables or os.environ.get("GOVERNOR_TABLES_CONNECTION") or azurite_connection_string(RUN_AZURITE_PORT)
    base = args.url.rstrip("/")
    base = base if base.endswith("/api") else f"{base}/api"
    return Target(base, args.emulator_url.rstrip("/"), TableStore(tables, args.table_prefix))


def play(target: Target, out=sys.stdout, deadline: float = DEADLINE_SECONDS, stall: float = STALL_SECONDS) -> Demo:
    demo = Demo(target, out=out, deadline_seconds=deadline, stall_seconds=stall)
    try:
        print(f"\n{'real':>6}  ARR   {'who':<8}  what  [figures]", file=out, flush=True)
        scenario(demo)
        usage_report(demo)
        sessions_report(demo)
        webhooks_report(demo)
        checklist(demo.outcomes, out)
    finally:
        demo.close()
    return demo


def run(args: argparse.Namespace) -> int:
    title = "five projects, twelve requests, three regions, ARR time x60 (1 s = 1 ARR minute)"
    print(f"ARR lease governor demo: {title}", flush=True)
    try:
        if args.url:
            print(
                f"attached to {args.url}: U is adopted only if that stack runs with "
                f"GOVERNOR_UNMANAGED_MODE=adopt GOVERNOR_UNMANAGED_PROJECT={ADOPT_INTO}",
                flush=True,
            )
            demo = play(attached(args), deadline=args.deadline, stall=args.stall)
        else:
            with (
                tempfile.TemporaryDirectory(prefix="governor-demo-") as scratch,
                own_stack(Path(args.data_dir or scratch)) as target,
            ):
                demo = play(target, deadline=args.deadline, stall=args.stall)
    except ChildFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not _unreachable(exc):
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    missing = demo.outcomes.missing
    if missing:
        print(f"\n{len(missing)} expected outcome(s) did not happen; the logs have the details", file=sys.stderr)
    return 1 if missing else 0


def _unreachable(exc: Exception) -> bool:
    """An HTTP or Table Storage failure (wrong --url, a stack that is not up): a message, not a traceback."""
    return isinstance(exc, requests.RequestException | AzureError)

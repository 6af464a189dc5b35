"""`python -m governor_client request|connect|stop`: one gate call each, answers as JSON on stdout.

The caller key comes from GOVERNOR_KEY (preferred: an argument is visible to other users in the
process list) or --key; the URL, project and function key from --url/GOVERNOR_URL,
--project/GOVERNOR_PROJECT and --function-key/GOVERNOR_FUNCTION_KEY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from governor_client.client import DEFAULT_READY_TIMEOUT, GovernorClient, new_idempotency_key
from governor_client.errors import GovernorError


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=os.environ.get("GOVERNOR_URL"), help="API root, e.g. http://127.0.0.1:7071/api"
    )
    common.add_argument("--project", default=os.environ.get("GOVERNOR_PROJECT"))
    common.add_argument("--key", default=os.environ.get("GOVERNOR_KEY"), help="caller key (prefer GOVERNOR_KEY)")
    common.add_argument("--function-key", default=os.environ.get("GOVERNOR_FUNCTION_KEY"))
    common.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP call (default 30)")

    root = argparse.ArgumentParser(prog="python -m governor_client", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)

    request = commands.add_parser("request", parents=[common], help="request a session and wait until it is Ready")
    request.add_argument("--size", default="Standard", help="Standard or Premium (default Standard)")
    request.add_argument("--lease", required=True, help="whole minutes (30) or a TimeSpan (01:30:00)")
    request.add_argument("--model", action="append", dest="models", help="a model URL to load (repeatable)")
    request.add_argument(
        "--region",
        action="append",
        dest="regions",
        help="an account of the project's placement to use, in the order to try (repeatable; default: the policy's)",
    )
    request.add_argument(
        "--auto-retry", action="store_true", help="if ARR has no server there, the governor tries the next region"
    )
    request.add_argument("--idempotency-key", help="reuse one to retry a request safely (default: a new uuid4)")
    request.add_argument("--no-wait", action="store_true", help="print the 202 answer, do not wait for Ready")
    request.add_argument("--ready-timeout", type=float, default=DEFAULT_READY_TIMEOUT)

    connect = commands.add_parser("connect", parents=[common], help="print what the app needs to connect")
    connect.add_argument("--session-id", required=True)
    connect.add_argument("--ready-timeout", type=float, default=DEFAULT_READY_TIMEOUT)

    stop = commands.add_parser("stop", parents=[common], help="stop a session")
    stop.add_argument("--session-id", required=True)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    missing = [name for name in ("url", "project", "key") if not getattr(args, name)]
    if missing:
        names = ", ".join(f"--{n} (or GOVERNOR_{n.upper()})" for n in missing)
        print(f"missing: {names}", file=sys.stderr)
        return 2
    try:
        client = GovernorClient(args.url, args.key, args.project, function_key=args.function_key, timeout=args.timeout)
    except ValueError as error:
        print(f"usage error: {error}", file=sys.stderr)
        return 2
    try:
        answer = COMMANDS[args.command](client, args)
    except GovernorError as error:
        print(json.dumps(error.problem or {"reason": error.reason, "detail": error.detail}), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(answer)
    return 0


def run_request(client: GovernorClient, args) -> str:
    lease = int(args.lease) if args.lease.isdigit() else args.lease
    key = args.idempotency_key or new_idempotency_key()
    view = client.request(
        args.size, lease, idempotency_key=key, models=args.models, regions=args.regions, auto_retry=args.auto_retry
    )
    print(f"requested session {view['sessionId']} (Idempotency-Key {key})", file=sys.stderr)
    if not args.no_wait:
        try:
            view = client.wait_ready(view["sessionId"], timeout=args.ready_timeout, view=view)
        except BaseException:
            # nobody is left to use or stop it: do not let it run up the bill
            print(f"stopping session {view['sessionId']}", file=sys.stderr)
            client.stop(view["sessionId"])
            raise
    return json.dumps(view, indent=2)


def run_connect(client: GovernorClient, args) -> str:
    return client.connect(args.session_id, ready_timeout=args.ready_timeout).to_json()


def run_stop(client: GovernorClient, args) -> str:
    return json.dumps(client.stop(args.session_id), indent=2)


COMMANDS = {"request": run_request, "connect": run_connect, "stop": run_stop}

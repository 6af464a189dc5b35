"""`python -m governor serve`: host function_app.py locally, like `func start` without Core Tools."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path

from governor.cli import port
from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY
from governor.localhost.discovery import HostStartupError, index_functions, load_app, route_prefix_for
from governor.localhost.server import Keys, LocalHost
from governor.settings import SettingsError, load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=7071, help="port to listen on; 0 picks a free one (default 7071)")
    parser.add_argument("--app", default="function_app", help="module that defines `app` (default function_app)")
    parser.epilog = (
        "Keys: with GOVERNOR_DEV_KEYS=true the host accepts the development function key "
        f"'{DEV_FUNCTION_KEY}' and master key '{DEV_MASTER_KEY}' (x-functions-key header or ?code=). "
        "Without it only anonymous functions answer. Disable a function with AzureWebJobs.<name>.Disabled=true. "
        "PYTHON_THREADPOOL_THREAD_COUNT=N runs at most N invocations at once, as the Python worker's pool "
        "(unset: no limit)."
    )


def _functions_table(local_host, index) -> list[str]:
    lines = ["Functions:"]
    prefix = f"/{index.route_prefix}" if index.route_prefix else ""
    for function in index.http:
        methods = ",".join(sorted(function.methods)) if function.methods else "ALL"
        route = function.route.text.strip("/")
        lines.append(f"    {function.name}: [{methods}] {local_host.url}{prefix}/{route} ({function.auth_level})")
    for timer in index.timers:
        lines.append(f"    {timer.name}: timerTrigger ({timer.schedule})")
    return lines


THREADS_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"


def thread_count(environ) -> int | None:
    """PYTHON_THREADPOOL_THREAD_COUNT, the Python worker's pool of sync invocations: at most that
    many invocations at once. Unset or empty: None, no limit (a thread per connection)."""
    text = (environ.get(THREADS_SETTING) or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{THREADS_SETTING} must be a whole number of at least 1, not {text!r}")
    return int(text)


def load_local_settings(directory: Path, environ: MutableMapping[str, str]) -> int:
    """Values of ./local.settings.json become environment variables, as `func start` does; the
    environment already set wins. Returns how many were taken."""
    path = directory / "local.settings.json"
    if not path.exists():
        return 0
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values") or {}
    except (OSError, ValueError, AttributeError):
        raise SystemExit(f"error: {path} is not a JSON object with a Values object") from None
    taken = {str(k): str(v) for k, v in values.items() if k not in environ}
    environ.update(taken)
    return len(taken)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # The Azure SDKs log every request and response at INFO; the platform's default output keeps them out too.
    logging.getLogger("azure").setLevel(logging.WARNING)

    taken = load_local_settings(Path.cwd(), os.environ)
    if taken:
        print(f"using {taken} values from local.settings.json (the environment wins)", file=sys.stderr)
    try:
        settings = load()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        index = index_functions(load_app(args.app), os.environ, route_prefix_for(args.app))
    except HostStartupError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    keys = Keys.development() if settings.get("GOVERNOR_DEV_KEYS") else Keys()
    try:
        threads = thread_count(os.environ)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        local_host = LocalHost(index, keys, args.host, args.port, threads=threads)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    local_host.start()
    print("\n".join(_functions_table(local_host, index)), flush=True)
    if not settings.get("GOVERNOR_DEV_KEYS"):
        print("note: GOVERNOR_DEV_KEYS is off, so only anonymous functions answer (401 for the others)", flush=True)
    if threads:
        print(f"invocations: at most {threads} at once ({THREADS_SETTING})", flush=True)
    print(f"listening on {local_host.url}", flush=True)
    while not stopping.wait(0.5):
        pass
    logging.getLogger("governor.localhost").info("stopping: waiting for running invocations")
    local_host.stop()
    return 0

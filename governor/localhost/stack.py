"""`python -m governor run` (what `make run` calls): the whole governor on this machine.

Starts Azurite (data on disk under .data/azurite), the ARR emulator (time-scaled, with the
development account and the regions of `governor.localhost.regions`, sessions kept in
.data/emulator), then `serve` with the environment pointing at both, then applies
examples/projects.json. Ctrl-C stops every child, last started first.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

from governor.cli import COMMANDS, port, positive
from governor.emulator import (
    DEV_ACCOUNT_ID,
    DEV_ACCOUNT_KEY,
    DEV_CONNECT_CLIENT_ID,
    DEV_CONNECT_CLIENT_SECRET,
    DEV_TENANT_ID,
)
from governor.emulator.tls import CERT_FILE
from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY, regions
from governor.localhost.children import Child, ChildFailed, free_port, port_in_use, start, tail

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-table"
# Azurite's documented development account (public, like DEV_MASTER_KEY); not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# 60 emulated seconds per real second: an hour of lease runs in a minute. Only ARR's clock is
# scaled; idleness follows it too, since heartbeats record ARR's elapsed time
# (docs/local-development.md). The sweep runs every 5 s (5 emulated minutes).
TIME_SCALE = 60.0
SWEEP_SCHEDULE = "*/5 * * * * *"
LISTENING = r"listening on (http\S+)"
# The emulator's first line is its main listener; the second, its https one (the Entra stand-in
# must be served over TLS for azure-identity).
EMULATOR_LISTENING = r"(?s)listening on (http\S+).*?tls listening on (https\S+)"
# Held (flock) by `run` and every child it starts while any of them lives: two stacks on one data
# directory would each load Azurite's tables and the emulator's state, and whichever stopped last
# would overwrite what the other wrote. The kernel drops the lock when the last holder exits, even
# on SIGKILL, so a crash never leaves it stale.
LOCK_FILE = "run.lock"


def _optional_path(text: str) -> Path | None:
    """A path, or None for '' (`Path('')` would be the working directory)."""
    return Path(text) if text.strip() else None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[1].replace("\n", " ")
    parser.add_argument("--host", default="127.0.0.1", help="address of the function host (default 127.0.0.1)")
    parser.add_argument("--port", type=port, default=7071, help="function host port; 0 picks a free one (default 7071)")
    parser.add_argument("--azurite-port", type=port, default=10002, help="Azurite table port; 0: free (default 10002)")
    parser.add_argument("--emulator-port", type=port, default=0, help="ARR emulator port (default 0: a free one)")
    parser.add_argument(
        "--time-scale",
        type=positive,
        default=TIME_SCALE,
        help=f"emulated seconds per real second (default {TIME_SCALE:g})",
    )
    parser.add_argument(
        "--sweep-schedule", default=SWEEP_SCHEDULE, help=f"NCRONTAB of the sweep timer (default '{SWEEP_SCHEDULE}')"
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data", help="data and logs (default .data/)")
    parser.add_argument(
        "--projects",
        type=_optional_path,
        default=ROOT / "examples" / "projects.json",
        help="projects applied at start (default examples/projects.json); --projects '' skips it",
    )


def azurite_connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def connect_environment(entra_url: str, ca_bundle: Path) -> dict[str, str]:
    """The connect route hands out tokens of the emulator's development connect identity, which
    may read and connect to sessions but not start them, as a deployment's would."""
    return {
        "ARR_CONNECT_AUTH": "entra",
        "ARR_CONNECT_CLIENT_ID": DEV_CONNECT_CLIENT_ID,
        "ARR_CONNECT_CLIENT_SECRET": DEV_CONNECT_CLIENT_SECRET,
        "ARR_ENTRA_TENANT_ID": DEV_TENANT_ID,
        "ARR_ENTRA_AUTHORITY": entra_url,
        "ARR_ENTRA_CA_BUNDLE": str(ca_bundle),
    }


def host_environment(base: dict[str, str], emulator_url: str, azurite_port: int, sweep_schedule: str) -> dict:
    env = dict(base)
    env.update(
        {
            "ARR_SERVICE_ENDPOINT": emulator_url,
            "ARR_STS_ENDPOINT": emulator_url,
            "ARR_ACCOUNT_ID": DEV_ACCOUNT_ID,
            "ARR_ACCOUNT_KEY": DEV_ACCOUNT_KEY,
            "ARR_AUTH": "key",
            "GOVERNOR_TABLES_CONNECTION": azurite_connection_string(azurite_port),
            "GOVERNOR_DEV_KEYS": "true",
            "GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
            "GOVERNOR_SWEEP_SCHEDULE": sweep_schedule,
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class Stack:
    """The running children, stopped in reverse order."""

    def __init__(self, args: argparse.Namespace, extra_env: dict[str, str] | None = None):
        self.args = args
        self.extra_env = dict(extra_env or {})  # settings for the function host, e.g. from `demo`
        self.data = Path(args.data_dir).resolve()
        # resolved here, in the caller's directory: `projects apply` runs in the repository root
        self.projects = Path(args.projects).resolve() if args.projects else None
        self.logs = self.data / "logs"
        self.children: list[Child] = []
        self.azurite_port = 0
        self.emulator_url = ""
        self.emulator_tls_url = ""  # the same emulator over https: its Entra stand-in
        self.host_url = ""
        self.env: dict[str, str] = {}
        self.keys: dict[str, str] = {}  # caller keys of projects created by this start
        self.lock: int | None = None  # the descriptor of LOCK_FILE while this stack holds it

    def claim_data_dir(self) -> None:
        """Take the data directory's lock, or refuse: another stack uses it. Idempotent."""
        if self.lock is not None:
            return
        self.data.mkdir(parents=True, exist_ok=True)
        lock = os.open(self.data / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(lock, 32, 0).decode(errors="replace").strip()
            os.close(lock)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ChildFailed(f"cannot lock {self.data / LOCK_FILE}: {exc.strerror}") from None
            raise ChildFailed(
                f"{_shown(self.data)} is in use by another `run` (pid {holder or '?'}, or the processes it started): "
                "a second stack on it would overwrite the first's data when they stop. "
                "Stop that one, or pass a different --data-dir"
            ) from None
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{os.getpid()}\n".encode(), 0)  # for the message above; the lock is the flock
        self.lock = lock

    def _port(self, wanted: int, what: str, flag: str) -> int:
        if wanted == 0:
            return free_port()
        if port_in_use("127.0.0.1", wanted):
            raise ChildFailed(
                f"port {wanted} ({what}) is in use; stop what uses it, or pass {flag} 0 for a free port "
                "(a second `run` also needs a --data-dir of its own)"
            )
        return wanted

    def start(self) -> None:
        self.claim_data_dir()
        if not AZURITE.exists():
            raise ChildFailed(f"{AZURITE.relative_to(ROOT)} is missing: run `make install` (npm install)")
        self.azurite_port = self._port(self.args.azurite_port, "Azurite", "--azurite-port")
        (self.data / "azurite").mkdir(parents=True, exist_ok=True)
        (self.data / "emulator").mkdir(parents=True, exist_ok=True)
        azurite = [str(AZURITE), "--location", str(self.data / "azurite"), "--silent", "--disableTelemetry"]
        azurite += ["--skipApiVersionCheck", "--loose", "--tableHost", "127.0.0.1", "--tablePort"]
        # Azurite saves its database on SIGINT only; SIGTERM would drop the last seconds of writes.
        self._start("azurite", [*azurite, str(self.azurite_port)], r"successfully started", None, signal.SIGINT)

        emulator = [sys.executable, "-m", "governor", "emulator", "--host", "127.0.0.1"]
        emulator += ["--port", str(self.args.emulator_port), "--time-scale", f"{self.args.time_scale:g}"]
        emulator += ["--account", f"{DEV_ACCOUNT_ID}:{DEV_ACCOUNT_KEY}", *regions.emulator_flags()]
        emulator += ["--state", str(self.data / "emulator" / "state.json")]
        emulator += ["--tls-self-signed", str(self.data / "emulator-tls")]
        ready = self._start("emulator", emulator, EMULATOR_LISTENING, dict(os.environ)).ready
        assert ready is not None  # start() returns only once the ready line matched
        self.emulator_url, self.emulator_tls_url = ready.group(1), ready.group(2)

        host_port = self._port(self.args.port, "function host", "--port")
        base = {**os.environ, **self.extra_env}
        # what Azure Monitor would get, as JSON lines beside the other data (GOVERNOR_TELEMETRY=console: stderr)
        base.setdefault("GOVERNOR_TELEMETRY", "file")
        base.setdefault("GOVERNOR_TELEMETRY_FILE", str(self.data / "telemetry.jsonl"))
        self.env = host_environment(base, self.emulator_url, self.azurite_port, self.args.sweep_schedule)
        self.env.setdefault("GOVERNOR_ARR_TIME_SCALE", f"{self.args.time_scale:g}")

        connect = connect_environment(self.emulator_tls_url, self.data / "emulator-tls" / CERT_FILE)
        self.env.update({k: v for k, v in connect.items() if k not in base})
        self.env["GOVERNOR_ARR_ACCOUNTS"] = regions.accounts_setting(self.emulator_url, self.env)
        serve = [sys.executable, "-m", "governor", "serve", "--host", self.args.host, "--port", str(host_port)]
        ready = self._start("host", serve, LISTENING, self.env).ready
        assert ready is not None  # start() returns only once the ready line matched
        self.host_url = ready.group(1)

    def _start(self, name: str, argv: list[str], ready: str, env, stop_signal: int = signal.SIGTERM) -> Child:
        assert self.lock is not None  # start() claimed the data directory first
        log = self.logs / f"{name}.log"
        # The children hold the lock too: after a `kill -9` on run they go on writing the data
        # directory, and a new stack must wait until they are gone.
        child = start(name, argv, log, ready, env=env, cwd=ROOT, stop_signal=stop_signal, pass_fds=[self.lock])
        self.children.append(child)
        return child

    def apply_projects(self) -> str:
        """Apply the example projects; returns a line for the banner (never raises).

        Caller keys of projects created now go to the console only (never to a log file)
        and are kept in `self.keys` for the banner, which prints them all."""
        path = self.projects
        if path is None:
            return "projects: none applied (--projects '')"

        if "projects" not in COMMANDS:
            return "projects: NOT applied: `python -m governor projects` is not available in this build"
        if not path.exists():
            return f"projects: NOT applied: {_shown(path)} does not exist"
        argv = [sys.executable, "-m", "governor", "projects", "apply", "-f", str(path)]
        log_path = self.logs / "projects-apply.log"
        result = subprocess.run(argv, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"\n--- {shlex.join(argv[1:])} (exit {result.returncode}) ---\n{result.stderr}")
        named = re.findall(r"^caller key for (\S+)", result.stderr, re.MULTILINE)
        self.keys.update(zip(named, result.stdout.split(), strict=False))
        if result.returncode != 0:
            return f"projects: applying {_shown(path)} FAILED (exit {result.returncode}):\n{tail(log_path)}"
        return f"projects: applied {_shown(path)} ({_shown(log_path)})"

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if not c.running), None)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self.lock is not None:
            os.close(self.lock)  # the children are gone: the last holder lets go
            self.lock = None


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _example_project(stack: Stack) -> str:
    if stack.keys:
        return next(iter(stack.keys))
    if stack.projects is not None:
        try:
            return json.loads(stack.projects.read_text(encoding="utf-8"))["projects"][0]["name"]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            pass
    return "demo"


def example_requests(stack: Stack) -> list[str]:
    base = f"{stack.host_url}/api"
    project = _example_project(stack)
    # every key this start created: the console is the only place they are ever shown
    lines = [
        f"Caller key of project {name} (created now, shown once): {created}" for name, created in stack.keys.items()
    ]
    key = stack.keys.get(project)
    if not key:
        lines += [
            f"Get a caller key for project {project} (rotates it; shown once):",
            f'  curl -s -X POST "{base}/manage/projects/{project}/keys" -H "x-functions-key: {DEV_MASTER_KEY}" \\',
            '       -H "Content-Type: application/json" -d \'{"revokeOthers": true}\'',
        ]
    lines += [
        "Request a session:",
        f'  curl -s -X POST "{base}/projects/{project}/sessions" \\',
        f'       -H "x-functions-key: {DEV_FUNCTION_KEY}" -H "X-Api-Key: {key or "<caller key>"}" \\',
        '       -H "Content-Type: application/json" -d \'{"size": "Standard", "maxLeaseTime": "00:30:00"}\'',
        "Once it is Ready, connect (ARR's SessionConfiguration and an access token that cannot start sessions):",
        f'  curl -s -X POST "{base}/projects/{project}/sessions/<sessionId>/connect" \\',
        f'       -H "x-functions-key: {DEV_FUNCTION_KEY}" -H "X-Api-Key: {key or "<caller key>"}"',
    ]
    return lines


def banner(stack: Stack, projects_line: str) -> str:
    scale = stack.args.time_scale
    return "\n".join(
        [
            "",
            "ARR lease governor is running locally.",
            f"  base URL:       {stack.host_url}/api",
            f"  function key:   {DEV_FUNCTION_KEY}   (header x-functions-key, or ?code=)",
            f"  master key:     {DEV_MASTER_KEY}   (manage/ and dashboard routes, /admin/*)",
            f"  ARR emulator:   {stack.emulator_url}   account {DEV_ACCOUNT_ID}, time x{scale:g}",
            f"  ARR regions:    {', '.join(regions.ACCOUNT_IDS)}   (the emulator's accounts; a project's placement)",
            f"  Azurite:        http://127.0.0.1:{stack.azurite_port}/{AZURITE_ACCOUNT}   "
            f"data in {_shown(stack.data / 'azurite')}",
            f"  sweep:          {stack.args.sweep_schedule} (NCRONTAB, UTC)",
            f"  logs:           {_shown(stack.logs)}/ (host.log, emulator.log, azurite.log)",
            f"  {projects_line}",
            "",
            *example_requests(stack),
            "",
            "Press Ctrl-C to stop.",
            f"listening on {stack.host_url}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    stack = Stack(args)
    try:
        stack.claim_data_dir()  # before anything starts or prints
    except ChildFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stopping = threading.Event()

    def on_signal(signum, frame):
        if not stack.host_url and not stopping.is_set():  # still starting: unwind start(); `finally` stops the rest
            stopping.set()
            raise KeyboardInterrupt
        if stopping.is_set():  # a second Ctrl-C: stop waiting for graceful exits, except Azurite's
            for child in stack.children:
                if child.name != "azurite":  # SIGKILL would lose the writes it has not saved yet
                    child._signal(signal.SIGKILL)
        stopping.set()

    # SIGHUP: a closed terminal stops the stack like Ctrl-C, rather than orphaning the children.
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        print("starting Azurite, the ARR emulator and the function host ...", flush=True)
        stack.start()
        print(banner(stack, stack.apply_projects()), flush=True)
        while not stopping.wait(0.5):
            dead = stack.dead_child()
            if dead is not None:
                print(
                    f"error: {dead.name} exited with code {dead.process.returncode}; last lines of "
                    f"{dead.log_path}:\n{tail(dead.log_path)}",
                    file=sys.stderr,
                )
                return 1
        return 0
    except ChildFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        print("stopped.", flush=True)

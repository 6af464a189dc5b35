"""One CLI: `python -m governor <command>`.

Each command is a module exposing `configure(parser)` and `run(args) -> int`. The app's
commands live in governor/commands/; the dev tools' (emulator, serve, run, demo) live with those
tools. Modules are imported only for the command that runs (and for --help), so heavy SDKs stay
out of unrelated commands.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "emulator": ("governor.emulator.cli", "run the ARR session service emulator"),
    "arr": ("governor.commands.arr", "create, get, list, update and stop ARR sessions (JSON out)"),
    "settings": ("governor.commands.settings", "show the effective settings or the configuration table"),
    "sweep": ("governor.commands.sweep", "run one sweep now: meter, decide, act, audit"),
    "retention": ("governor.commands.retention", "move old closed ledger rows to history, delete old audit rows"),
    "projects": ("governor.commands.projects", "list, get, set, delete, rotate-key and apply project policies"),
    "serve": ("governor.localhost.cli", "host function_app.py locally (HTTP and timer functions)"),
    "run": ("governor.localhost.stack", "run the whole governor locally: Azurite, ARR emulator, serve"),
    "demo": ("governor.demo.cli", "a minute of the governor at work: a scenario through the HTTP API"),
}

MAX_PORT = 65535


# The argument types more than one command's flags take: each rule once. argparse prints the
# message after the flag's name ("argument --port: must be ...") and exits 2.
def port(text: str) -> int:
    """A TCP port to listen on; 0 asks the system for a free one."""
    # ASCII digits only: int() would take spaces, signs and other scripts' digits (and very long
    # strings raise ValueError there).
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_PORT))) or int(text) > MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to {MAX_PORT} (0 picks a free one), not {text!r}")
    return int(text)


def positive(text: str) -> float:
    """A finite number greater than 0 (a time scale)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, not {text!r}")
    return value


def _build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m governor", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if selected == name:
            module = importlib.import_module(module_name)
            module.configure(command)
            command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    parser = _build_parser(selected if selected in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130

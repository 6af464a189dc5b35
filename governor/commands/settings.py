"""`python -m governor settings`: the configuration table, or the effective values (secrets masked)."""

from __future__ import annotations

import argparse

from governor.settings import SETTINGS, SettingsError, load


def markdown_table() -> str:
    lines = ["| Setting | Default | Meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = "(unset)" if setting.default is None else f"`{setting.default}`"
        meaning = (
            setting.meaning
            + (" Secret." if setting.secret else "")
            + (" Local development only." if setting.local_only else "")
        )
        lines.append(f"| `{setting.name}` | {default} | {meaning} |")
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="print the README's configuration table")


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    try:
        settings = load()
    except SettingsError as exc:
        print(f"error: {exc}")
        return 2
    for setting in SETTINGS:
        value = settings.get(setting.name)
        shown = "***" if setting.secret and value else value
        print(f"{setting.name}={'' if shown is None else shown}")
    return 0

"""The app's command-line modules (`python -m governor <command>`): each has `configure(parser)`
and `run(args) -> int` and is listed in `governor.cli.COMMANDS`. Local only: not shipped to Azure."""

"""The emulator's flags for the Entra stand-in and ARR roles: --tenant, --principal, --role,
--assign, and the directory they configure (the development principals when no --principal)."""

from __future__ import annotations

import argparse

from governor.core.policy.arr_roles import BUILT_IN_ROLES, CLIENT, CONNECT_ROLE
from governor.core.policy.limits import ARR_ACCOUNT_ID
from governor.emulator import (
    DEV_ACCOUNT_ID,
    DEV_CONNECT_CLIENT_ID,
    DEV_CONNECT_CLIENT_SECRET,
    DEV_GOVERNOR_CLIENT_ID,
    DEV_GOVERNOR_CLIENT_SECRET,
    DEV_TENANT_ID,
    directory,
)
from governor.emulator.directory import Directory, DirectoryError, Principal

# Without --principal: the governor's identity and a connect-only one, on the development account.
DEV_PRINCIPALS = [
    (DEV_GOVERNOR_CLIENT_ID, DEV_GOVERNOR_CLIENT_SECRET),
    (DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET),
]
DEV_ASSIGNMENTS = [
    (DEV_ACCOUNT_ID, DEV_GOVERNOR_CLIENT_ID, CLIENT),
    (DEV_ACCOUNT_ID, DEV_CONNECT_CLIENT_ID, CONNECT_ROLE),
]


class ConfigError(ValueError):
    """Flags that are each valid but do not fit together (exit 2)."""


# argparse shows an ArgumentTypeError's message alone, never the value: a secret stays off stderr.
def _checked(parse, *values):
    try:
        return parse(*values)
    except DirectoryError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _tenant(text: str) -> str:
    return _checked(directory.client_id, text, "tenant id")


def _principal(text: str) -> tuple[str, str]:
    client, sep, secret = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError("expected CLIENT_ID:SECRET (client id: a GUID; secret: not empty)")
    return _checked(directory.client_id, client, "client id"), _checked(directory.secret, secret)


def _role(text: str) -> tuple[str, tuple[str, ...]]:
    name, sep, actions = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected NAME=ACTION,ACTION (ARR data actions)")
    name = _checked(directory.role_name, name, "role name")
    if name in BUILT_IN_ROLES:
        raise argparse.ArgumentTypeError(f"the role '{name}' is built in and cannot be changed")
    return name, _checked(directory.actions, [a.strip() for a in actions.split(",")], "actions")


def _assignment(text: str) -> tuple[str, str, str]:
    account, sep1, rest = text.partition(":")
    client, sep2, role = rest.partition(":")
    if not (sep1 and sep2) or not ARR_ACCOUNT_ID.accepts(account):
        raise argparse.ArgumentTypeError("expected ACCOUNT_ID:CLIENT_ID:ROLE NAME")
    client = _checked(directory.client_id, client, "client id")
    return account.lower(), client, _checked(directory.role_name, role, "role name")


def configure(parser: argparse.ArgumentParser) -> None:
    identity = parser.add_argument_group(
        "Entra ID stand-in and ARR roles (changeable at run time under /_emulator/; reset returns to these)"
    )
    identity.add_argument(
        "--tenant", type=_tenant, default=DEV_TENANT_ID, help=f"the Entra tenant id (default {DEV_TENANT_ID})"
    )
    identity.add_argument(
        "--principal",
        action="append",
        type=_principal,
        metavar="CLIENT_ID:SECRET",
        help="an Entra application (client credentials) the stand-in knows (repeatable). Default: the development "
        f"principals {DEV_GOVERNOR_CLIENT_ID} ({CLIENT}) and {DEV_CONNECT_CLIENT_ID} ({CONNECT_ROLE}) on the "
        "development account",
    )
    identity.add_argument(
        "--role",
        action="append",
        type=_role,
        metavar="NAME=ACTION,ACTION",
        help=f"a custom role of ARR data actions (repeatable); the built-in roles and '{CONNECT_ROLE}' always exist",
    )
    identity.add_argument(
        "--assign",
        action="append",
        type=_assignment,
        metavar="ACCOUNT_ID:CLIENT_ID:ROLE",
        help="a role assignment of a principal on an account (repeatable)",
    )


def build_directory(args, accounts: dict[str, str]):
    """The principals, roles and assignments of the flags; ConfigError when they do not fit."""
    directory = Directory()
    for name, actions in args.role or []:
        directory.put_role(name, actions)
    assignments = list(args.assign or [])
    if not args.principal:
        assignments = [a for a in DEV_ASSIGNMENTS if a[0] in accounts] + assignments
    for client, secret in args.principal or DEV_PRINCIPALS:
        directory.put_principal(Principal(client, secret))
    for account, client, role in assignments:
        if account not in accounts:
            raise ConfigError(f"--assign names the account {account}, which no --account configures")
        try:
            directory.assign(account, client, role)
        except DirectoryError as exc:
            raise ConfigError(f"--assign: {exc.message}") from None
    directory.freeze_configuration()
    return directory

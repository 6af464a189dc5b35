"""Servers per account and VM size: how many sessions of a size an account can have Starting or
Ready at once. Unlimited unless configured (`--capacity`, PUT /_emulator/capacity). Pure parsing.

A limit for one account beats the `*` limit (every account) of the same size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from governor.core.model import VmSize
from governor.core.policy.limits import ARR_ACCOUNT_ID
from governor.emulator.errors import bad_request

EVERY_ACCOUNT = "*"
MAX_SERVERS = 1_000_000
FLAG_FORMAT = "expected ACCOUNT:SIZE=N (ACCOUNT: an account id or *; SIZE: Standard or Premium; N: servers, 0 or more)"

Limits = Mapping[tuple[str, VmSize], int]


@dataclass(frozen=True)
class Capacity:
    limits: Limits = field(default_factory=lambda: MappingProxyType({}))

    def servers(self, account: str, size: VmSize) -> int | None:
        """The servers of `size` for `account`; None: unlimited."""
        own = self.limits.get((account, size))
        return own if own is not None else self.limits.get((EVERY_ACCOUNT, size))

    def limits_json(self) -> dict:
        out: dict[str, dict[str, int]] = {}
        for (account, size), servers in sorted(self.limits.items(), key=lambda item: (item[0][0], item[0][1].value)):
            out.setdefault(account, {})[size.value] = servers
        return out

    def to_json(self, accounts: Iterable[str], in_use: Mapping[str, Mapping[VmSize, int]]) -> dict:
        return {
            "limits": self.limits_json(),
            "accounts": {
                account: {
                    size.value: {"servers": self.servers(account, size), "inUse": in_use[account].get(size, 0)}
                    for size in VmSize
                }
                for account in sorted(accounts)
            },
        }


def build(entries: Iterable[tuple[str, VmSize, int]]) -> Capacity:
    return Capacity(MappingProxyType({(account, size): servers for account, size, servers in entries}))


def parse_flag(text: str) -> tuple[str, VmSize, int]:
    """`ACCOUNT:SIZE=N` -> (account, size, servers); ValueError with the reason."""
    target, sep, count = text.partition("=")
    account, colon, size_text = target.rpartition(":")
    if not (sep and colon):
        raise ValueError(FLAG_FORMAT)
    if account != EVERY_ACCOUNT and not ARR_ACCOUNT_ID.accepts(account):
        raise ValueError(f"the account must be an account id (letters, digits and hyphens) or *, not {account[:64]!r}")
    try:
        size = VmSize.parse(size_text)
    except ValueError:
        raise ValueError(f"the size must be Standard or Premium, not {size_text[:64]!r}") from None
    if not (count.isascii() and count.isdigit()) or int(count) > MAX_SERVERS:
        raise ValueError(f"the number of servers must be an integer from 0 to {MAX_SERVERS}, not {count[:64]!r}")
    return account.lower(), size, int(count)


def from_json(body: dict, accounts: Iterable[str]) -> Capacity:
    """PUT /_emulator/capacity: `{"limits": {ACCOUNT or "*": {SIZE: servers or null}}}`, all limits."""
    known = set(accounts)
    limits = body.get("limits")
    if not isinstance(limits, dict):
        raise bad_request('The limits field is required: an object of account id (or "*") to {"Standard": N}.')
    entries = []
    for account, sizes in limits.items():
        name = account.lower()
        if name != EVERY_ACCOUNT and name not in known:
            raise bad_request(f"The account '{account[:64]}' in limits is not configured on this emulator.")
        if not isinstance(sizes, dict):
            raise bad_request(f'The limits.{account[:64]} field must be an object such as {{"Standard": 2}}.')
        for size_text, servers in sizes.items():
            try:
                size = VmSize.parse(size_text)
            except ValueError:
                raise bad_request(
                    f"The size '{size_text[:64]}' in limits.{account[:64]} is not supported. Use Standard or Premium."
                ) from None
            if servers is None:  # explicitly unlimited
                continue
            if isinstance(servers, bool) or not isinstance(servers, int) or not 0 <= servers <= MAX_SERVERS:
                raise bad_request(
                    f"The limits.{account[:64]}.{size.value} field must be an integer from 0 to {MAX_SERVERS}, "
                    "or null for unlimited."
                )
            entries.append((name, size, servers))
    return build(entries)

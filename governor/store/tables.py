"""The governor's five tables, named from GOVERNOR_TABLE_PREFIX. See docs/storage.md."""

from __future__ import annotations

import re
from dataclasses import dataclass

TABLES: tuple[str, ...] = ("Projects", "Ledger", "Audit", "Health", "History")
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,49}$")


@dataclass(frozen=True)
class TableNames:
    projects: str
    ledger: str
    audit: str
    health: str
    history: str  # closed ledger rows moved by retention (store/retention.py)

    def all(self) -> tuple[str, ...]:
        return (self.projects, self.ledger, self.audit, self.health, self.history)


def table_names(prefix: str) -> TableNames:
    """Table names are 3-63 letters and digits starting with a letter; the prefix keeps us there."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError("GOVERNOR_TABLE_PREFIX must be 1-50 letters and digits, starting with a letter")
    return TableNames(*(prefix + name for name in TABLES))

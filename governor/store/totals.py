"""Each project's `!state` and current usage rows as this process last wrote or read them,
with their ETags, so an admission that needs no other row skips the partition read.

Never trusted for money: the next transaction rewrites `!state` under the cached ETag, and every
write of a usage row also rewrites `!state` (`LedgerRepo._commit`), so if anything moved since,
the transaction fails whole (412/409) and the batch reads the partition and decides again. A
stale entry costs one failed transaction, never a wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from governor.core.model import Period


class SeenRow(dict):
    """A row as this process last wrote it; `etag_of` reads its ETag like a read row's."""

    def __init__(self, entity: dict, etag: str | None):
        super().__init__(entity)
        self.metadata = {"etag": etag}


@dataclass(frozen=True)
class Totals:
    usage_keys: tuple[str, ...]  # the usage rows' keys, i.e. the periods these figures are for
    state: dict | None  # None: the row does not exist (an insert then fails if it appeared)
    usage: dict[Period, dict | None]
    slices: dict[str, dict] = field(default_factory=dict)  # the partition's escrow slices, by row key

"""The input rules more than one room checks: name patterns, size limits and ARR's lease limits.

Each is defined here once; the gate, policy documents, the store, the ARR settings, the emulator
and the OpenAPI document import it. A `TextRule` always matches the whole string (`fullmatch`),
so a trailing newline is refused. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class TextRule:
    """A string field's pattern (unanchored) and the words that say it to whoever sent a bad one."""

    pattern: str
    hint: str
    _compiled: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def fullmatch(self, value: object) -> re.Match | None:
        """The match of the whole string (its groups), or None; None for a non-string too."""
        return self._compiled.fullmatch(value) if isinstance(value, str) else None

    def accepts(self, value: object) -> bool:
        return self.fullmatch(value) is not None

    @property
    def json_pattern(self) -> str:
        """The same rule as a JSON Schema pattern, anchored at both ends. Not `$`: validators built
        on Python's `re` (jsonschema, schemathesis) let `$` match before a final newline."""
        return f"^{self.pattern}(?![\\s\\S])"


PROJECT_NAME = TextRule(
    r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", "must be 1-63 letters, digits, '-' or '_', starting with a letter or digit"
)
# The name a project uses for its ARR account (GOVERNOR_ARR_ACCOUNTS[].name, a policy's `account`).
ACCOUNT_NAME = TextRule(r"[A-Za-z0-9_-]{1,64}", "must be 1-64 letters, digits, '-' or '_'")
# ARR's own account id: normally a GUID.
ARR_ACCOUNT_ID = TextRule(r"[A-Za-z0-9-]{1,64}", "must be 1-64 letters, digits or '-' (normally a GUID)")
CURRENCY = TextRule(r"[A-Za-z][A-Za-z0-9 _-]{0,15}", "must be a short label like USD")
PRINCIPAL = TextRule(r"\S{1,256}", "must be 1-256 non-space characters")
# A named caller key of a project.
KEY_NAME = TextRule(
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
)
# ARR 2021-01-01: "alphanumeric characters including hyphens and underscores, at most 256"; v1 ids are GUIDs.
SESSION_ID = TextRule(r"[A-Za-z0-9_-]{1,256}", "must be 1-256 letters, digits, '-' or '_'")
IDEMPOTENCY_KEY = TextRule(r"[A-Za-z0-9_.:-]{1,128}", "must be 1-128 letters, digits, '_', '.', ':' or '-'")

MAX_MODELS = 64  # models a session request may name
MAX_URL_LENGTH = 2048  # a model URL or a webhook URL

# ARR's lease limits. 2021-01-01: a create takes 0-1440 minutes, an update "less than 1440";
# v1: a create at most a day, an update less than a day. The governor asks in whole minutes.
ARR_MAX_CREATE_LEASE = timedelta(minutes=1440)  # the longest lease a session can be created with
ARR_MAX_UPDATE_LEASE = ARR_MAX_CREATE_LEASE - timedelta(minutes=1)  # the longest an update can set

"""The emulated Entra directory and ARR's role-based access: principals (client id and secret),
role definitions (data actions) and role assignments per account. Thread-safe.

`reset()` returns to the configuration the emulator started with (its flags), so tests can change
the directory through the admin routes and start the next test clean.
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from governor.core.policy.arr_roles import ALL_ACTIONS, BUILT_IN_ROLES, CONNECT_ACTIONS, CONNECT_ROLE

MAX_SECRET_LENGTH = 256
MAX_ROLE_NAME_LENGTH = 128
_OBJECT_IDS = uuid.UUID("5f0c6a52-3a4e-4c0b-9a43-6d1f1d0e7a11")  # namespace: object id from client id


class DirectoryError(ValueError):
    """A refused change; `status` is the HTTP status an admin route answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def client_id(value, name: str = "clientId") -> str:
    """A client (application) id: a GUID, as Entra issues them; lower-case."""
    if not isinstance(value, str):
        raise DirectoryError(400, f"The {name} field must be a string.")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise DirectoryError(400, f"The {name} field must be a GUID.") from None
    if str(parsed) != value.lower():  # uuid.UUID also takes braces, urn: and no hyphens
        raise DirectoryError(400, f"The {name} field must be a GUID such as 00000000-0000-0000-0000-000000000000.")
    return value.lower()


def secret(value, name: str = "secret") -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_LENGTH:
        raise DirectoryError(400, f"The {name} field must be a string of 1 to {MAX_SECRET_LENGTH} characters.")
    if not value.isprintable():
        raise DirectoryError(400, f"The {name} field must contain printable characters only.")
    return value


def expiry(value, name: str = "secretExpiresAt") -> datetime | None:
    """An ISO 8601 time (UTC when it has no offset), or None: the secret never expires."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise DirectoryError(400, f"The {name} field must be an ISO 8601 time or null.")
    try:
        at = datetime.fromisoformat(value)
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999 in UTC
        raise DirectoryError(400, f"The {name} field must be an ISO 8601 time such as 2030-01-01T00:00:00Z.") from None


def role_name(value, name: str = "role") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ROLE_NAME_LENGTH:
        raise DirectoryError(400, f"The {name} field must be a role name of 1 to {MAX_ROLE_NAME_LENGTH} characters.")
    if not value.isprintable() or value != value.strip() or "/" in value:
        raise DirectoryError(400, f"The {name} field must be printable, without '/' or leading or trailing spaces.")
    return value


def actions(value, name: str = "actions") -> tuple[str, ...]:
    """ARR data actions, each one of `arr_roles.ALL_ACTIONS`; at least one."""
    if not isinstance(value, list | tuple) or not value:
        raise DirectoryError(400, f"The {name} field must be a non-empty array of ARR data actions.")
    for action in value:
        if action not in ALL_ACTIONS:
            shown = action[:120] if isinstance(action, str) else type(action).__name__
            raise DirectoryError(
                400,
                f"The {name} field holds '{shown}', which is not an ARR data action; "
                f"use one of {', '.join(ALL_ACTIONS)}.",
            )
    return tuple(a for a in ALL_ACTIONS if a in value)


@dataclass(frozen=True)
class Principal:
    client_id: str
    secret: str = field(repr=False)
    secret_expires_at: datetime | None = None

    @property
    def object_id(self) -> str:
        return str(uuid.uuid5(_OBJECT_IDS, self.client_id))

    def secret_expired(self, now: datetime) -> bool:
        return self.secret_expires_at is not None and self.secret_expires_at <= now

    def public(self) -> dict:
        expires = self.secret_expires_at.isoformat() if self.secret_expires_at else None
        return {"clientId": self.client_id, "objectId": self.object_id, "secretExpiresAt": expires}


@dataclass
class _State:
    principals: dict[str, Principal] = field(default_factory=dict)
    roles: dict[str, tuple[str, ...]] = field(default_factory=lambda: {CONNECT_ROLE: CONNECT_ACTIONS})
    assignments: set[tuple[str, str, str]] = field(default_factory=set)  # (account, client id, role)


class Directory:
    def __init__(self):
        self._lock = threading.Lock()
        self._state = _State()
        self._initial = copy.deepcopy(self._state)

    def freeze_configuration(self) -> None:
        """What `reset()` returns to: call once the flags are applied."""
        with self._lock:
            self._initial = copy.deepcopy(self._state)

    def reset(self) -> None:
        with self._lock:
            self._state = copy.deepcopy(self._initial)

    # --- principals
    def put_principal(self, principal: Principal) -> bool:
        with self._lock:
            created = principal.client_id not in self._state.principals
            self._state.principals[principal.client_id] = principal
            return created

    def delete_principal(self, client: str) -> None:
        """Remove a principal and its role assignments."""
        with self._lock:
            if self._state.principals.pop(client, None) is None:
                raise DirectoryError(404, f"No principal has the client id '{client}'.")
            self._state.assignments = {a for a in self._state.assignments if a[1] != client}

    def principal(self, client: str) -> Principal | None:
        with self._lock:
            return self._state.principals.get(client)

    def principals(self) -> list[Principal]:
        with self._lock:
            return sorted(self._state.principals.values(), key=lambda p: p.client_id)

    # --- roles
    def roles(self) -> dict[str, tuple[str, ...]]:
        with self._lock:
            return {**BUILT_IN_ROLES, **self._state.roles}

    def put_role(self, name: str, role_actions: tuple[str, ...]) -> bool:
        if name in BUILT_IN_ROLES:
            raise DirectoryError(409, f"The role '{name}' is built in and cannot be changed.")
        with self._lock:
            created = name not in self._state.roles
            self._state.roles[name] = role_actions
            return created

    def delete_role(self, name: str) -> None:
        if name in BUILT_IN_ROLES:
            raise DirectoryError(409, f"The role '{name}' is built in and cannot be deleted.")
        with self._lock:
            if name not in self._state.roles:
                raise DirectoryError(404, f"No custom role is named '{name}'.")
            if any(a[2] == name for a in self._state.assignments):
                raise DirectoryError(409, f"The role '{name}' is assigned; remove its assignments first.")
            del self._state.roles[name]

    # --- assignments
    def assign(self, account: str, client: str, role: str) -> bool:
        with self._lock:
            if client not in self._state.principals:
                raise DirectoryError(400, f"The clientId '{client}' names no principal.")
            if role not in BUILT_IN_ROLES and role not in self._state.roles:
                raise DirectoryError(400, f"The role '{role}' does not exist.")
            key = (account, client, role)
            created = key not in self._state.assignments
            self._state.assignments.add(key)
            return created

    def unassign(self, account: str, client: str, role: str) -> None:
        with self._lock:
            if (account, client, role) not in self._state.assignments:
                raise DirectoryError(404, "No such role assignment.")
            self._state.assignments.discard((account, client, role))

    def assignments(self, account: str | None = None, client: str | None = None) -> list[tuple[str, str, str]]:
        with self._lock:
            found = [
                a
                for a in self._state.assignments
                if (account is None or a[0] == account) and (client is None or a[1] == client)
            ]
        return sorted(found)

    def actions(self, account: str, client: str) -> frozenset[str]:
        """The data actions a principal holds on an account: the union over its assignments."""
        with self._lock:
            roles = {**BUILT_IN_ROLES, **self._state.roles}
            return frozenset(
                action
                for a_account, a_client, role in self._state.assignments
                if a_account == account and a_client == client
                for action in roles.get(role, ())
            )

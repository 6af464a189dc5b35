"""The ARR session client: both API generations, the token service, retries, one Session value.

azure-identity loads only when an Entra ID credential is used.
"""

from governor.arr.accounts import AccountError, ArrAccount, account_names, accounts_from_settings
from governor.arr.client import ArrClient
from governor.arr.errors import (
    ArrAuthError,
    ArrBadResponse,
    ArrConflict,
    ArrError,
    ArrNotFound,
    ArrRequestError,
    ArrThrottled,
    ArrUnavailable,
)


def clients_from_settings(settings, **kwargs) -> dict[str, ArrClient]:
    """One ArrClient per configured account, by name; kwargs go to every ArrClient."""
    return {name: ArrClient(account, **kwargs) for name, account in accounts_from_settings(settings).items()}


__all__ = [
    "AccountError",
    "ArrAccount",
    "ArrAuthError",
    "ArrBadResponse",
    "ArrClient",
    "ArrConflict",
    "ArrError",
    "ArrNotFound",
    "ArrRequestError",
    "ArrThrottled",
    "ArrUnavailable",
    "account_names",
    "accounts_from_settings",
    "clients_from_settings",
]

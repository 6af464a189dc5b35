"""Where the store meets its callers: an SDK or connection failure leaves a public method as
`StorageUnavailable` (a core `Unavailable`), so no caller needs to know the Azure SDK's errors.

Only the outermost call translates: inside the store, a retry round must still see the SDK's
412 as itself.
"""

from __future__ import annotations

import functools
import inspect
import threading

from azure.core.exceptions import AzureError

from governor.store.errors import StorageUnavailable

_depth = threading.local()


def is_storage_failure(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError):
        return True

    return isinstance(exc, AzureError)


def _translating(method):
    if getattr(method, "translates", False):
        return method

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        depth = getattr(_depth, "value", 0)
        _depth.value = depth + 1
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            if depth or not is_storage_failure(exc):
                raise
            raise StorageUnavailable(type(exc).__name__, getattr(exc, "status_code", None)) from exc
        finally:
            _depth.value = depth

    call.translates = True
    return call


def port_boundary(cls):
    """Class decorator: every public method of `cls` (inherited ones too) translates failures."""
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_"):
            setattr(cls, name, _translating(member))
    return cls

"""Call a user function the way the Python worker does: the trigger by its argument name,
`context` if the function asks for it, coroutines run to completion."""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions import _abc


class _TraceContext(_abc.TraceContext):
    def __init__(self):
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _NoException(_abc.RpcException):
    """What the worker passes on a first attempt: the host's empty RpcException message, not None."""

    source = ""
    stack_trace = ""
    message = ""


class _RetryContext(_abc.RetryContext):
    retry_count = 0
    max_retry_count = 0
    exception: _abc.RpcException = _NoException()


class LocalContext(func.Context):
    _storage = threading.local()

    def __init__(self, function_name: str, user_function):
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        source = inspect.getsourcefile(user_function) or "."
        self._directory = str(Path(source).resolve().parent)
        self._trace = _TraceContext()
        self._retry = _RetryContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self):
        return self._storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self):
        return self._trace

    @property
    def retry_context(self):
        return self._retry


def call(user_function, trigger_arg: str, trigger_value: Any, context: LocalContext) -> Any:
    """Run the user function and return its return value."""
    kwargs: dict[str, Any] = {trigger_arg: trigger_value}
    parameters = inspect.signature(user_function).parameters
    if "context" in parameters and trigger_arg != "context":
        kwargs["context"] = context
    result = user_function(**kwargs)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return result


async def _await(awaitable):
    return await awaitable

"""The context the local host hands a function matches what the Python worker passes on Azure."""

from __future__ import annotations

import azure.functions as func

from governor.localhost.invoke import LocalContext, call


def _retry_figures(req: func.HttpRequest, context: func.Context) -> str:
    retry = context.retry_context
    failed = retry.exception
    return f"{retry.retry_count}/{retry.max_retry_count} [{failed.source}|{failed.message}|{failed.stack_trace}]"


def test_a_first_attempt_has_an_empty_exception_not_none():
    # On Azure the worker passes the host's (empty) RpcException message; reading its fields must not fail.
    context = LocalContext("retry_figures", _retry_figures)
    assert call(_retry_figures, "req", object(), context) == "0/0 [||]"
    assert isinstance(context.retry_context.exception, func._abc.RpcException)

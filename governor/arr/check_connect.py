"""`python -m governor arr check-connect`: does ARR refuse a session create to the connect token?

Microsoft documents ARR's data actions and custom roles, but not how ARR treats a token whose
principal lacks `managesessions/action`. This asks ARR itself, once per account: it mints the
token the connect route would hand out, lists sessions with it (expected to work), then tries a
create with it (expected 403). A create ARR accepts is stopped at once with the governor's own
identity, and reported.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from governor.arr.accounts import ArrAccount
from governor.arr.errors import ArrError
from governor.core.model import VmSize

CHECK_LEASE = timedelta(minutes=1)


def check_account(account: ArrAccount, client_factory) -> tuple[bool, dict]:
    """(as expected, report) for one account; `client_factory(account)` builds an ArrClient."""
    report: dict = {"account": account.name, "connectAuth": account.connect_auth}
    if account.connect_auth == "none":
        return True, {**report, "result": "skipped: the connect route hands out no token"}
    with client_factory(account) as governor_client:
        token = governor_client.connect_token(timedelta(0))
        as_app = replace(account, auth="token", access_token=token.token, connect_auth="none")
        with client_factory(as_app) as app_client:
            report["read"] = _try(lambda: app_client.list() and None)
            session_id = f"governor-check-connect-{uuid.uuid4()}"
            report["create"] = _try(lambda: app_client.create(VmSize.STANDARD, CHECK_LEASE, session_id=session_id))
        if report["create"] == "allowed":
            report["stoppedAgain"] = _try(lambda: governor_client.stop(session_id))
            report["result"] = "ARR accepted a session create with the connect token: apps could start sessions"
            if account.connect_auth == "key":
                report["result"] = "key mode: the token is minted with the account key and can start sessions"
            return False, report
    refused = report["create"] == "refused (HTTP 403)"
    report["result"] = "ok: ARR refused the create" if refused else "inconclusive: the create failed otherwise"
    return refused, report


def _try(action) -> str:
    try:
        action()
    except ArrError as exc:
        return f"refused (HTTP {exc.status})" if exc.status else f"failed ({type(exc).__name__})"
    return "allowed"

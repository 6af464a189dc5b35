"""What the library raises: the gate's problem answers, and its own give-ups."""

from __future__ import annotations

PROBLEM_PREFIX = "urn:arr-lease-governor:problem:"


class GovernorError(Exception):
    """A refusal or failure of the gate, from its RFC 9457 problem answer.

    `status` is the HTTP status (None when no answer came), `reason` the problem's reason code
    (`budget-exhausted`, `not-found`, ...), `detail` its text for people, `problem` the whole
    answer (the figures behind the decision). The gate never echoes a caller key, and neither
    does this error.
    """

    def __init__(
        self,
        reason: str,
        detail: str = "",
        status: int | None = None,
        problem: dict | None = None,
        retry_after: float | None = None,
    ):
        self.reason = reason
        self.detail = detail
        self.status = status
        self.problem = dict(problem or {})
        self.retry_after = retry_after
        super().__init__(f"{status or 'no answer'} {reason}: {detail}".rstrip(": "))

    @classmethod
    def from_problem(cls, status: int, body, retry_after: float | None = None) -> GovernorError:
        problem = body if isinstance(body, dict) else {}
        kind = str(problem.get("type", ""))
        reason = kind.removeprefix(PROBLEM_PREFIX) if kind.startswith(PROBLEM_PREFIX) else f"http-{status}"
        detail = str(problem.get("detail") or problem.get("title") or "")
        if status == 401 and not problem:  # the platform's refusal, before the gate: it has no body
            detail = "the Functions host refused the request: check the function key (x-functions-key)"
        return cls(reason, detail, status, problem, retry_after)


class SessionEnded(GovernorError):
    """The session stopped, expired or failed (ARR status `Stopped`, `Expired`, `Error`) or was closed."""

    def __init__(self, session_id: str, session_status: str, detail: str = "", status: int | None = None, problem=None):
        self.session_id = session_id
        self.session_status = session_status
        super().__init__("session-ended", detail or f"session {session_id} is {session_status}", status, problem)


class ReadyTimeout(GovernorError):
    """The session was not Ready by the deadline."""

    def __init__(self, session_id: str, waited: float, last_status: str):
        self.session_id = session_id
        self.last_status = last_status
        super().__init__("ready-timeout", f"session {session_id} still {last_status} after {waited:.0f} s")

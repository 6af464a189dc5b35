"""The gate's use cases: request, read, connect to, heartbeat, extend and stop sessions; a project's
usage. One module each; `base.Gate` holds the state and what they share.

The methods are the modules' functions themselves (not wrappers), so a call crosses no extra file.
"""

from governor.service.gate import actions, admission, attempts, reads, usage
from governor.service.gate.base import Caller, Gate

__all__ = ["Caller", "GateService"]


class GateService(Gate):
    request = admission.request_session
    get = reads.get_session
    list = reads.list_sessions
    connect = actions.connect
    heartbeat = actions.heartbeat
    extend = actions.extend
    stop = actions.stop
    usage = usage.project_usage
    start_next = attempts.start_next  # the sweep's, for autoRetry
    settle_for_capacity = attempts.settle_for_capacity

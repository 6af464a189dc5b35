"""The timer function, called the way the Functions docs show, runs the same sweep."""

import logging
from datetime import timedelta

import pytest
from azure.functions.timer import TimerRequest

from governor.bootstrap import reset_context
from governor.functions.openapi_doc import registered_functions  # get_functions() may run once per app
from governor.service.sweep.observe import SWEEP_FINISHED


@pytest.fixture
def app_env(stack, monkeypatch):
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GOVERNOR_UNMANAGED_MODE", "stop")
    reset_context()
    yield stack
    reset_context()


def test_the_timer_is_registered_with_the_schedule_setting():
    import function_app

    (timer,) = [f for f in registered_functions(function_app.app) if f.get_function_name() == "sweep"]
    trigger = timer.get_trigger().get_dict_repr()
    assert trigger["type"] == "timerTrigger"
    assert trigger["schedule"] == "%GOVERNOR_SWEEP_SCHEDULE%"
    assert trigger["runOnStartup"] is False


def test_a_past_due_timer_logs_it_and_sweeps(app_env, caplog):
    from governor.core.model import VmSize
    from governor.functions import sweep as sweep_functions

    stack = app_env
    stack.project("alpha")
    stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30), session_id="rogue")
    stack.advance(5)
    with caplog.at_level(logging.INFO, logger="governor.sweep"):
        sweep_functions.sweep.build().get_user_function()(TimerRequest(past_due=True))
    assert "past due" in caplog.text
    # one summary record and one per decision, their dimensions in `extra` rather than in the text
    (summary,) = [vars(r) for r in caplog.records if r.getMessage().startswith(SWEEP_FINISHED)]
    assert [summary[f"governor.sweep.{k}"] for k in ("outcome", "counts", "failed")] == ["ok", "stop 1", 0]
    (stop,) = [vars(r) for r in caplog.records if getattr(r, "governor.decision.action", None) == "stop"]
    named = [stop[k] for k in ("governor.session.id", "governor.reason", "governor.decision.outcome")]
    assert named == ["rogue", "unmanaged", "ok"]
    assert stack.store.last_sweep()["counts"] == {"stop": 1}
    assert stack.truth()["rogue"]["status"] == "Stopped"


def test_the_registered_function_is_the_same_code(app_env):
    import function_app

    (timer,) = [f for f in registered_functions(function_app.app) if f.get_function_name() == "sweep"]
    timer.get_user_function()(TimerRequest(past_due=False))
    assert app_env.store.last_sweep()["outcome"] == "ok"


def test_the_health_route_sees_the_sweep(app_env):
    from governor.functions import sweep as sweep_functions
    from governor.service.health import health

    sweep_functions.sweep.build().get_user_function()(TimerRequest(past_due=False))
    stack = app_env
    _, report = health(stack.store, stack.arr, stack.clock, "0 * * * * *", 3, "test")
    assert report["lastSweep"]["outcome"] == "ok"
    assert report["lastSweep"]["at"] is not None

"""v1 claims as pure rules: a claim's adopted session is stopped until it is gone."""

from dataclasses import replace

from governor.core.policy.sweep import Action
from tests.unit.sweep.test_decisions import OPTS, entry, policy, run


def test_a_session_adopted_for_a_claim_is_stopped_by_every_sweep_whatever_the_project_allows():
    adopted = entry(adopted=True, claim=True, heartbeat_ago=None)
    d = run(e=adopted)
    assert (d.action, d.reason, d.event, d.dry_run) == (Action.STOP, "claimed", "stop", False)
    assert not run(e=adopted, p=policy(dry_run=True)).dry_run  # as when it was claimed
    assert run(e=adopted, opts=replace(OPTS, dry_run=True)).dry_run
    assert run(e=replace(adopted, claim=False)).action is Action.LEAVE  # an ordinary adopted session runs

"""Arbitrary bodies, headers and ids: always a 4xx problem, never a 500."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"size": json_values | st.sampled_from(["Standard", "Premium", "standard"]), "maxLeaseTime": json_values},
        optional={"models": json_values},
    ).map(lambda v: json.dumps(v).encode()),
)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=bodies)
def test_create_with_any_body_is_a_4xx_or_an_admission(gate, body):
    key = getattr(gate, "_key", None) or gate.project(daily_budget=None, max_concurrent=1000)
    gate._key = key
    reply = gate.create("alpha", key, body)
    assert reply.status == 202 or 400 <= reply.status < 500, reply.body
    if reply.status != 202:
        assert reply.mimetype == "application/problem+json"


@FUZZ
@given(project=st.text(max_size=80), sid=st.text(max_size=300), key=st.text(max_size=60))
def test_any_route_params_and_keys_are_a_4xx(gate, project, sid, key):
    for reply in (gate.get(project, key, sid), gate.stop(project, key, sid), gate.extend(project, key, sid, b"{}")):
        assert 400 <= reply.status < 500, reply.body

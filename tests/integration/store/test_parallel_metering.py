"""Many projects metered from parallel threads, as the sweep does, through one shared store.

Before table clients were cached, every call built a new TableClient whose Pipeline re-linked
the service client's shared policy objects (`policy.next = ...`) while other threads were
sending through them; a thread could step onto a half-linked runner and fail with an
AttributeError from inside the Tables SDK (seen once in the 50,000-session sweep bench).
"""

from concurrent.futures import ThreadPoolExecutor

from governor.core.model import Period, cost_of
from governor.store import TableStore
from tests.integration.store.helpers import NOW, RATE, policy, seed_active

PROJECTS = 24
SESSIONS = 3
THREADS = 8


def test_many_projects_metered_from_parallel_threads_all_succeed(azurite, table_prefix):
    store = TableStore(azurite.connection_string, table_prefix)
    names = [f"p{index:02d}" for index in range(PROJECTS)]
    for name in names:
        store.put_project(policy(name))
        seed_active(store, name, [f"{name}-s{i}" for i in range(SESSIONS)])

    def meter(name: str, minutes: int) -> int:
        return store.meter_many([(name, f"{name}-s{i}", minutes) for i in range(SESSIONS)], NOW)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for minutes in (5, 10, 15):
            moved = list(pool.map(lambda name, m=minutes: meter(name, m), names))
            assert moved == [SESSIONS] * PROJECTS
    for name in names:
        day = store.usage(name, Period.DAY, Period.DAY.key(NOW))
        assert day.spent == SESSIONS * cost_of(RATE, 15)


def test_table_clients_are_built_once_per_table(azurite, table_prefix):
    store = TableStore(azurite.connection_string, table_prefix)
    other = TableStore(azurite.connection_string, table_prefix)
    first = store._table(store.tables.ledger)
    assert store._table(store.tables.ledger) is first
    assert other._table(other.tables.ledger) is first
    assert store._table(store.tables.audit) is not first
    assert TableStore(azurite.connection_string, table_prefix)._service is store._service


# The race this guards against showed once in a 50,000-session bench: no public behaviour shows it
# reliably, so this one test reads azure-core's pipeline as it is.
def _links(service) -> list[tuple[int, int]]:
    policies = service._client._client._pipeline._impl_policies
    return [(id(policy), id(getattr(policy, "next", None))) for policy in policies]


def test_building_table_clients_leaves_the_service_clients_pipeline_alone(azurite, table_prefix):
    # The cause of the AttributeError: re-linking the shared policies while other threads send.
    store = TableStore(azurite.connection_string, table_prefix)
    before = _links(store._service)
    for name in store.tables.all():
        store._table(name)
    assert _links(store._service) == before


def _connections_to(port: int) -> int:
    """Established TCP connections this machine has open to 127.0.0.1:`port` (as the kernel lists them)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp", encoding="ascii") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[2] == wanted and row[3] == "01")


def test_every_table_of_a_service_is_reached_over_one_connection_pool(azurite, table_prefix):
    """One thread using every table of two stores, one call after another, reuses one connection:
    a pool per table client would open a connection per table."""
    before = _connections_to(azurite.port)
    for store in (
        TableStore(azurite.connection_string, table_prefix),
        TableStore(azurite.connection_string, table_prefix + "b"),
    ):
        for _ in range(2):
            store.put_project(policy("alpha"))
            assert store.verify_key("alpha", "not-the-key") is False
            assert store.recent_audit(project="alpha") == []
            assert store.usage("alpha", Period.DAY, Period.DAY.key(NOW)).spent == 0
            assert [p.name for p in store.list_projects()] == ["alpha"]
    assert _connections_to(azurite.port) - before <= 1

"""Many clients at once: no lost session, no duplicate, no 500."""

from concurrent.futures import ThreadPoolExecutor

from tests.integration.emulator.client import Arr

THREADS = 16
PER_THREAD = 15


def test_concurrent_creates_and_stops_lose_nothing(emulator):
    token = Arr(emulator.url, emulator.account_id, emulator.account_key).token()

    def worker(n: int) -> list[tuple[str, int, int]]:
        client = Arr(emulator.url, emulator.account_id, emulator.account_key)
        client._token = token
        results = []
        for i in range(PER_THREAD):
            sid = f"t{n}-{i}"
            created = client.put(sid, 30).status_code
            stopped = client.stop(sid).status_code if i % 2 else None
            results.append((sid, created, stopped))
        return results

    with ThreadPoolExecutor(THREADS) as pool:
        results = [r for chunk in pool.map(worker, range(THREADS)) for r in chunk]

    assert {created for _, created, _ in results} == {201}
    assert {stopped for _, _, stopped in results} == {204, None}
    truth = {t["id"]: t["status"] for t in emulator.truth()}
    assert len(truth) == THREADS * PER_THREAD
    expected = {sid: ("Stopped" if stopped else "Starting") for sid, _, stopped in results}
    assert truth == expected
    listed = Arr(emulator.url, emulator.account_id, emulator.account_key).list_all()
    assert sorted(s["id"] for s in listed) == sorted(sid for sid, _, stopped in results if not stopped)


def test_racing_identical_puts_create_one_session(emulator):
    token = Arr(emulator.url, emulator.account_id, emulator.account_key).token()

    def put(_):
        client = Arr(emulator.url, emulator.account_id, emulator.account_key)
        client._token = token
        return client.put("contested", 30).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        codes = list(pool.map(put, range(THREADS * 2)))
    assert sorted(codes) == [200] * (THREADS * 2 - 1) + [201]
    assert len(emulator.truth()) == 1


def test_racing_v1_updates_keep_the_largest_lease(arr, emulator):
    sid = arr.call(
        "POST", f"/v1/accounts/{arr.account_id}/sessions/create", json={"maxLeaseTime": "1:00:00", "size": "standard"}
    ).json()["sessionId"]
    token = arr.token()

    def extend(minutes):
        client = Arr(emulator.url, emulator.account_id, emulator.account_key)
        client._token = token
        path = f"/v1/accounts/{arr.account_id}/sessions/{sid}"
        return client.call("PATCH", path, json={"maxLeaseTime": f"{minutes // 60}:{minutes % 60}:00"}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(extend, range(61, 61 + 40)))
    assert set(codes) <= {200, 400}
    assert 200 in codes
    assert emulator.truth()[0]["maxLeaseMinutes"] == 100

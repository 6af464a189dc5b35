"""A second gate process for the cross-process tests (`python -m tests.reliability.gate_worker`).

It runs the function app in process, like tests/integration/gate, with the settings it inherits.
Per command on stdin (one JSON line: project, key, count, body) it readies `count` threads, says
`ready`, waits for a `go` line, fires the requests at once and prints their replies (status, reason,
the refusal's `limit` figure, sessionId) as one JSON line.
"""

from __future__ import annotations

import json
import sys
import threading


def fire(gate, command: dict) -> list[dict]:
    go = threading.Event()
    replies: list = [None] * command["count"]

    def one(index: int) -> None:
        go.wait()
        reply = gate.create(command["project"], command["key"], command.get("body"))
        body = reply.body if isinstance(reply.body, dict) else {}
        # "limit": "caller" tells a refusal for the key's own limits from one for the project's
        replies[index] = {
            "status": reply.status,
            "reason": reply.reason,
            "limit": body.get("limit"),
            "sessionId": body.get("sessionId"),
        }

    # warm: imports, the context, the caller-key check (the key cache), so `go` starts the burst itself
    gate.usage(command["project"], command["key"])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(command["count"])]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("expected go")
    go.set()
    for thread in threads:
        thread.join()
    from governor.bootstrap import get_context

    get_context().store.flush()  # the activations it deferred are written before it answers
    return replies


def main() -> int:
    from tests.integration.gate.conftest import Gate

    gate = Gate(store=None, emulator=None)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(fire(gate, json.loads(line))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Client library of the ARR lease governor's gate: request a session, wait for it, connect,
heartbeat, extend and stop, with safe retries. See README.md and docs/clients.md."""

from governor_client.bundle import ConnectBundle
from governor_client.client import GovernorClient
from governor_client.errors import GovernorError, ReadyTimeout, SessionEnded
from governor_client.retry import RetryPolicy
from governor_client.session import LeasedSession
from governor_client.version import __version__

__all__ = [
    "ConnectBundle",
    "GovernorClient",
    "GovernorError",
    "LeasedSession",
    "ReadyTimeout",
    "RetryPolicy",
    "SessionEnded",
    "__version__",
]

"""A faithful emulator of the Azure Remote Rendering session service (retired in 2025).

Serves the token service, the v1 session API and the 2021-01-01 session API over real HTTP(S),
with a virtual clock, fault injection and admin routes under `/_emulator/`; also a stand-in for
Entra ID (client credentials) and ARR's role-based data actions. See docs/emulator.md.

Importing this package stays cheap: the server lives in `governor.emulator.server`.
"""

# The documented development account, used when `--account` is not given. Not a secret.
DEV_ACCOUNT_ID = "7a3e0b1c-0d2e-4f5a-8b6c-000000000001"
DEV_ACCOUNT_KEY = "arr-emulator-development-key-not-a-secret="

# The emulated Entra tenant (`--tenant`) and the development principals, used when `--principal`
# is not given: the governor's identity (Remote Rendering Client on the development account) and a
# connect-only identity (the connect role there). Documented, not secrets: they work only here.
DEV_TENANT_ID = "7a3e0b1c-0d2e-4f5a-8b6c-0000000000e0"
DEV_GOVERNOR_CLIENT_ID = "7a3e0b1c-0d2e-4f5a-8b6c-0000000000c1"
DEV_GOVERNOR_CLIENT_SECRET = "arr-emulator-governor-secret-not-a-secret"  # noqa: S105 (public, see above)
DEV_CONNECT_CLIENT_ID = "7a3e0b1c-0d2e-4f5a-8b6c-0000000000c2"
DEV_CONNECT_CLIENT_SECRET = "arr-emulator-connect-secret-not-a-secret"  # noqa: S105 (public, see above)

MAX_BODY_BYTES = 64 * 1024

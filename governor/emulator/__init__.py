"""A faithful emulator of the Azure Remote Rendering session service (retired in 2025).

Serves the token service, the v1 session API and the 2021-01-01 session API over real HTTP(S),
with a virtual clock, fault injection and admin routes under `/_emulator/`. See docs/emulator.md.

Importing this package stays cheap: the server lives in `governor.emulator.server`.
"""

# The documented development account, used when `--account` is not given. Not a secret.
DEV_ACCOUNT_ID = "7a3e0b1c-0d2e-4f5a-8b6c-000000000001"
DEV_ACCOUNT_KEY = "arr-emulator-development-key-not-a-secret="

MAX_BODY_BYTES = 64 * 1024

"""The local stack's regions: besides the development account (`default`), the emulator serves two
more ARR accounts, `westeurope` and `japaneast`, so a project's `placement` can span regions under
`make run` and `make demo` (docs/api.md, "Placement"). Their servers are unlimited until
`PUT /_emulator/capacity` sets some.

Each region is an account id of its own: the sweep lists every configured account, and one id
under two names would have it list each session twice.
"""

from __future__ import annotations

import json

from governor.emulator import DEV_ACCOUNT_ID, DEV_ACCOUNT_KEY, DEV_CONNECT_CLIENT_ID
from governor.emulator.cli_identity import CONNECT_ROLE

DEFAULT = "default"  # the name of the ARR_* account
REGIONS = {  # name -> account id, in the order a project's placement would list them
    "westeurope": "7a3e0b1c-0d2e-4f5a-8b6c-0000000000a1",
    "japaneast": "7a3e0b1c-0d2e-4f5a-8b6c-0000000000a2",
}
ACCOUNT_IDS = {DEFAULT: DEV_ACCOUNT_ID, **REGIONS}


def emulator_flags() -> list[str]:
    """The regions' accounts for the emulator, each with the development key; the development
    connect identity may connect to their sessions, as to the default account's."""
    flags = []
    for account_id in REGIONS.values():
        flags += ["--account", f"{account_id}:{DEV_ACCOUNT_KEY}"]
        flags += ["--assign", f"{account_id}:{DEV_CONNECT_CLIENT_ID}:{CONNECT_ROLE}"]
    return flags


def accounts_setting(emulator_url: str, env: dict[str, str]) -> str:
    """GOVERNOR_ARR_ACCOUNTS for the host: the regions at the emulator, signed in with the
    development key (ARR_ACCOUNT_KEY), on the default account's API and connecting the way it does."""
    like_default = {
        "apiVersion": env.get("ARR_API_VERSION") or "2021-01-01",
        "connectAuth": env.get("ARR_CONNECT_AUTH") or "none",
    }
    if like_default["connectAuth"] == "entra":
        like_default["connectClientId"] = env.get("ARR_CONNECT_CLIENT_ID", "")
        if env.get("ARR_CONNECT_CLIENT_SECRET"):
            like_default["connectClientSecretSetting"] = "ARR_CONNECT_CLIENT_SECRET"
    accounts = [
        {
            "name": name,
            "accountId": account_id,
            "serviceEndpoint": emulator_url,
            "stsEndpoint": emulator_url,
            "auth": "key",
            "accountKeySetting": "ARR_ACCOUNT_KEY",
            **like_default,
        }
        for name, account_id in REGIONS.items()
    ]
    return json.dumps(accounts)

"""The local Functions host: `python -m governor serve` and `python -m governor run`.

It serves exactly what `function_app.py` registers, read from azure-functions' own
metadata (`app.get_functions()`), so nothing is declared twice.

The development keys below are public on purpose, like Azurite's devstoreaccount1 key:
they are accepted only when GOVERNOR_DEV_KEYS is true, which governor.settings refuses
when the app runs in Azure.
"""

DEV_FUNCTION_KEY = "governor-dev-function-key"
DEV_MASTER_KEY = "governor-dev-master-key"

DEFAULT_ROUTE_PREFIX = "api"

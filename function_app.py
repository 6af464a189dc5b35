"""The Azure Functions entry point: the app with the governor's blueprints registered.

No logic and no I/O here: the platform imports this module at every cold start.
"""

from governor.functions import build_app

app = build_app()

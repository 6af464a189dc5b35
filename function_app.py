"""The Azure Functions entry point: create the app and register the governor's blueprints.

No logic and no I/O here: the platform imports this module at every cold start.
"""

import azure.functions as func

from governor.functions import blueprints

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in blueprints():
    app.register_functions(blueprint)

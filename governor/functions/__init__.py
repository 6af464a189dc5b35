"""HTTP and timer blueprints, and the app function_app.py exposes: `build_app()` registers every
blueprint listed here.

Each blueprint module must stay cheap to import: no I/O and no heavy SDK at module level.
"""

from __future__ import annotations

import importlib

import azure.functions as func

# Modules that define a module-level `bp = func.Blueprint()`.
BLUEPRINT_MODULES: tuple[str, ...] = (
    "governor.functions.gate",
    "governor.functions.manage",
    "governor.functions.health",
    "governor.functions.openapi",
    "governor.functions.dashboard",
    "governor.functions.sweep",
    "governor.functions.retention",
)
# HTTP routes that set no auth_level need a function key.
HTTP_AUTH_LEVEL = func.AuthLevel.FUNCTION


def blueprints() -> list:
    return [importlib.import_module(name).bp for name in BLUEPRINT_MODULES]


def build_app() -> func.FunctionApp:
    """The function app: every blueprint registered. function_app.py exposes one; the OpenAPI
    document builds its own from the same blueprints, so it never imports function_app."""
    app = func.FunctionApp(http_auth_level=HTTP_AUTH_LEVEL)
    for blueprint in blueprints():
        app.register_functions(blueprint)
    return app


def registered_functions(app: func.FunctionApp) -> list:
    """The app's functions. Not `app.get_functions()`: that may run once per app (the worker's
    indexing), a second call raises "does not have a unique function name"."""
    return [builder.build(app.auth_level) for builder in app._function_builders]


def http_routes(functions) -> list[tuple[str, str, str, str]]:
    """(function name, route, METHOD, auth level) of every HTTP-triggered function."""
    routes = []
    for function in functions:
        trigger = function.get_trigger().get_dict_repr()
        if trigger.get("type") != "httpTrigger":
            continue
        route = trigger.get("route") or function.get_function_name()
        auth = getattr(trigger.get("authLevel"), "value", trigger.get("authLevel")) or "function"
        for method in trigger.get("methods") or ["GET", "POST"]:
            routes.append((function.get_function_name(), route, str(getattr(method, "value", method)).upper(), auth))
    return routes

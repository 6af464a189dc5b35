"""Read the function app's own metadata and refuse, at start-up, what the Functions host refuses.

Everything comes from `app.get_functions()`: trigger type, route template, methods, auth
level, timer schedule. A new function in function_app.py is served with no change here.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from croniter import croniter

from governor.localhost import DEFAULT_ROUTE_PREFIX
from governor.localhost.routes import RouteTemplate, RouteTemplateError

BUILT_IN_ROUTES = "The specified route conflicts with one or more built in routes."
SUPPORTED_BINDINGS = frozenset({"httpTrigger", "http", "timerTrigger"})
AUTH_LEVELS = ("anonymous", "function", "admin")


class HostStartupError(RuntimeError):
    """The host refuses to start; the message lists each function in error, like the Functions host."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        lines = [f"The following {len(errors)} functions are in error:"]
        lines += [f"{name}: {message}" for name, message in errors.items()]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class HttpFunction:
    name: str
    route: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    auth_level: str
    user_function: Callable[..., Any]
    trigger_arg: str


@dataclass(frozen=True)
class TimerFunction:
    name: str
    schedule: str  # resolved: six NCRONTAB fields
    run_on_startup: bool
    user_function: Callable[..., Any]
    trigger_arg: str


@dataclass(frozen=True)
class FunctionIndex:
    route_prefix: str
    http: tuple[HttpFunction, ...]
    timers: tuple[TimerFunction, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.http] + [t.name for t in self.timers]


def load_app(module_name: str = "function_app"):
    """Import the app module and return its `app` (a func.FunctionApp)."""
    module = importlib.import_module(module_name)
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_functions"):
        raise HostStartupError({module_name: "the module defines no `app = func.FunctionApp(...)`"})
    return app


def route_prefix_for(module_name: str = "function_app") -> str:
    """extensions.http.routePrefix from the host.json beside the app module ("api" if unset)."""
    module = importlib.import_module(module_name)
    host_json = Path(getattr(module, "__file__", "") or ".").resolve().parent / "host.json"
    try:
        config = json.loads(host_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_ROUTE_PREFIX
    prefix = config.get("extensions", {}).get("http", {}).get("routePrefix", DEFAULT_ROUTE_PREFIX)
    return str(prefix).strip("/")


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def resolve_setting_names(text: str, environ: Mapping[str, str]) -> str:
    """Replace %NAME% with the app setting NAME, as the host does for binding expressions."""

    def replace(match: re.Match) -> str:
        value = environ.get(match.group(1))
        if value is None or value == "":
            raise ValueError(f"'{match.group(0)}' does not resolve to a value.")
        return value

    return re.sub(r"%([^%\s]+)%", replace, text)


def validate_schedule(schedule: str) -> str:
    expression = " ".join(schedule.split())
    if len(expression.split(" ")) != 6 or not croniter.is_valid(expression, second_at_beginning=True):
        raise ValueError(
            f"The schedule expression '{schedule}' was not recognized as a valid cron expression "
            "(the local host reads six-field NCRONTAB: second minute hour day month day-of-week)."
        )
    return expression


def index_functions(app, environ: Mapping[str, str], route_prefix: str = DEFAULT_ROUTE_PREFIX) -> FunctionIndex:
    """Describe every registered function, or raise HostStartupError naming each one in error."""
    http: list[HttpFunction] = []
    timers: list[TimerFunction] = []
    errors: dict[str, str] = {}
    # get_functions() records names on the app and raises on its own second call: leave it clean.
    app.functions_bindings = None
    try:
        functions = app.get_functions()
    except ValueError as exc:
        raise HostStartupError({"function_app": str(exc)}) from None
    finally:
        app.functions_bindings = None
    for function in functions:
        name = function.get_function_name()
        if _disabled(name, environ):
            continue
        try:
            described = _describe(function, environ)
            if isinstance(described, HttpFunction):
                _check_route_conflicts(described, http)
                http.append(described)
            else:
                timers.append(described)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise HostStartupError(errors)
    http.sort(key=lambda f: f.route.precedence)
    return FunctionIndex(route_prefix=route_prefix, http=tuple(http), timers=tuple(timers))


def _disabled(name: str, environ: Mapping[str, str]) -> bool:
    """`AzureWebJobs.<name>.Disabled=true` turns a function off, as on the platform."""
    value = environ.get(f"AzureWebJobs.{name}.Disabled") or environ.get(f"AzureWebJobs__{name}__Disabled") or ""
    return value.strip().lower() in ("1", "true")


def _describe(function, environ: Mapping[str, str]) -> HttpFunction | TimerFunction:
    name = function.get_function_name()
    bindings = [b.get_dict_repr() for b in function.get_bindings()]
    unsupported = sorted({str(_plain(b["type"])) for b in bindings} - SUPPORTED_BINDINGS)
    if unsupported:
        raise ValueError(
            f"binding type(s) {', '.join(unsupported)} are not supported by the local host "
            f"(it serves {', '.join(sorted(SUPPORTED_BINDINGS))})."
        )
    trigger = function.get_trigger().get_dict_repr()
    kind = _plain(trigger["type"])
    user_function = function.get_user_function()
    if kind == "httpTrigger":
        route_text = str(trigger.get("route") or name)
        if route_text.strip("/").lower().startswith("admin") or name.lower().startswith("admin"):
            raise ValueError(BUILT_IN_ROUTES)
        try:
            route = RouteTemplate.parse(route_text)
        except RouteTemplateError as exc:
            raise ValueError(str(exc)) from None
        methods = trigger.get("methods")
        auth_level = str(_plain(trigger.get("authLevel") or "function")).lower()
        if auth_level not in AUTH_LEVELS:
            raise ValueError(f"authLevel '{auth_level}' is not one of {', '.join(AUTH_LEVELS)}.")
        return HttpFunction(
            name=name,
            route=route,
            methods=frozenset(str(_plain(m)).upper() for m in methods) if methods else None,
            auth_level=auth_level,
            user_function=user_function,
            trigger_arg=trigger["name"],
        )
    if kind == "timerTrigger":
        schedule = validate_schedule(resolve_setting_names(str(trigger["schedule"]), environ))
        return TimerFunction(
            name=name,
            schedule=schedule,
            run_on_startup=bool(trigger.get("runOnStartup")),
            user_function=user_function,
            trigger_arg=trigger["name"],
        )
    raise ValueError(f"trigger type '{kind}' is not supported by the local host.")


def _check_route_conflicts(new: HttpFunction, existing: list[HttpFunction]) -> None:
    for other in existing:
        if new.route.text.strip("/").lower() != other.route.text.strip("/").lower():
            continue
        if new.methods is None or other.methods is None or new.methods & other.methods:
            raise ValueError(f"The route specified conflicts with the route defined by function '{other.name}'.")

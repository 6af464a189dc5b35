"""At start-up the host refuses what the Functions host refuses, with the Functions host's messages."""

import azure.functions as func
import pytest

from governor.localhost.discovery import BUILT_IN_ROUTES, HostStartupError, index_functions


def ok(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")


def _app(*routes: tuple[str, str | None, list[str] | None]) -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for name, route, methods in routes:
        app.function_name(name)(app.route(route=route, methods=methods)(ok))
    return app


def _errors(app, environ=None) -> dict[str, str]:
    with pytest.raises(HostStartupError) as refused:
        index_functions(app, environ or {})
    return refused.value.errors


@pytest.mark.parametrize("route", ["admin", "admin/x", "/Admin/things", "administration/health", "adminx"])
def test_routes_starting_with_admin_are_refused(route):
    assert _errors(_app(("fine", route, None))) == {"fine": BUILT_IN_ROUTES}


def test_function_names_starting_with_admin_are_refused_even_with_another_route():
    assert _errors(_app(("adminReset", "reset", None), ("admin", None, None))) == {
        "adminReset": BUILT_IN_ROUTES,
        "admin": BUILT_IN_ROUTES,
    }


def test_duplicate_routes_with_overlapping_methods_are_refused():
    app = _app(
        ("first", "things/{id}", ["GET"]), ("second", "Things/{id}/", ["GET", "POST"]), ("third", "things/{id}", None)
    )
    assert _errors(app) == {
        "second": "The route specified conflicts with the route defined by function 'first'.",
        "third": "The route specified conflicts with the route defined by function 'first'.",
    }


def test_same_route_with_disjoint_methods_is_fine():
    index = index_functions(_app(("get", "things", ["GET"]), ("post", "things", ["POST"])), {})
    assert {f.name for f in index.http} == {"get", "post"}


def test_duplicate_function_names_are_refused():
    errors = _errors(_app(("same", "a", None), ("same", "b", None)))
    assert "same does not have a unique function name" in errors["function_app"]


def test_an_invalid_route_template_is_refused():
    assert "unbalanced braces" in _errors(_app(("bad", "things/{id", None)))["bad"]
    assert "could not be resolved" in _errors(_app(("bad", "things/{id:nosuch}", None)))["bad"]


def test_bindings_the_host_cannot_serve_are_refused():
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
    def on_message(msg: func.QueueMessage) -> None:
        pass

    assert "queueTrigger" in _errors(app)["on_message"]


def test_every_error_is_reported_at_once_with_the_host_heading():
    with pytest.raises(HostStartupError) as refused:
        index_functions(_app(("admin1", None, None), ("admin2", None, None)), {})
    assert str(refused.value).splitlines() == [
        "The following 2 functions are in error:",
        f"admin1: {BUILT_IN_ROUTES}",
        f"admin2: {BUILT_IN_ROUTES}",
    ]


def test_indexing_leaves_the_app_indexable_again():
    app = _app(("one", "one", None))
    index_functions(app, {})
    assert [f.get_function_name() for f in app.get_functions()] == ["one"]  # the library's own call still works

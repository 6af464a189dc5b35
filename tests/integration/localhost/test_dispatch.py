"""Requests reach the function their route template, methods and prefix select, as real func.HttpRequest."""

import pytest
import requests

from tests.integration.localhost.conftest import FUNCTION_KEY


def test_route_params_query_headers_and_body_reach_the_function(sample_host):
    response = requests.post(
        f"{sample_host.url}/api/echo/Ada%20L?x=1&x=2&empty=",
        headers={**FUNCTION_KEY, "X-Sample": "hello"},
        data=b"payload",
        timeout=5,
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["route"] == {"name": "Ada L"}
    assert seen["params"] == {"x": "1,2", "empty": ""}  # repeated query values joined like the host
    assert seen["header"] == "hello"
    assert seen["body"] == "payload"
    assert seen["url"] == f"{sample_host.url}/api/echo/Ada%20L?x=1&x=2&empty="


def test_literal_route_wins_over_parameter_and_constraints_filter(sample_host):
    assert requests.get(f"{sample_host.url}/api/items/latest", timeout=5).text == "latest"
    assert requests.get(f"{sample_host.url}/api/ITEMS/42/", timeout=5).text == "id 42"
    assert requests.get(f"{sample_host.url}/api/items/abc", timeout=5).status_code == 404


def test_catch_all_takes_the_rest_of_the_path(sample_host):
    response = requests.get(f"{sample_host.url}/api/files/a/b%20c.txt", timeout=5)
    assert response.text == "a/b c.txt"
    assert response.headers["X-Kind"] == "file"
    assert requests.get(f"{sample_host.url}/api/files", timeout=5).text == ""


def test_default_route_is_the_function_name_and_async_functions_get_a_context(sample_host):
    response = requests.get(f"{sample_host.url}/api/default_route", timeout=5)
    assert response.status_code == 200
    assert response.text == "default_route"


def test_wrong_method_unknown_path_and_missing_prefix_are_not_found(sample_host):
    assert requests.delete(f"{sample_host.url}/api/echo/x", headers=FUNCTION_KEY, timeout=5).status_code == 404
    assert requests.get(f"{sample_host.url}/api/nothing-here", timeout=5).status_code == 404
    assert requests.get(f"{sample_host.url}/items/latest", timeout=5).status_code == 404


@pytest.mark.parametrize("method", ["TRACE", "BREW", "CONNECT"])
def test_a_method_no_function_accepts_is_not_found_not_a_5xx(sample_host, method):
    response = requests.request(method, f"{sample_host.url}/api/echo/x", headers=FUNCTION_KEY, timeout=5)
    assert response.status_code == 404


def test_an_exception_in_user_code_is_an_empty_500_and_the_host_keeps_serving(sample_host):
    response = requests.get(f"{sample_host.url}/api/boom", timeout=5)
    assert response.status_code == 500
    assert response.content == b""
    assert requests.get(f"{sample_host.url}/api/items/latest", timeout=5).status_code == 200


def test_admin_api_lists_the_functions_the_app_registers(sample_host):
    from tests.integration.localhost.conftest import MASTER_KEY

    listed = requests.get(f"{sample_host.url}/admin/functions", headers=MASTER_KEY, timeout=5).json()
    names = {f["name"] for f in listed}
    assert names == {"echo", "item_by_id", "item_latest", "files", "ops_reset", "default_route", "boom"}
    echo = next(f for f in listed if f["name"] == "echo")
    assert echo == {
        "name": "echo",
        "trigger": "httpTrigger",
        "route": "echo/{name}",
        "invoke_url_template": "/api/echo/{name}",
        "methods": ["GET", "POST"],
        "authLevel": "function",
    }

"""The OpenTelemetry attributes of an ARR call (HTTP client conventions) and of a table transaction
(database client conventions), as the Azure Monitor exporter needs them for type, target and
result code; no secret in either."""

from __future__ import annotations

import azure.functions as func
import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import TableServiceClient

from governor.arr.client import _http_attributes
from governor.functions import http
from governor.store.connection import _operation, _server


def test_an_arr_call_has_method_url_without_query_values_server_and_port():
    attributes = _http_attributes(
        "GET",
        "https://user:secret@remoterendering.eastus.mixedreality.azure.com/accounts/a1/sessions?$skipToken=abc&x=",
        {"api-version": "2021-01-01"},
    )
    assert attributes == {
        "kind": "client",
        "http.request.method": "GET",
        "url.full": "https://remoterendering.eastus.mixedreality.azure.com/accounts/a1/sessions"
        "?%24skipToken=REDACTED&x=REDACTED&api-version=2021-01-01",
        "url.scheme": "https",
        "server.address": "remoterendering.eastus.mixedreality.azure.com",
        "server.port": 443,
    }


def test_a_local_arr_keeps_its_port_and_a_bracketed_address():
    attributes = _http_attributes("PUT", "http://[::1]:7081/accounts/a1/sessions/s1", None)
    assert attributes["url.full"] == "http://[::1]:7081/accounts/a1/sessions/s1"
    assert (attributes["server.address"], attributes["server.port"]) == ("::1", 7081)


def test_a_transaction_is_named_by_its_operation():
    row = {"PartitionKey": "p", "RowKey": "r"}
    assert _operation([("update", row)]) == "update"
    assert _operation([("create", row), ("create", row)]) == "BATCH create"
    assert _operation([("create", row), ("update", row), ("delete", row)]) == "BATCH"


def test_the_table_service_is_the_server_and_its_account_the_namespace():
    key = AzureNamedKeyCredential("acct", "a2V5")
    azure = _server(TableServiceClient(endpoint="https://acct.table.core.windows.net", credential=key))
    assert azure == {
        "db.system.name": "azure.tables",
        "server.address": "acct.table.core.windows.net",
        "server.port": None,  # the scheme's default: left out, as the conventions ask
        "db.namespace": "acct",
    }
    local = TableServiceClient(endpoint="http://127.0.0.1:10002/devstoreaccount1", credential=key)
    assert _server(local)["server.port"] == 10002 and _server(local)["db.namespace"] == "acct"


@pytest.mark.parametrize(
    ("method", "path", "params", "route"),
    [
        ("POST", "/api/projects/a/sessions", {"project": "a"}, "/api/projects/{project}/sessions"),
        ("GET", "/api/projects/api/sessions", {"project": "api"}, "/api/projects/{project}/sessions"),
        (
            "GET",
            "/api/projects/sessions/sessions/sessions",
            {"project": "sessions", "sessionId": "sessions"},
            "/api/projects/{project}/sessions/{sessionId}",
        ),
        (
            "DELETE",
            "/api/manage/projects/p/keys/keys",
            {"project": "p", "keyName": "keys"},
            "/api/manage/projects/{project}/keys/{keyName}",
        ),
        (
            "GET",
            "/api/projects/p/sessions/a%2Fb",
            {"project": "p", "sessionId": "a/b"},
            "/api/projects/{project}/sessions/{sessionId}",
        ),
        ("GET", "/api/health", {}, "/api/health"),
    ],
)
def test_the_server_spans_route_is_the_registered_template_whatever_the_values(method, path, params, route):
    """`http.route` (and the span's name) is the matched template: low cardinality, no id in it, even
    when a value equals a literal segment of the route or a prefix of another."""
    request = func.HttpRequest(method=method, url=f"http://localhost{path}", route_params=params, body=b"")
    assert http._route(request)[0] == route


def test_an_invocation_says_its_trigger_its_cold_start_and_in_azure_its_function():
    first = http.faas_attributes("sweep", "timer", {})
    later = http.faas_attributes("request_session", "http", {"WEBSITE_SITE_NAME": "governor-abc"})
    assert first == {
        "faas.trigger": "timer",
        "faas.coldstart": first["faas.coldstart"],
        "faas.name": None,
        "cloud.resource_id": None,
    }
    assert later == {
        "faas.trigger": "http",
        "faas.coldstart": False,
        "faas.name": "governor-abc/request_session",
        "cloud.resource_id": None,  # no subscription or resource group to name it by
    }
    assert http.faas_attributes(None, "http", {"WEBSITE_SITE_NAME": "governor-abc"})["faas.name"] is None


APP_SERVICE = {
    "WEBSITE_OWNER_NAME": "0b1f6471-1bf0-4dda-aec3-111122223333+rg-governor-WestEuropewebspace-Linux",
    "WEBSITE_RESOURCE_GROUP": "rg-governor",
    "WEBSITE_SITE_NAME": "governor-abc",
}


def test_in_azure_an_invocation_names_its_function_by_resource_id():
    """`cloud.resource_id` is the invoked function's resource id (not the app's), a span attribute."""
    (attribute,) = [v for k, v in http.faas_attributes("sweep", "timer", APP_SERVICE).items() if k.startswith("cloud.")]
    assert attribute == (
        "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-governor"
        "/providers/Microsoft.Web/sites/governor-abc/functions/sweep"
    )
    bare = {**APP_SERVICE, "WEBSITE_OWNER_NAME": "0b1f6471-1bf0-4dda-aec3-111122223333"}  # no `+<webspace>`
    assert http.function_resource_id("sweep", bare) == attribute


@pytest.mark.parametrize("missing", [*APP_SERVICE, "function"])
def test_a_resource_id_missing_a_part_is_left_out_never_partial(missing):
    environ = {k: v for k, v in APP_SERVICE.items() if k != missing}
    function = None if missing == "function" else "request_session"
    assert http.faas_attributes(function, "http", environ)["cloud.resource_id"] is None
    if missing in APP_SERVICE:  # a blank variable is a missing one
        assert http.function_resource_id(function, {**environ, missing: " "}) is None


def test_on_flex_consumption_no_resource_group_leaves_the_resource_id_out():
    """Flex sets no WEBSITE_RESOURCE_GROUP and its webspace (`flex-<hash>-webspace`) names no group."""
    flex = {"WEBSITE_OWNER_NAME": "0b1f6471+flex-99ddf98v18fe-webspace", "WEBSITE_SITE_NAME": "governor-abc"}
    assert http.faas_attributes("sweep", "timer", flex)["cloud.resource_id"] is None
    assert http.function_resource_id("sweep", {**APP_SERVICE, "WEBSITE_OWNER_NAME": "+webspace"}) is None


def test_in_azure_the_resource_names_the_cloud_and_the_function_app_instance():
    from governor.telemetry_otel import SERVICE_NAME, resource_attributes

    azure = {
        "WEBSITE_SITE_NAME": "governor-abc",
        "WEBSITE_INSTANCE_ID": "inst-1",
        "REGION_NAME": "West Europe",
        "WEBSITE_MEMORY_LIMIT_MB": "2048",
    }
    attributes = resource_attributes(azure)
    assert attributes["service.name"] == SERVICE_NAME
    assert {k: v for k, v in attributes.items() if k.split(".")[0] in ("cloud", "faas")} == {
        "cloud.provider": "azure",
        "cloud.platform": "azure.functions",
        "cloud.region": "West Europe",
        "faas.instance": "inst-1",
        "faas.max_memory": 2048 * 1024 * 1024,
    }
    local = resource_attributes({"FUNCTIONS_WORKER_RUNTIME": "python"})  # the local host sets this too
    assert set(local) == {"service.name", "service.version"}


def test_metric_dimensions_are_namespaced_and_an_unlisted_one_never_fails_the_caller():
    from governor import telemetry

    named = telemetry._dimensions({"http.route": "/api/x"}, {"project": "alpha", "kind": "lease", "shiny": 1})
    assert named == {
        "http.route": "/api/x",
        "governor.project": "alpha",
        "governor.saving.kind": "lease",
        "governor.shiny": 1,
    }

"""One version: `governor.__version__` is the app's version, and every other place that states it agrees.

`governor/__init__.py` holds it because it ships: `.funcignore` leaves pyproject.toml out of the
package, and the governor is not pip-installed, so importlib.metadata has nothing to read in Azure.
This test keeps pyproject.toml's `[project] version` (and azd's template tag) equal to it, and
checks that /api/health and the OpenAPI document report it.
"""

import json
import re
import tomllib
from datetime import UTC, datetime

import azure.functions as func

import governor
from tests.conftest import ROOT


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def test_pyproject_and_azd_state_the_version_governor_reports():
    assert re.fullmatch(r"\d+\.\d+\.\d+", governor.__version__)
    assert pyproject_version() == governor.__version__
    azure_yaml = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r"template: arr-lease-governor@(\S+)", azure_yaml)[1] == governor.__version__


def _call(name: str, route: str) -> func.HttpResponse:
    from governor.functions import build_app
    from governor.functions.openapi_doc import registered_functions

    function = next(f for f in registered_functions(build_app()) if f.get_function_name() == name)
    request = func.HttpRequest("GET", f"http://localhost/api/{route}", headers={}, params={}, body=b"")
    return function.get_user_function()(request)


class _NoSweepYet:
    def last_sweep(self):
        return None


def test_health_and_the_openapi_document_report_pyproject_version():
    from governor.bootstrap import Context, set_context
    from governor.settings import Settings

    set_context(Context(Settings({}), _NoSweepYet(), {}, clock=lambda: datetime(2026, 11, 26, tzinfo=UTC)))
    try:
        health = _call("health", "health")
    finally:
        set_context(None)
    assert health.status_code == 503  # no sweep yet; the report still names the version
    assert json.loads(health.get_body())["version"] == pyproject_version()
    document = _call("openapi", "openapi.json")
    assert document.status_code == 200
    assert json.loads(document.get_body())["info"]["version"] == pyproject_version()

import pytest

from tests.unit.infra.bicep import Template, main_template


@pytest.fixture(scope="session")
def template() -> Template:
    return main_template()


@pytest.fixture(scope="session")
def app_settings(template: Template) -> dict:
    """App setting name -> [(value expression, condition or None)] as deployed to the function app."""
    _, resource = template.one("Microsoft.Web/sites/config")
    body = template.body(resource)
    assert body["name"] == "appsettings"
    return template.object_keys(body["properties"])

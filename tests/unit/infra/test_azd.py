"""azure.yaml and main.parameters.json agree with the template and the repository layout."""

import json
import re

import yaml

from tests.unit.infra.bicep import INFRA, ROOT

AZURE_YAML = ROOT / "azure.yaml"
PARAMETERS = INFRA / "main.parameters.json"


def test_azure_yaml_publishes_the_repo_root_as_a_python_function():
    config = yaml.safe_load(AZURE_YAML.read_text())
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    (service,) = config["services"].values()
    assert service["language"] == "python"
    assert service["host"] == "function"
    project = (ROOT / service["project"]).resolve()
    assert project == ROOT
    for needed in ("function_app.py", "host.json", "requirements.txt"):
        assert (project / needed).is_file(), needed


def test_the_function_app_is_tagged_for_azd(template):
    config = yaml.safe_load(AZURE_YAML.read_text())
    (service_name,) = config["services"]
    _, site = template.one("Microsoft.Web/sites")
    tags = template.object_keys(template.body(site)["tags"])
    assert tags["azd-service-name"] == [(service_name, None)]
    assert "azd-env-name" in tags


def _parameters() -> dict:
    return json.loads(PARAMETERS.read_text())["parameters"]


def test_parameters_file_names_only_template_parameters(template):
    unknown = set(_parameters()) - set(template.params)
    assert not unknown, f"main.parameters.json sets parameters main.bicep does not declare: {unknown}"


def test_parameters_file_supplies_every_required_parameter(template):
    required = {name for name, p in template.params.items() if p.get("default") is None}
    missing = required - set(_parameters())
    assert not missing, f"required parameters missing from main.parameters.json: {missing}"


def test_first_deployment_is_a_dry_run(template):
    assert template.param_default("dryRun") is True
    assert _parameters()["dryRun"]["value"] == "${GOVERNOR_DRY_RUN=true}"


def test_azd_defaults_match_the_template_defaults(template):
    for name, entry in _parameters().items():
        match = re.fullmatch(r"\$\{[A-Z_]+=(.*)\}", str(entry["value"]))
        if not match:
            continue
        default = template.param_default(name)
        assert match.group(1) == (str(default).lower() if isinstance(default, bool) else str(default)), name

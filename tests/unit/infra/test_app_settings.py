"""Every setting the code reads (governor.settings.SETTINGS) is set by the template, with values the code accepts."""

import json
import re

import pytest

from governor.settings import BY_NAME, SETTINGS
from tests.unit.infra.bicep import UNKNOWN

# Deliberate differences from the code's defaults, and why.
TEMPLATE_DEFAULTS = {
    "GOVERNOR_DRY_RUN": "true",  # a first deployment decides and audits but acts on nothing
    "ARR_AUTH": "key",  # explicit in Azure: key (via Key Vault) or entra, never guessed
    "ARR_CONNECT_AUTH": "entra",  # Azure has the connect identity: apps get its narrow token, never a key's
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",  # local auth is off: export as the identity
}
FORBIDDEN = {
    "GOVERNOR_TABLES_CONNECTION": "a connection string; Azure uses GOVERNOR_TABLES_ENDPOINT and the identity",
    "AzureWebJobsStorage": "a connection string; use AzureWebJobsStorage__accountName",
    "FUNCTIONS_WORKER_RUNTIME": "rejected on Flex Consumption (runtime is in functionAppConfig)",
    "FUNCTIONS_EXTENSION_VERSION": "rejected on Flex Consumption",
    "WEBSITE_TIME_ZONE": "not supported on Flex Consumption; NCRONTAB is UTC",
    "WEBSITE_RUN_FROM_PACKAGE": "rejected on Flex Consumption",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING": "a connection string, and not used on Flex",
    "APPINSIGHTS_INSTRUMENTATIONKEY": "local auth is off; the identity authenticates",
}


def test_every_setting_the_code_reads_is_set(app_settings):
    needed = [s.name for s in SETTINGS if not s.local_only and not s.secret]
    missing = [name for name in needed if name not in app_settings]
    assert not missing, f"infra/main.bicep does not set these governor settings: {', '.join(missing)}"


def test_no_undeclared_or_local_only_governor_setting(app_settings):
    governor_like = [k for k in app_settings if isinstance(k, str) and k.startswith(("ARR_", "GOVERNOR_"))]
    undeclared = [k for k in governor_like if k not in BY_NAME]
    local_only = [k for k in governor_like if k in BY_NAME and BY_NAME[k].local_only]
    assert not undeclared, f"the template sets settings the code never reads: {undeclared}"
    assert not local_only, f"the template sets development-only settings: {local_only}"


def test_forbidden_settings_are_absent(app_settings):
    present = {k: why for k, why in FORBIDDEN.items() if k in app_settings}
    assert not present, f"forbidden app settings: {present}"


def test_secrets_reach_the_app_only_as_key_vault_references(template, app_settings):
    reference = "@Microsoft.KeyVault(VaultName=${keyVaultName};"
    for setting in [s for s in SETTINGS if s.secret]:
        for value, _ in app_settings.get(setting.name, []):
            assert str(template.deref(value)).startswith(reference), setting.name
    # Further accounts' keys: app settings named by the operator, built by toObject(..., name, value lambdas).
    (dynamic, _), *_ = app_settings[UNKNOWN]
    assert dynamic["function"]["type"].lower() == "toobject"
    value_lambda = list(dynamic["function"]["parameters"].values())[-1]
    assert value_lambda["detail"]["expression"].startswith(reference)
    vault_name = template.body(template.one("Microsoft.KeyVault/vaults")[1])["name"]
    assert vault_name == "keyVaultName"


def test_template_defaults_match_the_code(template, app_settings):
    wrong = {}
    for setting in SETTINGS:
        if setting.name not in app_settings or setting.secret:
            continue
        (value, _), *_ = app_settings[setting.name]
        deployed = template.evaluate(value)
        if deployed is UNKNOWN:
            continue  # a required parameter or a resource property
        expected = TEMPLATE_DEFAULTS.get(setting.name, setting.default)
        if (deployed or None) != expected:
            wrong[setting.name] = (deployed, expected)
    assert not wrong, f"template default differs from governor.settings (deployed, expected): {wrong}"
    assert template.evaluate(app_settings["GOVERNOR_DRY_RUN"][0][0]) == "true"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if not s.local_only and not s.secret], ids=lambda s: s.name)
def test_every_value_the_template_can_deploy_is_accepted_by_the_code(template, app_settings, setting):
    value, _ = app_settings[setting.name][0]
    candidates = [template.evaluate(value)]
    reference = template.deref(value)
    if isinstance(reference, str) and reference in template.params:
        candidates += template.decorator(reference, "allowed") or []
    for candidate in candidates:
        if candidate is UNKNOWN or candidate == "":
            continue
        setting.parse(str(candidate))  # raises ValueError if the code would refuse it


def test_every_binding_expression_of_the_function_app_is_set(app_settings):
    import function_app  # what the platform indexes at start-up
    from governor.functions.openapi_doc import registered_functions  # app.get_functions() may run only once

    referenced = set()
    for function in registered_functions(function_app.app):
        for binding in function.get_bindings():
            referenced |= set(re.findall(r"%([A-Za-z0-9_.]+)%", json.dumps(binding.get_dict_repr(), default=str)))
    assert "GOVERNOR_SWEEP_SCHEDULE" in referenced
    missing = sorted(referenced - set(app_settings))
    assert not missing, f"bindings read app settings the template does not set: {missing}"

"""The security posture the template encodes: identities and RBAC, no shared keys, TLS 1.2, local auth off."""

import re

from governor.settings import BY_NAME
from governor.store.tables import table_names
from tests.unit.infra.bicep import MAIN, walk

ROLES = {
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "keyVaultSecretsUser": "4633458b-17de-408a-b874-0445c86b69e6",
}


def test_storage_refuses_shared_keys_and_public_blobs(template):
    _, storage = template.one("Microsoft.Storage/storageAccounts")
    properties = template.body(storage)["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    _, container = template.one("Microsoft.Storage/storageAccounts/blobServices/containers")
    assert template.body(container)["properties"]["publicAccess"] == "None"


def test_no_key_or_connection_string_is_ever_read():
    text = MAIN.read_text().lower()
    for needle in ("listkeys(", "listaccountsas(", "accountkey=", "defaultendpointsprotocol", "instrumentationkey"):
        assert needle not in text, needle


def test_function_app_is_flex_python_311_with_its_own_identity(template):
    _, plan = template.one("Microsoft.Web/serverfarms")
    assert template.body(plan)["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    _, site = template.one("Microsoft.Web/sites")
    body = template.body(site)
    assert body["kind"] == "functionapp,linux"
    # its own (system-assigned) identity, plus the connect identity (tests/unit/infra/test_connect_identity.py)
    assert body["identity"]["type"] == "SystemAssigned, UserAssigned"
    properties = body["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"
    assert properties["siteConfig"]["ftpsState"] == "Disabled"
    config = properties["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["type"] == "blobContainer"
    assert config["deployment"]["storage"]["authentication"] == {"type": "SystemAssignedIdentity"}


def test_basic_auth_publishing_is_off(template):
    policies = template.of_type("Microsoft.Web/sites/basicPublishingCredentialsPolicies").values()
    assert sorted((template.body(p)["name"], template.body(p)["properties"]["allow"]) for p in policies) == [
        ("ftp", False),
        ("scm", False),
    ]


def test_host_storage_and_telemetry_use_the_identity(template, app_settings):
    assert template.evaluate(app_settings["AzureWebJobsStorage__credential"][0][0]) == "managedidentity"
    assert "AzureWebJobsStorage__accountName" in app_settings
    assert template.evaluate(app_settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"][0][0]) == "Authorization=AAD"
    endpoint = template.deref(app_settings["GOVERNOR_TABLES_ENDPOINT"][0][0])
    assert endpoint["operator"]["operands"]["operand_1"] == "storage"  # the account's table endpoint


def test_monitoring_local_auth_is_off(template):
    _, insights = template.one("Microsoft.Insights/components")
    assert template.body(insights)["properties"]["DisableLocalAuth"] is True
    _, workspace = template.one("Microsoft.OperationalInsights/workspaces")
    assert template.body(workspace)["properties"]["features"]["disableLocalAuth"] is True


def test_key_vault_is_rbac_and_holds_the_arr_key_only_in_key_mode(template, app_settings):
    _, vault = template.one("Microsoft.KeyVault/vaults")
    assert template.body(vault)["properties"]["enableRbacAuthorization"] is True
    (_, condition), *others = app_settings["ARR_ACCOUNT_KEY"]
    assert not others and condition == "useArrKey"
    assert template.deref("useArrKey")["operator"] == {
        "type": "equals",
        "operands": {"operand_1": "arrAuth", "operand_2": "key"},
    }
    assert template.decorator("arrAuth", "allowed") == ["key", "entra"]
    assert template.decorator("arrAccountKey", "secure") is True
    secrets = template.of_type("Microsoft.KeyVault/vaults/secrets")
    assert set(secrets) == {"arrKeySecret", "pepperSecret"}
    assert "useArrKey" in str(template.condition(secrets["arrKeySecret"]))
    # the pepper is written only when given: an empty one never overwrites the vault's
    assert "writePepper" in str(template.condition(secrets["pepperSecret"]))
    not_empty = {"type": "not", "operands": {"bool_value": {"function": {"type": "empty", "parameters": {}}}}}
    not_empty["operands"]["bool_value"]["function"]["parameters"] = {"item_to_test": "keyPepper"}
    assert template.deref("writePepper") == {"operator": not_empty}


def test_the_key_pepper_reaches_the_app_only_from_the_vault_and_only_when_asked(template, app_settings):
    (value, condition), *others = app_settings["GOVERNOR_KEY_PEPPER"]
    assert not others and condition == "usePepper"
    assert str(template.deref(value)).endswith("SecretName=${pepperSecretName})")
    assert template.deref("usePepper") == {
        "operator": {"type": "or", "operands": {"operand_1": "writePepper", "operand_2": "keyPepperInVault"}}
    }
    assert template.param_default("keyPepper") == "" and template.param_default("keyPepperInVault") is False
    assert template.deref("pepperSecretName") == "governor-key-pepper"


def _assignments(template):
    for name, resource in template.of_type("Microsoft.Authorization/roleAssignments").items():
        body = template.body(resource)
        role_expr = body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        yield name, body, template.deref(role_expr)


def test_function_identity_holds_the_four_roles_with_deterministic_names(template):
    granted = {}
    for name, body, role in _assignments(template):
        principal = body["properties"]["principalId"]
        if "functionApp" not in str(principal):
            continue
        guid = body["name"]["function"]
        assert guid["type"] == "guid", name
        scope_id, principal_id, role_id = guid["parameters"].values()
        assert scope_id["operator"]["operands"] == {"operand_1": body["scope"], "operand_2": "id"}, name
        assert "functionApp" in str(principal_id), name
        assert template.deref(role_id) == role, name
        assert body["properties"]["principalType"] == "ServicePrincipal", name
        granted[role] = body["scope"]
    assert granted == {
        ROLES["storageTableDataContributor"]: "storage",
        ROLES["storageBlobDataOwner"]: "storage",
        ROLES["monitoringMetricsPublisher"]: "appInsights",
        ROLES["keyVaultSecretsUser"]: "vault",
    }


def test_operator_roles_are_optional(template):
    operator = [
        n for n, body, _ in _assignments(template) if "operatorPrincipalId" in str(body["properties"]["principalId"])
    ]
    assert operator == ["operatorTableDataRole", "operatorVaultSecretsRole"]  # not vacuous: both are checked
    for name in operator:
        assert "operatorPrincipalId" in str(template.condition(template.resources[name])), name


def test_app_settings_wait_for_the_roles(template):
    _, settings = template.one("Microsoft.Web/sites/config")
    waits_for = set(template.body(settings)["dependsOn"])
    assert {"tableDataRole", "blobDataRole", "metricsPublisherRole", "vaultSecretsUserRole"} <= waits_for


def test_the_template_creates_the_tables_the_store_uses(template):
    _, tables = template.one("Microsoft.Storage/storageAccounts/tableServices/tables")
    loop = tables["config"]["loop_type"]["detail"]
    suffixes = template.deref(loop["array_name"])
    name_template = template.body(tables)["name"]
    prefix = template.param_default("tablePrefix")
    assert prefix == BY_NAME["GOVERNOR_TABLE_PREFIX"].default
    for candidate in (prefix, "contoso2"):
        deployed = {
            name_template.replace("${tablePrefix}", candidate).replace(f"${{{loop['item_name']}}}", s) for s in suffixes
        }
        assert deployed == set(table_names(candidate).all())


def test_no_secret_parameter_leaks_into_outputs(template):
    secure = {name for name in template.params if template.decorator(name, "secure")}
    assert secure == {"arrAccountKey", "keyPepper"}
    for name, output in template.model["outputs"].items():
        mentioned = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(map(str, walk(output["value"])))))
        assert not secure & mentioned, name

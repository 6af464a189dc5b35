"""The connect identity (issue 21): a second, user-assigned identity whose ARR tokens client apps get
from the connect route. Its custom role must equal governor.core.policy.arr_roles.CONNECT_ACTIONS (the
one source of ARR's data actions), so it can read and join sessions but never start or stop one; the
governor's own identity stays the system-assigned one, with Remote Rendering Client."""

import itertools
import json
import re

import pytest

from governor.core.policy import arr_roles
from tests.unit.infra.bicep import INFRA, ROOT, Template, parse_file

ARR_ROLES_BICEP = INFRA / "arr-roles.bicep"
DEPLOY_MD = ROOT / "docs" / "deploy.md"
# Azure built-in role ids (learn.microsoft.com, Azure built-in roles, Mixed reality).
BUILT_IN_ROLE_IDS = {
    arr_roles.CLIENT: "d39065c4-c120-43c9-ab0a-63eed9795f0a",
    arr_roles.ADMINISTRATOR: "3df8b902-2a6f-47c7-8cc5-360e9b272a7e",
}
ARR_ACCOUNT = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-arr"
    "/providers/Microsoft.MixedReality/remoteRenderingAccounts/arr-prod"
)


@pytest.fixture(scope="module")
def roles() -> Template:
    return Template(parse_file(ARR_ROLES_BICEP))


@pytest.fixture(scope="module")
def module(template):
    return template.model["modules"]["arrRoles"]


def _accessor(expr) -> tuple:
    """`a.b.c` as parsed by pycep -> ("a", "b", "c")."""
    if isinstance(expr, str):
        return (expr,)
    operands = expr["operator"]["operands"]
    assert expr["operator"]["type"] == "property_accessor", expr
    return _accessor(operands["operand_1"]) + _accessor(operands["operand_2"])


def _accessor_expr(base: str, key: str) -> dict:
    return {"operator": {"type": "property_accessor", "operands": {"operand_1": base, "operand_2": key}}}


def _role_id(body: dict):
    function = body["properties"]["roleDefinitionId"]["function"]
    assert function["type"] == "subscription_resource_id"
    assert function["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    return function["parameters"]["resource_name_1"]


# ---------------------------------------------------------------- the custom role equals arr_roles
def test_the_connect_role_holds_exactly_the_connect_actions(roles):
    _, definition = roles.one("Microsoft.Authorization/roleDefinitions")
    properties = roles.body(definition)["properties"]
    assert properties["type"] == "CustomRole"
    (permission,) = properties["permissions"]
    assert roles.deref(permission["dataActions"]) == list(arr_roles.CONNECT_ACTIONS)
    assert permission["actions"] == permission["notActions"] == permission["notDataActions"] == []
    granted = roles.deref(permission["dataActions"])
    assert not arr_roles.can_start_sessions(granted)  # no managesessions/action: cannot create or extend
    assert arr_roles.SESSIONS_STOP not in granted
    assert not any("*" in action for action in granted)


def test_the_connect_role_is_named_as_arr_roles_says_and_unique_in_the_tenant(roles):
    assert roles.deref(_accessor_expr("connectRole", "name")) == arr_roles.CONNECT_ROLE
    _, definition = roles.one("Microsoft.Authorization/roleDefinitions")
    body = roles.body(definition)
    # Custom role names are unique in a tenant: the function app's name tells deployments apart.
    assert roles.deref(body["properties"]["roleName"]) == "${connectRole.name} (${roleNameSuffix})"
    assert body["name"]["function"]["type"] == "guid"
    assert "roleNameSuffix" in body["name"]["function"]["parameters"].values()
    # assignable only in the ARR account's resource group (where the module is deployed)
    (scope,) = body["properties"]["assignableScopes"]
    assert scope["operator"]["operands"]["operand_2"] == "id"
    assert scope["operator"]["operands"]["operand_1"]["function"]["type"] == "resource_group"


def test_every_data_action_in_the_templates_is_one_arr_roles_knows():
    for path in (ARR_ROLES_BICEP, INFRA / "main.bicep"):
        actions = set(
            re.findall(r"Microsoft\.MixedReality/[A-Za-z*]+(?:/[A-Za-z*]+)*", path.read_text(encoding="utf-8"))
        )
        actions = {a for a in actions if a.count("/") > 1}  # data actions, not resource types
        assert actions <= set(arr_roles.ALL_ACTIONS), (path.name, actions - set(arr_roles.ALL_ACTIONS))


def test_the_built_in_role_is_remote_rendering_client_by_its_id(roles):
    client = roles.deref("remoteRenderingClient")
    assert client == {"name": arr_roles.CLIENT, "id": BUILT_IN_ROLE_IDS[arr_roles.CLIENT]}
    assert BUILT_IN_ROLE_IDS[arr_roles.ADMINISTRATOR] not in ARR_ROLES_BICEP.read_text()


# ---------------------------------------------------------------- the assignments
def test_each_principal_gets_its_role_on_the_arr_account(roles):
    name, account = roles.one("Microsoft.MixedReality/remoteRenderingAccounts")
    assert account["existing"] is True and roles.body(account)["name"] == "arrAccountName"
    granted = {}
    for resource_name, resource in roles.of_type("Microsoft.Authorization/roleAssignments").items():
        body = roles.body(resource)
        assert body["scope"] == name, resource_name
        assert body["properties"]["principalType"] == "ServicePrincipal", resource_name
        scope_id, principal, role = body["name"]["function"]["parameters"].values()
        assert _accessor(scope_id) == (name, "id"), resource_name
        assert principal == body["properties"]["principalId"], resource_name
        assert role == _role_id(body), resource_name  # deterministic names: scope, principal, role
        granted[body["properties"]["principalId"]] = (_accessor(_role_id(body)), roles.condition(resource))
    assert granted == {
        "connectPrincipalId": (("connectRoleDefinition", "name"), "assignConnectRole"),
        "governorPrincipalId": (("remoteRenderingClient", "id"), "assignGovernorRole"),
    }
    _, definition = roles.one("Microsoft.Authorization/roleDefinitions")
    assert roles.condition(definition) == "assignConnectRole"


def test_main_passes_the_right_principals_and_modes(template, roles, module):
    params = template.body(module)["params"]
    assert set(params) == set(roles.params)  # every module parameter set, none unknown
    assert _accessor(params["connectPrincipalId"]) == ("connectIdentity", "properties", "principalId")
    assert _accessor(params["governorPrincipalId"]) == ("functionApp", "identity", "principalId")
    assert params["roleNameSuffix"] == "functionAppName"
    for flag, setting, param in (
        ("assignConnectRole", "connectUsesEntra", "arrConnectAuth"),
        ("assignGovernorRole", "governorUsesEntra", "arrAuth"),
    ):
        assert params[flag] == setting
        for mode in template.decorator(param, "allowed"):
            assert template.evaluate(setting, {param: mode}) is (mode == "entra"), (flag, mode)


@pytest.mark.parametrize(
    ("account", "auth", "connect"),
    list(itertools.product(["", ARR_ACCOUNT], ["key", "entra"], ["none", "key", "entra"])),
)
def test_arr_roles_are_made_only_for_a_known_account_and_an_entra_mode(template, module, account, auth, connect):
    values = {"arrAccountResourceId": account, "arrAuth": auth, "arrConnectAuth": connect}
    made = template.evaluate(template.condition(module), values)
    assert made is bool(account and "entra" in (auth, connect))


def test_the_module_runs_in_the_arr_accounts_resource_group(template, module):
    body = template.body(module)
    assert body["name"] == "governor-arr-roles-${resourceToken}"
    scope = body["scope"]["function"]
    assert scope["type"] == "resource_group"
    index = {k: v["operator"] for k, v in scope["parameters"].items()}
    assert {k: (o["type"], o["operands"]["operand_1"]) for k, o in index.items()} == {
        "subscription_id": ("index_accessor", "arrAccountIdParts"),
        "resource_group_name": ("index_accessor", "arrAccountIdParts"),
    }
    name = body["params"]["arrAccountName"]["function"]
    assert (name["type"], name["parameters"]["arg_1"]) == ("last", "arrAccountIdParts")
    parts = ARR_ACCOUNT.split("/")  # what split(arrAccountResourceId, '/') gives
    subscription = parts[index["subscription_id"]["operands"]["operand_2"]]
    group = parts[index["resource_group_name"]["operands"]["operand_2"]]
    assert (subscription, group, parts[-1]) == ("11111111-2222-3333-4444-555555555555", "rg-arr", "arr-prod")
    split = template.deref("arrAccountIdParts")["function"]
    assert split["type"] == "split" and split["parameters"]["delimiter"] == "/"
    # An empty id falls back to the resource group's own id, whose parts 2 and 4 exist too.
    fallback = split["parameters"]["input_string"]["operator"]["operands"]
    assert fallback["condition"] == "hasArrAccountResourceId" and fallback["true_value"] == "arrAccountResourceId"
    assert template.param_default("arrAccountResourceId") == ""
    assert template.evaluate("hasArrAccountResourceId", {"arrAccountResourceId": ARR_ACCOUNT}) is True
    assert template.model["modules"]["arrRoles"]["detail"]["path"] == ARR_ROLES_BICEP.name


# ---------------------------------------------------------------- the identity and its settings
def test_the_connect_identity_is_attached_next_to_the_system_assigned_one(template):
    name, identity = template.one("Microsoft.ManagedIdentity/userAssignedIdentities")
    assert template.body(identity)["name"] == "id-connect-${resourceToken}"
    assert template.condition(identity) is None  # always there: switching modes needs no new identity
    _, site = template.one("Microsoft.Web/sites")
    attached = template.body(site)["identity"]
    assert attached["type"] == "SystemAssigned, UserAssigned"
    assert attached["userAssignedIdentities"] == {"'${" + name + ".id}'": {}}


def test_connect_settings_name_the_connect_identity(template, app_settings):
    (client_id, condition), *others = app_settings["ARR_CONNECT_CLIENT_ID"]
    assert not others and condition is None
    assert _accessor(template.deref(client_id)) == ("connectIdentity", "properties", "clientId")
    (mode, _), *_ = app_settings["ARR_CONNECT_AUTH"]
    assert mode == "arrConnectAuth"
    assert template.decorator("arrConnectAuth", "allowed") == ["none", "key", "entra"]
    assert template.param_default("arrConnectAuth") == "entra"


def test_everything_else_keeps_the_governors_own_identity(template, app_settings):
    """No client id anywhere but ARR_CONNECT_CLIENT_ID: host storage, telemetry, Key Vault
    references, the deployment package and DefaultAzureCredential all stay system-assigned."""
    for name in app_settings:
        if isinstance(name, str) and name != "ARR_CONNECT_CLIENT_ID":
            assert not re.search(r"(^AZURE_CLIENT_ID$|__clientId$|__managedIdentityResourceId$)", name), name
    for name, _ in app_settings.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", []):
        assert "ClientId" not in str(template.evaluate(name))
    _, site = template.one("Microsoft.Web/sites")
    body = template.body(site)
    assert "keyVaultReferenceIdentity" not in body["properties"]
    storage = body["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["authentication"] == {"type": "SystemAssignedIdentity"}
    assert str(body).count("connectIdentity") == 1  # attached, and used by nothing else in the site


def test_app_settings_wait_for_the_arr_roles(template):
    _, settings = template.one("Microsoft.Web/sites/config")
    assert "arrRoles" in template.body(settings)["dependsOn"]


def test_operators_get_the_ids_for_assignments_by_hand(template):
    outputs = template.model["outputs"]
    assert _accessor(outputs["CONNECT_IDENTITY_CLIENT_ID"]["value"]) == ("connectIdentity", "properties", "clientId")
    assert _accessor(outputs["CONNECT_IDENTITY_PRINCIPAL_ID"]["value"]) == (
        "connectIdentity",
        "properties",
        "principalId",
    )
    assert _accessor(outputs["FUNCTION_APP_PRINCIPAL_ID"]["value"]) == ("functionApp", "identity", "principalId")
    # not named like the setting: a managed identity's client id is of no use outside Azure
    assert not {"ARR_CONNECT_CLIENT_ID", "ARR_CONNECT_AUTH"} & set(outputs)


# ---------------------------------------------------------------- the docs say the same
def _doc_role() -> dict:
    text = DEPLOY_MD.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    (role,) = [json.loads(b) for b in blocks if '"DataActions"' in b]
    return role


def test_the_by_hand_role_in_the_docs_equals_arr_roles():
    role = _doc_role()
    assert role["Name"] == arr_roles.CONNECT_ROLE
    assert role["IsCustom"] is True
    assert role["DataActions"] == list(arr_roles.CONNECT_ACTIONS)
    assert role["Actions"] == role["NotActions"] == role["NotDataActions"] == []


def test_the_docs_tell_the_operator_to_check_the_role_in_a_real_tenant():
    text = DEPLOY_MD.read_text(encoding="utf-8")
    for needed in (
        "python -m governor arr check-connect",
        "ARR_CONNECT_AUTH=none",
        "https://sts.mixedreality.azure.com/mixedreality.signin",
        BUILT_IN_ROLE_IDS[arr_roles.CLIENT],
        *arr_roles.CONNECT_ACTIONS,
    ):
        assert needed in text, needed


def test_azd_maps_the_connect_parameters():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["arrConnectAuth"]["value"] == "${ARR_CONNECT_AUTH=entra}"  # named like the app setting
    assert parameters["arrAccountResourceId"]["value"] == "${ARR_ACCOUNT_RESOURCE_ID=}"

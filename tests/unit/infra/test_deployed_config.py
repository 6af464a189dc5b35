"""The settings a deployment writes start the governor: governor.settings and the ARR account
builder accept them, in each auth mode, with dry-run on."""

import pytest

from governor.arr.accounts import AccountError, accounts_from_settings
from governor.settings import load

# Resource properties that exist only once Azure has created the resources.
PLACEHOLDERS = {
    "AzureWebJobsStorage__accountName": "stexample",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=00000000-0000-0000-0000-000000000000",
    "GOVERNOR_TABLES_ENDPOINT": "https://stexample.table.core.windows.net/",
    "ARR_CONNECT_CLIENT_ID": "3c1f0e2d-4b5a-4c6d-8e7f-9a0b1c2d3e4f",  # the user-assigned identity's client id
}
REQUIRED = {
    "environmentName": "test",
    "arrAccountId": "7e3bd1d8-5c2b-4e3f-9d56-1f0e4b6a2c11",
    "arrServiceEndpoint": "eastus",
}
AZURE = {"WEBSITE_SITE_NAME": "func-example", "WEBSITE_INSTANCE_ID": "0"}  # what the platform adds


def deploy(template, app_settings, **values) -> dict[str, str]:
    return {**template.deployed_settings(app_settings, {**REQUIRED, **values}, PLACEHOLDERS), **AZURE}


def resolved(environ: dict[str, str]) -> dict[str, str]:
    """What the app sees once the platform has resolved its Key Vault references."""
    return {k: "resolved-secret" if v.startswith("@Microsoft.KeyVault(") else v for k, v in environ.items()}


@pytest.mark.parametrize("auth", ["key", "entra"])
def test_each_auth_mode_starts_in_dry_run(template, app_settings, auth):
    assert auth in template.decorator("arrAuth", "allowed")
    environ = deploy(template, app_settings, arrAuth=auth)
    settings = load(resolved(environ))
    assert settings["GOVERNOR_DRY_RUN"] is True
    assert settings["GOVERNOR_TABLES_CONNECTION"] is None
    assert accounts_from_settings(settings)["default"].auth == auth
    assert ("ARR_ACCOUNT_KEY" in environ) is (auth == "key")
    _, vault = template.one("Microsoft.KeyVault/vaults")
    assert template.evaluate(template.condition(vault), {"arrAuth": auth}) is (auth == "key")


@pytest.mark.parametrize("auth", ["key", "entra"])
@pytest.mark.parametrize("connect", ["none", "key", "entra"])
def test_each_connect_mode_reaches_the_code(template, app_settings, auth, connect):
    assert template.decorator("arrConnectAuth", "allowed") == ["none", "key", "entra"]
    environ = deploy(template, app_settings, arrAuth=auth, arrConnectAuth=connect)
    settings = load(resolved(environ))
    if connect == "key" and auth == "entra":  # no account key to mint with: refused by name, not run half-way
        with pytest.raises(AccountError, match="ARR_CONNECT_AUTH is key but no account key"):
            accounts_from_settings(settings)
        return
    account = accounts_from_settings(settings)["default"]
    assert account.connect_auth == connect
    if connect == "entra":  # the connect identity, never the governor's own (system-assigned, no client id)
        assert account.connect_identity.client_id == PLACEHOLDERS["ARR_CONNECT_CLIENT_ID"]
        assert account.identity.client_id is None
    else:
        assert account.connect_identity is None


def test_a_default_deployment_hands_apps_the_connect_identity_token(template, app_settings):
    account = accounts_from_settings(load(resolved(deploy(template, app_settings))))["default"]
    assert (account.auth, account.connect_auth) == ("key", "entra")


def test_switching_dry_run_off_reaches_the_code(template, app_settings):
    assert load(resolved(deploy(template, app_settings, dryRun=False)))["GOVERNOR_DRY_RUN"] is False


FURTHER = [
    {
        "name": "eu",
        "accountId": "0b4a37c2-8d7e-4f1a-b2c3-9a8b7c6d5e4f",
        "serviceEndpoint": "westeurope",
        "auth": "key",
        "accountKeySetting": "ARR_EU_KEY",
    }
]


def test_a_further_account_reads_its_key_from_the_vault(template, app_settings):
    values = {"arrAuth": "entra", "arrAccounts": FURTHER, "arrAccountKeySecrets": {"ARR_EU_KEY": "arr-eu-key"}}
    environ = deploy(template, app_settings, **values)
    assert environ["ARR_EU_KEY"] == "@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=arr-eu-key)"
    accounts = accounts_from_settings(load(resolved(environ)))
    assert (accounts["default"].auth, accounts["eu"].auth) == ("entra", "key")
    _, vault = template.one("Microsoft.KeyVault/vaults")
    assert template.evaluate(template.condition(vault), values) is True


def test_a_further_account_without_its_secret_is_refused_by_name(template, app_settings):
    environ = deploy(template, app_settings, arrAuth="entra", arrAccounts=FURTHER)
    with pytest.raises(AccountError, match="ARR_EU_KEY"):
        accounts_from_settings(load(environ))


def test_an_unresolved_vault_reference_stops_the_app_by_name(template, app_settings):
    from governor.settings import SettingsError

    environ = deploy(template, app_settings, arrAuth="key")
    with pytest.raises(SettingsError, match="ARR_ACCOUNT_KEY is an unresolved Key Vault reference"):
        load(environ)

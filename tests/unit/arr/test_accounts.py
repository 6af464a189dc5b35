import json

import pytest

from governor.arr.accounts import DEFAULT_STS, AccountError, account_names, accounts_from_settings
from governor.settings import load

ID = "11111111-2222-3333-4444-555555555555"


def accounts(**env):
    return accounts_from_settings(load({k: v for k, v in env.items() if v is not None}))


def test_region_name_expands_and_sts_defaults():
    a = accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="westus2", ARR_ACCOUNT_KEY="k")["default"]
    assert a.service_endpoint == "https://remoterendering.westus2.mixedreality.azure.com"
    assert a.sts_endpoint == DEFAULT_STS
    assert (a.api_version, a.auth, a.name) == ("2021-01-01", "key", "default")


def test_account_domain_gives_sts_and_auto_without_key_is_entra():
    a = accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="eastus", ARR_ACCOUNT_DOMAIN="eastus.mixedreality.azure.com")
    assert a["default"].sts_endpoint == "https://sts.eastus.mixedreality.azure.com"
    assert a["default"].auth == "entra"


def test_loopback_url_kept_verbatim_but_plain_http_elsewhere_refused():
    a = accounts(
        ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="http://127.0.0.1:8080/", ARR_STS_ENDPOINT="http://127.0.0.1:8080"
    )
    assert a["default"].service_endpoint == "http://127.0.0.1:8080"
    with pytest.raises(AccountError, match="ARR_SERVICE_ENDPOINT must use https"):
        accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="http://arr.example.com")


def test_no_default_account_without_id_and_errors_name_the_setting():
    assert accounts() == {}
    with pytest.raises(AccountError, match="ARR_SERVICE_ENDPOINT is required"):
        accounts(ARR_ACCOUNT_ID=ID)
    with pytest.raises(AccountError, match="ARR_AUTH is token but no access token"):
        accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="eastus", ARR_AUTH="token")


def test_more_accounts_read_their_key_from_the_named_setting():
    extra = [
        {
            "name": "eu",
            "accountId": ID,
            "serviceEndpoint": "westeurope",
            "apiVersion": "v1",
            "accountKeySetting": "EU_KEY",
        }
    ]
    found = accounts(GOVERNOR_ARR_ACCOUNTS=json.dumps(extra), EU_KEY="eu-secret")
    eu = found["eu"]
    assert (eu.api_version, eu.auth, eu.account_key) == ("v1", "key", "eu-secret")
    assert "eu-secret" not in repr(eu)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"accountId": ID, "serviceEndpoint": "eastus"}, r"GOVERNOR_ARR_ACCOUNTS\[0\]\.name"),
        ({"name": "x", "serviceEndpoint": "eastus"}, r"GOVERNOR_ARR_ACCOUNTS\[0\]\.accountId is required"),
        ({"name": "x", "accountId": ID, "serviceEndpoint": "east us!"}, r"\[0\]\.serviceEndpoint must be a region"),
        ({"name": "x", "accountId": ID, "serviceEndpoint": "eastus", "apiVersion": "v3"}, r"\[0\]\.apiVersion"),
        (
            {"name": "x", "accountId": ID, "serviceEndpoint": "eastus", "accountKeySetting": "NOPE"},
            "NOPE, which is not set",
        ),
    ],
)
def test_bad_extra_accounts_name_the_field(entry, message):
    with pytest.raises(AccountError, match=message):
        accounts(GOVERNOR_ARR_ACCOUNTS=json.dumps([entry]))


def test_duplicate_names_refused():
    entry = {"name": "default", "accountId": ID, "serviceEndpoint": "eastus", "auth": "entra"}
    with pytest.raises(AccountError, match="used twice"):
        accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="eastus", GOVERNOR_ARR_ACCOUNTS=json.dumps([entry]))


def test_account_names_are_the_accounts_names_read_without_their_secrets():
    """What `projects set` and `apply` check a project's accounts against, in an operator's shell."""
    extra = [{"name": "eu", "accountId": ID, "serviceEndpoint": "westeurope", "accountKeySetting": "UNSET"}]
    env = {"ARR_ACCOUNT_ID": ID, "ARR_SERVICE_ENDPOINT": "eastus", "GOVERNOR_ARR_ACCOUNTS": json.dumps(extra)}
    assert account_names(load(env)) == ["default", "eu"]
    with pytest.raises(AccountError, match="UNSET, which is not set"):
        accounts_from_settings(load(env))  # the app itself needs the key
    assert account_names(load({})) == []
    twice = json.dumps([{"name": "eu"}, {"name": "eu"}])
    with pytest.raises(AccountError, match=r"GOVERNOR_ARR_ACCOUNTS\[1\]\.name 'eu' is used twice"):
        account_names(load({"GOVERNOR_ARR_ACCOUNTS": twice}))
    with pytest.raises(AccountError, match=r"GOVERNOR_ARR_ACCOUNTS\[0\]\.name"):
        account_names(load({"GOVERNOR_ARR_ACCOUNTS": json.dumps([{"name": "a b"}])}))


def test_key_and_token_never_in_repr():
    a = accounts(
        ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="eastus", ARR_ACCOUNT_KEY="sekrit-key", ARR_ACCESS_TOKEN="tok-en"
    )
    assert "sekrit-key" not in repr(a) and "tok-en" not in repr(a)


def test_session_configuration_domains_come_from_the_endpoints():
    a = accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="westus2", ARR_ACCOUNT_KEY="k")["default"]
    assert (a.account_domain, a.remote_rendering_domain) == ("westus2.mixedreality.azure.com",) * 2
    a = accounts(
        ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="westeurope", ARR_ACCOUNT_DOMAIN="eastus", ARR_ACCOUNT_KEY="k"
    )["default"]
    assert (a.account_domain, a.remote_rendering_domain) == (
        "eastus.mixedreality.azure.com",
        "westeurope.mixedreality.azure.com",
    )
    local = accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="http://127.0.0.1:8080", ARR_ACCOUNT_KEY="k")
    assert local["default"].remote_rendering_domain == "127.0.0.1:8080"


def test_connect_defaults_to_no_token_and_entra_needs_its_own_identity():
    base = {"ARR_ACCOUNT_ID": ID, "ARR_SERVICE_ENDPOINT": "westus2", "ARR_ACCOUNT_KEY": "k"}
    assert accounts(**base)["default"].connect_auth == "none"
    with pytest.raises(AccountError, match="ARR_CONNECT_CLIENT_ID is required when ARR_CONNECT_AUTH is entra"):
        accounts(**base, ARR_CONNECT_AUTH="entra")
    with pytest.raises(AccountError, match="must not be the governor's own identity"):
        accounts(**base, ARR_CONNECT_AUTH="entra", ARR_CONNECT_CLIENT_ID="same", ARR_ENTRA_CLIENT_ID="SAME")
    with pytest.raises(AccountError, match="ARR_ENTRA_TENANT_ID is required"):
        accounts(**base, ARR_CONNECT_AUTH="entra", ARR_CONNECT_CLIENT_ID="c", ARR_CONNECT_CLIENT_SECRET="s")
    a = accounts(
        **base,
        ARR_CONNECT_AUTH="entra",
        ARR_CONNECT_CLIENT_ID="c",
        ARR_CONNECT_CLIENT_SECRET="the-secret",
        ARR_ENTRA_TENANT_ID="t",
        ARR_ENTRA_AUTHORITY="https://127.0.0.1:9443",
    )["default"]
    assert (a.connect_auth, a.connect_identity.client_id, a.connect_identity.tenant_id) == ("entra", "c", "t")
    assert a.connect_identity.authority == "https://127.0.0.1:9443"
    assert "the-secret" not in repr(a)


def test_connect_key_mode_needs_the_key_and_further_accounts_name_their_fields(monkeypatch):
    with pytest.raises(AccountError, match="ARR_CONNECT_AUTH is key but no account key"):
        accounts(ARR_ACCOUNT_ID=ID, ARR_SERVICE_ENDPOINT="westus2", ARR_CONNECT_AUTH="key")
    extra = [{"name": "eu", "accountId": ID, "serviceEndpoint": "westeurope", "connectAuth": "sometimes"}]
    with pytest.raises(AccountError, match=r"GOVERNOR_ARR_ACCOUNTS\[0\]\.connectAuth must be one of"):
        accounts(GOVERNOR_ARR_ACCOUNTS=json.dumps(extra))
    extra[0] |= {"connectAuth": "entra", "connectClientId": "eu-connect"}
    assert accounts(GOVERNOR_ARR_ACCOUNTS=json.dumps(extra))["eu"].connect_identity.client_id == "eu-connect"

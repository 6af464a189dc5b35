import pytest

from governor.settings import BY_NAME, SETTINGS, SettingsError, load

# What an app with no settings runs with, typed: safe by default (no dry run, development keys
# refused, unmanaged sessions only reported). A changed default must change this table on purpose.
DEFAULTS = {
    "ARR_ACCOUNT_ID": None,
    "ARR_API_VERSION": "2021-01-01",
    "ARR_AUTH": "auto",
    "ARR_ACCOUNT_KEY": None,
    "GOVERNOR_ARR_ACCOUNTS": [],
    "ARR_HTTP_TIMEOUT_SECONDS": 10.0,
    "ARR_RETRY_TOTAL_SECONDS": 30.0,
    "GOVERNOR_TABLES_CONNECTION": None,
    "GOVERNOR_TABLE_PREFIX": "governor",
    "GOVERNOR_SWEEP_SCHEDULE": "0 * * * * *",
    "GOVERNOR_DRY_RUN": False,
    "GOVERNOR_UNMANAGED_MODE": "report",
    "GOVERNOR_UNMANAGED_PROJECT": None,
    "GOVERNOR_WARN_BEFORE_MINUTES": 10,
    "GOVERNOR_SWEEP_CONCURRENCY": 8,
    "GOVERNOR_HEALTH_STALE_INTERVALS": 3,
    "GOVERNOR_WEBHOOK_TIMEOUT_SECONDS": 5.0,
    "GOVERNOR_MAX_BODY_BYTES": 65536,
    "GOVERNOR_DEV_KEYS": False,
}


def test_defaults_load_as_typed_values():
    settings = load({})
    loaded = {name: settings.get(name) for name in DEFAULTS}
    assert loaded == DEFAULTS
    assert {name: type(value) for name, value in loaded.items()} == {k: type(v) for k, v in DEFAULTS.items()}


def test_an_empty_value_means_the_default_and_a_value_replaces_it():
    defaults = load({})
    for setting in SETTINGS:
        assert load({setting.name: ""}).get(setting.name) == defaults.get(setting.name), setting.name
    assert load({"GOVERNOR_SWEEP_CONCURRENCY": "3"}).get("GOVERNOR_SWEEP_CONCURRENCY") == 3
    assert load({"GOVERNOR_DRY_RUN": "yes"}).get("GOVERNOR_DRY_RUN") is True


def test_invalid_value_names_the_setting_not_the_value():
    with pytest.raises(SettingsError, match="GOVERNOR_SWEEP_CONCURRENCY") as info:
        load({"GOVERNOR_SWEEP_CONCURRENCY": "-3"})
    assert "-3" not in str(info.value)


def test_unresolved_key_vault_reference_is_refused_with_a_clear_error():
    with pytest.raises(SettingsError, match="ARR_ACCOUNT_KEY is an unresolved Key Vault reference"):
        load({"ARR_ACCOUNT_KEY": "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/arr)"})


def test_dev_keys_refused_in_azure():
    with pytest.raises(SettingsError, match="GOVERNOR_DEV_KEYS"):
        load({"GOVERNOR_DEV_KEYS": "true", "WEBSITE_INSTANCE_ID": "abc"})
    assert load({"GOVERNOR_DEV_KEYS": "true"}).get("GOVERNOR_DEV_KEYS") is True


def test_repr_masks_secrets():
    text = repr(load({"ARR_ACCOUNT_KEY": "supersecretkey=="}))
    assert "supersecretkey" not in text


def test_unknown_setting_name_is_a_programming_error():
    with pytest.raises(KeyError):
        load({}).get("NOT_A_SETTING")
    assert "ARR_ACCOUNT_KEY" in BY_NAME

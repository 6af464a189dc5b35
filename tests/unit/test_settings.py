import pytest

from governor.settings import BY_NAME, SETTINGS, SettingsError, load


def test_defaults_load_and_parse():
    settings = load({})
    for setting in SETTINGS:
        if setting.default is not None:
            assert settings.get(setting.name) is not None or setting.default == ""


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

"""GOVERNOR_KEY_PEPPER: a secret setting of at least 32 characters, never shown."""

import pytest

from governor.settings import BY_NAME, Settings, SettingsError


def test_the_pepper_is_a_secret_setting_never_shown():
    assert BY_NAME["GOVERNOR_KEY_PEPPER"].secret
    settings = Settings({"GOVERNOR_KEY_PEPPER": "z" * 40})
    assert settings.get("GOVERNOR_KEY_PEPPER") == "z" * 40 and "z" * 40 not in repr(settings)
    assert Settings({}).get("GOVERNOR_KEY_PEPPER") is None  # unset: plain SHA-256


def test_a_short_pepper_is_refused_without_its_value():
    with pytest.raises(SettingsError, match="GOVERNOR_KEY_PEPPER") as refused:
        Settings({"GOVERNOR_KEY_PEPPER": "short-secret"})
    assert "short-secret" not in str(refused.value)


def test_a_store_built_from_settings_takes_their_pepper_not_the_environments(monkeypatch):
    from governor.settings import load
    from governor.store import TableStore

    monkeypatch.setenv("GOVERNOR_KEY_PEPPER", "e" * 40)
    environ = {"GOVERNOR_TABLES_CONNECTION": "UseDevelopmentStorage=true", "GOVERNOR_KEY_PEPPER": "s" * 40}
    assert TableStore.from_settings(load(environ))._pepper() == b"s" * 40
    assert TableStore.from_settings(load({"GOVERNOR_TABLES_CONNECTION": "UseDevelopmentStorage=true"}))._pepper() == b""

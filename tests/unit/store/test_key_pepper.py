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

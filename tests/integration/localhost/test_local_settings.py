"""local.settings.json.example (for `func start` where Core Tools is installed) cannot drift from SETTINGS."""

import json
from pathlib import Path

from governor.emulator import DEV_ACCOUNT_KEY
from governor.localhost.discovery import index_functions, load_app
from governor.settings import BY_NAME, SETTINGS, Settings

ROOT = Path(__file__).resolve().parents[3]
PLATFORM = {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"}
DEVELOPMENT_SECRETS = {
    "ARR_ACCOUNT_KEY": DEV_ACCOUNT_KEY,
    "ARR_ACCESS_TOKEN": "",
    "GOVERNOR_TABLES_CONNECTION": "UseDevelopmentStorage=true",
}


def _values() -> dict[str, str]:
    example = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))
    assert example["IsEncrypted"] is False
    return example["Values"]


def test_example_holds_every_non_secret_setting_and_the_platform_ones():
    values = _values()
    missing = [s.name for s in SETTINGS if not s.secret and s.name not in values]
    assert missing == []
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_example_names_nothing_the_app_does_not_read():
    assert sorted(set(_values()) - set(BY_NAME) - PLATFORM) == []


def test_secrets_in_the_example_are_only_the_documented_development_values():
    values = _values()
    secrets = {name: values[name] for name in values if name in BY_NAME and BY_NAME[name].secret}
    assert secrets == {name: value for name, value in DEVELOPMENT_SECRETS.items() if name in secrets}


def test_example_values_are_valid_settings_and_start_the_real_app():
    values = _values()
    Settings(values)  # raises SettingsError naming a malformed setting
    index = index_functions(load_app(), values)
    assert [t.name for t in index.timers] == ["sweep", "retention"]

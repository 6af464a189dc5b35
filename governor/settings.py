"""Every governor setting, typed and validated in one place.

`SETTINGS` is the single declaration: the README's configuration table, the Bicep
template test and `local.settings.json.example` are all checked against it.
The app reads governor configuration only through this module. Two dev tools read os.environ
for it themselves: the local host resolves `%GOVERNOR_SWEEP_SCHEDULE%` in the sweep's trigger,
as the Functions host does, and the demo takes GOVERNOR_TABLES_CONNECTION as the default of its
--tables, since its room may not import this module (docs/architecture.md). The settings the
governor reads but does not own (WEBSITE_AUTH_ENABLED, AZURE_CLIENT_ID, ...) are in the README.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class SettingsError(ValueError):
    """A setting is missing or malformed. The message names the setting, never its value."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    meaning: str
    parse: Callable[[str], Any] = str
    secret: bool = False
    local_only: bool = False  # development-only; not set by the Azure template


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError("must be 0 or more")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _int_between(text: str, low: int, high: int) -> int:
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}")
    return value


def _pepper(text: str) -> str:
    if len(text) < 32:
        raise ValueError("must be at least 32 characters")
    return text


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


def _days(text: str) -> int:
    """A retention age in days: 1 to 3650 (ten years; more overflows the dates it is subtracted from)."""
    value = int(text)
    if not 1 <= value <= 3650:
        raise ValueError("must be between 1 and 3650")
    return value


def _json_list(text: str) -> list:
    value = json.loads(text) if text.strip() else []
    if not isinstance(value, list):
        raise ValueError("must be a JSON array")
    return value


SETTINGS: tuple[Setting, ...] = (
    # --- ARR: the default account (more accounts via GOVERNOR_ARR_ACCOUNTS) ---
    Setting("ARR_ACCOUNT_ID", None, "ARR account id (GUID) of the default account."),
    Setting(
        "ARR_ACCOUNT_DOMAIN",
        None,
        "Account domain such as `eastus.mixedreality.azure.com`; gives the token service `https://sts.{domain}`.",
    ),
    Setting(
        "ARR_SERVICE_ENDPOINT",
        None,
        "Region name (`westus2`, expanded to `https://remoterendering.westus2.mixedreality.azure.com`) "
        "or a full URL such as the emulator's.",
    ),
    Setting(
        "ARR_STS_ENDPOINT",
        None,
        "Token service URL. Default: `https://sts.{ARR_ACCOUNT_DOMAIN}` if set, else `https://sts.mixedreality.azure.com`.",
    ),
    Setting(
        "ARR_API_VERSION",
        "2021-01-01",
        "ARR API generation: `2021-01-01` or `v1` (the 2019-2021 API).",
        _choice("2021-01-01", "v1"),
    ),
    Setting(
        "ARR_AUTH",
        "auto",
        "How to authenticate to ARR: `key` (ARR_ACCOUNT_KEY), `entra` (managed identity in Azure, "
        "DefaultAzureCredential locally), `token` (ARR_ACCESS_TOKEN) or `auto` (key if set, else entra).",
        _choice("auto", "key", "entra", "token"),
    ),
    Setting("ARR_ACCOUNT_KEY", None, "ARR account key (use a Key Vault reference in Azure).", secret=True),
    Setting("ARR_ACCESS_TOKEN", None, "A ready ARR access token (JWT), for ARR_AUTH=token.", secret=True),
    Setting(
        "ARR_ENTRA_CLIENT_ID",
        None,
        "ARR_AUTH=entra outside Azure: client id of the governor's own app registration (with "
        "ARR_ENTRA_CLIENT_SECRET). Unset: the managed identity in Azure, DefaultAzureCredential elsewhere.",
        local_only=True,
    ),
    Setting("ARR_ENTRA_CLIENT_SECRET", None, "Client secret of ARR_ENTRA_CLIENT_ID.", secret=True, local_only=True),
    Setting(
        "ARR_ENTRA_TENANT_ID",
        None,
        "Entra tenant (directory) id of the app registrations that sign in with a client secret.",
        local_only=True,
    ),
    Setting(
        "ARR_ENTRA_AUTHORITY",
        "https://login.microsoftonline.com",
        "Entra authority host for client-secret sign-ins; any other https URL (such as the emulator's "
        "stand-in) is used without instance discovery.",
        local_only=True,
    ),
    Setting(
        "ARR_ENTRA_CA_BUNDLE",
        None,
        "PEM file of the certificate authority ARR_ENTRA_AUTHORITY's certificate chains to, when it is not a "
        "public one (the emulator's self-signed certificate locally). Unset: the system's.",
        local_only=True,
    ),
    Setting(
        "ARR_CONNECT_AUTH",
        "none",
        "What the connect route hands client apps for the default account: `entra` (an access token of the "
        "connect identity, which can read and connect to sessions but not start or stop them), `key` (a token "
        "minted with the account key: it can start sessions around the gate; development only) or `none` "
        "(no token: apps sign users in themselves).",
        _choice("none", "key", "entra"),
    ),
    Setting(
        "ARR_CONNECT_CLIENT_ID",
        None,
        "Client id of the connect identity (ARR_CONNECT_AUTH=entra): a user-assigned managed identity in "
        "Azure, or an app registration with ARR_CONNECT_CLIENT_SECRET elsewhere.",
    ),
    Setting(
        "ARR_CONNECT_CLIENT_SECRET",
        None,
        "Client secret of ARR_CONNECT_CLIENT_ID when it is an app registration.",
        secret=True,
        local_only=True,
    ),
    Setting(
        "GOVERNOR_ARR_ACCOUNTS",
        "[]",
        "JSON array of further ARR accounts: objects with `name`, `accountId`, `serviceEndpoint`, "
        "and optionally `accountDomain`, `stsEndpoint`, `apiVersion`, `auth`, `accountKeySetting` "
        "(the name of the app setting that holds that account's key), `connectAuth` (as ARR_CONNECT_AUTH), "
        "`connectClientId` and `connectClientSecretSetting`.",
        _json_list,
    ),
    Setting("ARR_HTTP_TIMEOUT_SECONDS", "10", "Connect and read timeout of one ARR call.", _positive_float),
    Setting(
        "ARR_RETRY_TOTAL_SECONDS",
        "30",
        "Upper bound on the time one ARR operation spends retrying 429/5xx/connection errors.",
        _positive_float,
    ),
    # --- Table Storage ---
    Setting(
        "GOVERNOR_TABLES_CONNECTION",
        None,
        "Table Storage connection string (Azurite locally). Leave unset in Azure and set GOVERNOR_TABLES_ENDPOINT.",
        secret=True,
    ),
    Setting(
        "GOVERNOR_TABLES_ENDPOINT",
        None,
        "Table service endpoint, e.g. `https://<account>.table.core.windows.net`, used with the managed identity.",
    ),
    Setting(
        "GOVERNOR_TABLE_PREFIX",
        "governor",
        "Prefix of the governor's table names (letters and digits).",
    ),
    # --- Sweep ---
    Setting(
        "GOVERNOR_SWEEP_SCHEDULE",
        "0 * * * * *",
        "NCRONTAB schedule (6 fields, UTC) of the sweep timer.",
    ),
    Setting("GOVERNOR_DRY_RUN", "false", "Decide, audit and report, but act on nothing (all projects).", _bool),
    Setting(
        "GOVERNOR_UNMANAGED_MODE",
        "report",
        "What the sweep does with ARR sessions the gate did not create: `report`, `stop` or `adopt`.",
        _choice("report", "stop", "adopt"),
    ),
    Setting(
        "GOVERNOR_UNMANAGED_PROJECT",
        None,
        "Project that adopts unmanaged sessions when GOVERNOR_UNMANAGED_MODE=adopt.",
    ),
    Setting(
        "GOVERNOR_WARN_BEFORE_MINUTES",
        "10",
        "Warn this many minutes before a budget or hard-cap stop (and closing time, unless the schedule says).",
        _positive_int,
    ),
    Setting("GOVERNOR_SWEEP_CONCURRENCY", "8", "ARR actions the sweep runs at once.", _positive_int),
    Setting(
        "GOVERNOR_HEALTH_STALE_INTERVALS",
        "3",
        "`/api/health` answers 503 when the last sweep is older than this many sweep intervals.",
        _positive_int,
    ),
    Setting(
        "GOVERNOR_WEBHOOK_TIMEOUT_SECONDS",
        "5",
        "Timeout of one webhook delivery attempt.",
        _positive_float,
    ),
    Setting(
        "GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP",
        "false",
        "Allow webhook URLs on a loopback host (`localhost`, 127.0.0.1, [::1]), over plain http too; `make run` "
        "sets it. Off: webhooks go over https to public hosts only (refused in Azure).",
        _bool,
        local_only=True,
    ),
    # --- Retention (a daily timer, docs/storage.md) ---
    Setting(
        "GOVERNOR_HISTORY_DAYS",
        "90",
        "Closed ledger rows of sessions requested more than this many days ago move to the History table (1-3650).",
        _days,
    ),
    Setting(
        "GOVERNOR_AUDIT_DAYS",
        "400",
        "Audit rows (and capacity failures) older than this many days are deleted (1-3650).",
        _days,
    ),
    Setting(
        "GOVERNOR_RETENTION_MAX_ROWS",
        "5000",
        "Most ledger rows one retention run moves, and most audit rows it deletes (the rest wait a day).",
        _positive_int,
    ),
    # --- Telemetry (docs/deploy.md, "What an operator sees") ---
    Setting(
        "GOVERNOR_TELEMETRY",
        "auto",
        "Where spans, metrics and logs go: `auto` (Azure Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set, "
        "else nowhere), `azure`, `console` (stderr), `file` (GOVERNOR_TELEMETRY_FILE) or `off`.",
        _choice("auto", "azure", "console", "file", "off"),
    ),
    Setting(
        "GOVERNOR_TELEMETRY_FILE",
        ".data/telemetry.jsonl",
        "File the `file` telemetry mode appends JSON lines to (spans, metrics, logs).",
        local_only=True,
    ),
    Setting(
        "GOVERNOR_TRACE_SAMPLE_RATE",
        "1",
        "Share (0-1) of read-only HTTP requests (GET, HEAD, OPTIONS: gate reads, usage, health, dashboard) whose "
        "traces are kept. Sweeps, timers and every write (request, extend, heartbeat, connect, stop, manage) are "
        "always kept; logs and metrics are never sampled.",
        _fraction,
    ),
    Setting(
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        None,
        "Application Insights connection string (set by the template); "
        "with it, `auto` telemetry exports to Azure Monitor.",
    ),
    Setting(
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        None,
        "`Authorization=AAD`: export with the app's managed identity (the template sets it; local auth is off).",
    ),
    # --- Gate ---
    Setting("GOVERNOR_MAX_BODY_BYTES", "65536", "Largest request body the gate reads.", _positive_int),
    Setting(
        "GOVERNOR_GATE_READ_SECONDS",
        "5",
        "Session reads through the gate (GET a session, the list) reuse an ARR answer at most this many "
        "seconds old, with one ARR call per session in flight per instance; `0` asks ARR on every read "
        "(still one call at a time). Writes (extend, stop) always read ARR fresh.",
        _non_negative_float,
    ),
    Setting(
        "GOVERNOR_CAPACITY_WINDOW_MINUTES",
        "10",
        "After ARR ends a session in Error for want of servers, the gate sends no session of that size to that "
        "account for this many minutes while another account of the project's placement has none failing "
        "(1-1440; docs/api.md, Placement).",
        lambda text: _int_between(text, 1, 1440),
    ),
    Setting(
        "GOVERNOR_KEY_PEPPER",
        None,
        "Secret of at least 32 characters: caller keys are stored as HMAC-SHA256 of the key under it (use a Key "
        "Vault reference in Azure). Unset: plain SHA-256. Keep it: changing or removing it stops every key "
        "issued under it (rotate them).",
        _pepper,
        secret=True,
    ),
    # --- Local development only ---
    Setting(
        "GOVERNOR_ARR_TIME_SCALE",
        "1",
        "ARR seconds per real second: 1 for ARR itself; `make run` sets the emulator's time scale, so the "
        "heartbeat cadence the gate suggests (`heartbeatIntervalSeconds`), the sweep's warning window and "
        "which of ARR's minutes it meters to the day before UTC midnight keep up with ARR's clock.",
        _positive_float,
        local_only=True,
    ),
    Setting(
        "GOVERNOR_DEV_KEYS",
        "false",
        "Accept the documented development function and master keys (local host only; refused in Azure).",
        _bool,
        local_only=True,
    ),
)

BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


def running_in_azure(environ: Mapping[str, str] | None = None) -> bool:
    """The Functions platform sets these; a local host and the tests do not."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("WEBSITE_INSTANCE_ID") or environ.get("WEBSITE_SITE_NAME"))


class Settings:
    """Typed, validated view of the environment. Build once per process with `load()`."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        environ = dict(os.environ if environ is None else environ)
        self._values: dict[str, Any] = {}
        self.environ = environ
        for setting in SETTINGS:
            raw = environ.get(setting.name)
            if raw is None or raw == "":
                raw = setting.default
            if raw is None:
                self._values[setting.name] = None
                continue
            if setting.secret and raw.startswith("@Microsoft.KeyVault("):
                # The platform leaves the reference text in place when it cannot resolve it.
                raise SettingsError(
                    f"setting {setting.name} is an unresolved Key Vault reference: check the secret exists "
                    "and the app's identity has Key Vault Secrets User"
                )
            try:
                self._values[setting.name] = setting.parse(raw)
            except (ValueError, json.JSONDecodeError) as exc:
                raise SettingsError(f"setting {setting.name} is invalid: {exc}") from None
        if self.get("GOVERNOR_DEV_KEYS") and running_in_azure(environ):
            raise SettingsError("setting GOVERNOR_DEV_KEYS is refused when running in Azure")
        if self.get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP") and running_in_azure(environ):
            raise SettingsError("setting GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP is refused when running in Azure")

    def get(self, name: str) -> Any:
        if name not in BY_NAME:
            raise KeyError(f"{name} is not a declared setting; add it to governor.settings.SETTINGS")
        return self._values[name]

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __repr__(self) -> str:
        shown = {k: ("***" if BY_NAME[k].secret and v else v) for k, v in self._values.items()}
        return f"Settings({shown})"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return Settings(environ)

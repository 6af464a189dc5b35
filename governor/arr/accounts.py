"""ARR accounts from settings: endpoints expanded, credentials chosen, secrets kept out of reprs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from governor.core.model import CONNECT_MODES
from governor.core.policy.limits import ACCOUNT_NAME, ARR_ACCOUNT_ID
from governor.settings import Settings, SettingsError

DEFAULT_STS = "https://sts.mixedreality.azure.com"
API_VERSIONS = ("2021-01-01", "v1")
AUTH_MODES = ("auto", "key", "entra", "token")
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
_REGION = re.compile(r"^[a-z][a-z0-9]*$")
_DOMAIN_SUFFIX = ".mixedreality.azure.com"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


_DEFAULT_NAMES = {
    "accountId": "ARR_ACCOUNT_ID",
    "serviceEndpoint": "ARR_SERVICE_ENDPOINT",
    "stsEndpoint": "ARR_STS_ENDPOINT",
    "apiVersion": "ARR_API_VERSION",
    "auth": "ARR_AUTH",
    "connectAuth": "ARR_CONNECT_AUTH",
    "connectClientId": "ARR_CONNECT_CLIENT_ID",
}


class AccountError(SettingsError):
    """An account is misconfigured. The message names the field, never a secret's value."""


@dataclass(frozen=True)
class EntraIdentity:
    """An Entra identity to sign in as. With a secret: an app registration (client credentials at
    `authority`); without: a managed identity (user-assigned when `client_id` is set) in Azure, or
    DefaultAzureCredential elsewhere."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    tenant_id: str | None = None
    authority: str = DEFAULT_AUTHORITY
    ca_bundle: str | None = None  # a private authority's certificate (the emulator's), else the system's


@dataclass(frozen=True)
class ArrAccount:
    name: str
    account_id: str
    service_endpoint: str
    sts_endpoint: str = DEFAULT_STS
    api_version: str = "2021-01-01"
    auth: str = "key"  # resolved: key, entra or token
    account_key: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0
    retry_total_seconds: float = 30.0
    account_domain: str = ""  # SessionConfiguration.AccountDomain: where the account authenticates
    remote_rendering_domain: str = ""  # SessionConfiguration.RemoteRenderingDomain: where sessions run
    identity: EntraIdentity = EntraIdentity()  # the governor's own, for auth=entra
    connect_auth: str = "none"  # what the connect route hands out: none, key or entra
    connect_identity: EntraIdentity | None = None  # connect_auth=entra: the identity apps' tokens come from


def _region(value: str) -> str | None:
    """`westus2`, `westus2.mixedreality.azure.com` -> `westus2`; anything else -> None."""
    value = value.strip().lower()
    if value.endswith(_DOMAIN_SUFFIX):
        value = value[: -len(_DOMAIN_SUFFIX)]
    for host in ("remoterendering.", "sts."):
        value = value.removeprefix(host)
    return value if _REGION.fullmatch(value) else None


def _url(value: str, where: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AccountError(f"{where} must be a region name or an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        # The bearer token and account key would cross the network in clear text.
        raise AccountError(f"{where} must use https (plain http is allowed for 127.0.0.1/localhost only)")
    return value.strip().rstrip("/")


def service_endpoint(value: str, where: str = "serviceEndpoint") -> str:
    if not value or not value.strip():
        raise AccountError(f"{where} is required")
    if "://" not in value:
        region = _region(value)
        if region is None:
            raise AccountError(f"{where} must be a region name such as westus2 or an http(s) URL")
        return f"https://remoterendering.{region}{_DOMAIN_SUFFIX}"
    return _url(value, where)


def sts_endpoint(value: str | None, account_domain: str | None, where: str = "stsEndpoint") -> str:
    if value:
        if "://" not in value:
            region = _region(value)
            if region is None:
                raise AccountError(f"{where} must be an http(s) URL")
            return f"https://sts.{region}{_DOMAIN_SUFFIX}"
        return _url(value, where)
    if account_domain:
        domain = account_domain.strip().lower().removeprefix("https://").rstrip("/")
        if "." not in domain:
            domain += _DOMAIN_SUFFIX
        return _url(f"https://sts.{domain}", "accountDomain")
    return DEFAULT_STS


def domain_of(url: str, host_prefix: str) -> str:
    """`https://remoterendering.westus2.mixedreality.azure.com` -> `westus2.mixedreality.azure.com`;
    another URL (the emulator's) -> its host and port, which is what a client would be pointed at."""
    netloc = urlsplit(url).netloc.lower()
    return netloc.removeprefix(host_prefix) if netloc.endswith(_DOMAIN_SUFFIX) else netloc


def account_domain(domain: str | None, sts: str, service: str) -> str:
    if domain and domain.strip():
        value = domain.strip().lower().removeprefix("https://").rstrip("/")
        return value if "." in value else value + _DOMAIN_SUFFIX
    if sts != DEFAULT_STS:
        return domain_of(sts, "sts.")
    return domain_of(service, "remoterendering.")


def resolve_connect(
    mode: str | None,
    key: str | None,
    client_id: str | None,
    secret: str | None,
    base: EntraIdentity,
    n: Callable[[str], str],
) -> tuple[str, EntraIdentity | None]:
    """The connect mode and, for entra, the connect identity (never the governor's own)."""
    mode = (mode or "none").strip().lower() if isinstance(mode, str) or mode is None else ""
    if mode not in CONNECT_MODES:
        raise AccountError(f"{n('connectAuth')} must be one of {', '.join(CONNECT_MODES)}")
    if mode == "key" and not key:
        raise AccountError(f"{n('connectAuth')} is key but no account key is configured")
    if mode != "entra":
        return mode, None
    if not isinstance(client_id, str) or not client_id.strip():
        # Without its own client id the connect token would carry the governor's rights.
        raise AccountError(f"{n('connectClientId')} is required when {n('connectAuth')} is entra")
    client_id = client_id.strip()
    if base.client_id and client_id.lower() == base.client_id.lower():
        raise AccountError(f"{n('connectClientId')} must not be the governor's own identity")
    if secret and not base.tenant_id:
        raise AccountError("ARR_ENTRA_TENANT_ID is required to sign in with a client secret")
    return mode, replace(base, client_id=client_id, client_secret=secret or None)


def resolve_auth(auth: str | None, key: str | None, token: str | None, where: str) -> str:
    auth = (auth or "auto").strip().lower()
    if auth not in AUTH_MODES:
        raise AccountError(f"{where} must be one of {', '.join(AUTH_MODES)}")
    if auth == "auto":
        auth = "key" if key else "entra"
    if auth == "key" and not key:
        raise AccountError(f"{where} is key but no account key is configured")
    if auth == "token" and not token:
        raise AccountError(f"{where} is token but no access token is configured")
    return auth


def make_account(
    name: str,
    account_id: str | None,
    endpoint: str | None,
    *,
    sts: str | None = None,
    domain: str | None = None,
    api_version: str | None = None,
    auth: str | None = None,
    key: str | None = None,
    token: str | None = None,
    timeout: float = 10.0,
    retry_total: float = 30.0,
    prefix: str = "",
    names: dict[str, str] | None = None,
    identity: EntraIdentity | None = None,
    connect_auth: str | None = None,
    connect_client_id: str | None = None,
    connect_client_secret: str | None = None,
) -> ArrAccount:
    """Validate and expand one account. Errors name the field as `names[field]`, else
    `prefix + field` (e.g. GOVERNOR_ARR_ACCOUNTS[1].accountId)."""

    def n(field_name: str) -> str:
        return (names or {}).get(field_name, prefix + field_name)

    if not account_id or not str(account_id).strip():
        raise AccountError(f"{n('accountId')} is required")
    if not ARR_ACCOUNT_ID.accepts(str(account_id).strip()):
        raise AccountError(f"{n('accountId')} must be a GUID")
    version = (api_version or "2021-01-01").strip()
    if version not in API_VERSIONS:
        raise AccountError(f"{n('apiVersion')} must be one of {', '.join(API_VERSIONS)}")
    service = service_endpoint(endpoint or "", n("serviceEndpoint"))
    sts_url = sts_endpoint(sts, domain, n("stsEndpoint"))
    identity = identity or EntraIdentity()
    mode, connect_identity = resolve_connect(connect_auth, key, connect_client_id, connect_client_secret, identity, n)
    return ArrAccount(
        name=name,
        account_id=str(account_id).strip(),
        service_endpoint=service,
        sts_endpoint=sts_url,
        api_version=version,
        auth=resolve_auth(auth, key, token, n("auth")),
        account_key=key or None,
        access_token=token or None,
        timeout_seconds=timeout,
        retry_total_seconds=retry_total,
        account_domain=account_domain(domain, sts_url, service),
        remote_rendering_domain=domain_of(service, "remoterendering."),
        identity=identity,
        connect_auth=mode,
        connect_identity=connect_identity,
    )


def entra_identity(settings: Settings) -> EntraIdentity:
    """The governor's own Entra identity (ARR_ENTRA_*), shared by every account with auth=entra."""
    authority = _url(settings["ARR_ENTRA_AUTHORITY"], "ARR_ENTRA_AUTHORITY")
    if not authority.startswith("https://"):
        raise AccountError("ARR_ENTRA_AUTHORITY must be an https URL")
    client_id, secret = settings["ARR_ENTRA_CLIENT_ID"], settings["ARR_ENTRA_CLIENT_SECRET"]
    if secret and not client_id:
        raise AccountError("ARR_ENTRA_CLIENT_SECRET is set but ARR_ENTRA_CLIENT_ID is not")
    if (secret or settings["ARR_CONNECT_CLIENT_SECRET"]) and not settings["ARR_ENTRA_TENANT_ID"]:
        raise AccountError("ARR_ENTRA_TENANT_ID is required to sign in with a client secret")
    return EntraIdentity(client_id, secret, settings["ARR_ENTRA_TENANT_ID"], authority, settings["ARR_ENTRA_CA_BUNDLE"])


def _extra(
    entry: Any, index: int, settings: Settings, timeout: float, retry: float, identity: EntraIdentity
) -> ArrAccount:
    where = f"GOVERNOR_ARR_ACCOUNTS[{index}]."
    name = _entry_name(entry, index)

    def secret(setting_field: str) -> str | None:
        setting_name = entry.get(setting_field)
        if setting_name is None:
            return None
        if not isinstance(setting_name, str) or not setting_name:
            raise AccountError(f"{where}{setting_field} must name an app setting")
        value = settings.environ.get(setting_name)
        if not value:
            raise AccountError(f"{where}{setting_field} names {setting_name}, which is not set")
        return value

    return make_account(
        name,
        entry.get("accountId"),
        entry.get("serviceEndpoint"),
        sts=entry.get("stsEndpoint"),
        domain=entry.get("accountDomain"),
        api_version=entry.get("apiVersion"),
        auth=entry.get("auth"),
        key=secret("accountKeySetting"),
        token=secret("accessTokenSetting"),
        timeout=timeout,
        retry_total=retry,
        prefix=where,
        identity=identity,
        connect_auth=entry.get("connectAuth"),
        connect_client_id=entry.get("connectClientId"),
        connect_client_secret=secret("connectClientSecretSetting"),
    )


def _entry_name(entry: Any, index: int) -> str:
    """The name of GOVERNOR_ARR_ACCOUNTS[index], checked."""
    if not isinstance(entry, dict):
        raise AccountError(f"GOVERNOR_ARR_ACCOUNTS[{index}] must be an object")
    name = entry.get("name")
    if not isinstance(name, str) or not ACCOUNT_NAME.accepts(name):  # accepts() refuses non-strings too
        raise AccountError(f"GOVERNOR_ARR_ACCOUNTS[{index}].name {ACCOUNT_NAME.hint}")
    return name


def account_names(settings: Settings) -> list[str]:
    """The names of the configured ARR accounts, as accounts_from_settings() names them: "default"
    if ARR_ACCOUNT_ID is set, then GOVERNOR_ARR_ACCOUNTS'. Reads and checks the names only (no
    endpoint, credential or secret), so a command that only needs to know which accounts the app
    has (`projects set` and `apply` check a project's) works where the accounts' secrets are not
    set. Raises AccountError naming a faulty or repeated name."""
    names = ["default"] if settings["ARR_ACCOUNT_ID"] else []
    for index, entry in enumerate(settings["GOVERNOR_ARR_ACCOUNTS"]):
        name = _entry_name(entry, index)
        if name in names:
            raise AccountError(f"GOVERNOR_ARR_ACCOUNTS[{index}].name {name!r} is used twice")
        names.append(name)
    return names


def accounts_from_settings(settings: Settings) -> dict[str, ArrAccount]:
    """Every configured ARR account by name: "default" (ARR_*) if ARR_ACCOUNT_ID is set, plus
    GOVERNOR_ARR_ACCOUNTS. Raises AccountError (a SettingsError) naming the faulty field."""
    account_names(settings)  # each name checked, none used twice
    timeout = settings["ARR_HTTP_TIMEOUT_SECONDS"]
    retry = settings["ARR_RETRY_TOTAL_SECONDS"]
    accounts: dict[str, ArrAccount] = {}
    identity = entra_identity(settings)
    if settings["ARR_ACCOUNT_ID"]:
        accounts["default"] = make_account(
            "default",
            settings["ARR_ACCOUNT_ID"],
            settings["ARR_SERVICE_ENDPOINT"],
            sts=settings["ARR_STS_ENDPOINT"],
            domain=settings["ARR_ACCOUNT_DOMAIN"],
            api_version=settings["ARR_API_VERSION"],
            auth=settings["ARR_AUTH"],
            key=settings["ARR_ACCOUNT_KEY"],
            token=settings["ARR_ACCESS_TOKEN"],
            timeout=timeout,
            retry_total=retry,
            names=_DEFAULT_NAMES,
            identity=identity,
            connect_auth=settings["ARR_CONNECT_AUTH"],
            connect_client_id=settings["ARR_CONNECT_CLIENT_ID"],
            connect_client_secret=settings["ARR_CONNECT_CLIENT_SECRET"],
        )
    for index, entry in enumerate(settings["GOVERNOR_ARR_ACCOUNTS"]):
        account = _extra(entry, index, settings, timeout, retry, identity)
        accounts[account.name] = account
    return accounts

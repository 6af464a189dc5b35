"""The input rules more than one room checks: name patterns, size limits and ARR's lease limits.

Each is defined here once; the gate, policy documents, the store, the ARR settings, the emulator
and the OpenAPI document import it. A `TextRule` always matches the whole string (`fullmatch`),
so a trailing newline is refused. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlsplit


@dataclass(frozen=True)
class TextRule:
    """A string field's pattern (unanchored) and the words that say it to whoever sent a bad one."""

    pattern: str
    hint: str
    _compiled: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.pattern))

    def fullmatch(self, value: object) -> re.Match | None:
        """The match of the whole string (its groups), or None; None for a non-string too."""
        return self._compiled.fullmatch(value) if isinstance(value, str) else None

    def accepts(self, value: object) -> bool:
        return self.fullmatch(value) is not None

    @property
    def json_pattern(self) -> str:
        """The same rule as a JSON Schema pattern, anchored at both ends. Not `$`: validators built
        on Python's `re` (jsonschema, schemathesis) let `$` match before a final newline."""
        return f"^{self.pattern}(?![\\s\\S])"


PROJECT_NAME = TextRule(
    r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", "must be 1-63 letters, digits, '-' or '_', starting with a letter or digit"
)
# The name a project uses for its ARR account (GOVERNOR_ARR_ACCOUNTS[].name, a policy's `account`).
ACCOUNT_NAME = TextRule(r"[A-Za-z0-9_-]{1,64}", "must be 1-64 letters, digits, '-' or '_'")
# ARR's own account id: normally a GUID.
ARR_ACCOUNT_ID = TextRule(r"[A-Za-z0-9-]{1,64}", "must be 1-64 letters, digits or '-' (normally a GUID)")
CURRENCY = TextRule(r"[A-Za-z][A-Za-z0-9 _-]{0,15}", "must be a short label like USD")
PRINCIPAL = TextRule(r"\S{1,256}", "must be 1-256 non-space characters")
# A named caller key of a project.
KEY_NAME = TextRule(
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
)
# ARR 2021-01-01: "alphanumeric characters including hyphens and underscores, at most 256"; v1 ids are GUIDs.
SESSION_ID = TextRule(r"[A-Za-z0-9_-]{1,256}", "must be 1-256 letters, digits, '-' or '_'")
IDEMPOTENCY_KEY = TextRule(r"[A-Za-z0-9_.:-]{1,128}", "must be 1-128 letters, digits, '_', '.', ':' or '-'")
# Money as text (a policy document's or a key's amounts): ASCII digits, one optional dot, at most six
# decimals, nothing else (no sign, exponent, '_', space, or digits of other scripts). `[0-9]`, not `\d`:
# Python's `\d` matches every script's digits.
MONEY = TextRule(r"[0-9]{1,13}(\.[0-9]{1,6})?", "must be an amount of ASCII digits with at most 6 decimals, e.g. 3.00")
# A calendar day and a month (holidays, `?day=`, `?month=`): ISO 8601's calendar form only.
DAY = TextRule(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "must be a date YYYY-MM-DD")
MONTH = TextRule(r"[0-9]{4}-[0-9]{2}", "must be a month YYYY-MM")
# A VM size as sent: one of ARR's names, any case (ARR v1 answers in lower case), nothing around it.
VM_SIZE = TextRule(r"(?i:standard|premium)", "must be Standard or Premium")

MAX_MODELS = 64  # models a session request may name
MAX_PLACEMENT = 16  # accounts in a project's placement (and in a request's `regions`)
MAX_URL_LENGTH = 2048  # a model URL or a webhook URL

# ARR's lease limits. 2021-01-01: a create takes 0-1440 minutes, an update "less than 1440";
# v1 documents none, so the same day is assumed for it. The governor asks in whole minutes.
ARR_MAX_CREATE_LEASE = timedelta(minutes=1440)  # the longest lease a session can be created with
ARR_MAX_UPDATE_LEASE = ARR_MAX_CREATE_LEASE - timedelta(minutes=1)  # the longest an update can set


def parse_day(value: object) -> date | None:
    """A `YYYY-MM-DD` day (`DAY`, and a real date), or None."""
    if not DAY.accepts(value):
        return None
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    except ValueError:
        return None


def parse_month(value: object) -> date | None:
    """A `YYYY-MM` month (`MONTH`, month 01-12) as its first day, or None."""
    if not MONTH.accepts(value):
        return None
    return parse_day(f"{value}-01")


# ---------------------------------------------------------------- webhook destinations
# Cloud metadata services (named in the refusal; all are non-public addresses anyway).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "192.0.0.192", "fd00:ec2::254")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_NUMBER_PART = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_IPV4_LOOKING = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)")  # the last label: a name never ends in a number


def address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is no destination for a webhook (loopback, private, ...), or None: a public one.
    IPv4 inside IPv6 (mapped, compatible, 6to4, NAT64) is judged as the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_problem(address.ipv4_mapped)
        if address.sixtofour is not None:
            return address_problem(address.sixtofour)
        if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
            return address_problem(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv6Address) and (
        address in ipaddress.ip_network("fc00::/7") or address.is_site_local
    ):
        return "a unique-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_reserved:
        return "a reserved address"
    return None


def _ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """The WHATWG URL standard's IPv4 parser: 1-4 parts, each decimal, 0x-hex or 0-octal
    (`2130706433`, `0x7f.1`, `017700000001` are all 127.0.0.1). None: not a valid IPv4 spelling."""
    parts = host.split(".")
    if len(parts) > 4 or not all(_NUMBER_PART.fullmatch(p) for p in parts):
        return None
    numbers = []
    for part in parts:
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if any(c in "89" for c in part):
                return None
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, n in enumerate(head):
        value += n << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True)
class WebhookTarget:
    """A checked webhook URL: the scheme, the host (lower case, ASCII, no trailing dot; an address
    literal unbracketed), the port and the request target (path and query)."""

    scheme: str
    host: str
    port: int
    target: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # the host, when it is an address literal
    loopback: bool  # the host is a loopback address or `localhost`


WEBHOOK_URL_HINT = f"must be an https URL of a public host, at most {MAX_URL_LENGTH} characters"


def webhook_target(url: object, allow_loopback_http: bool = False) -> WebhookTarget:
    """Check a webhook URL; raise ValueError saying why it is refused.

    https only, to a host that is a DNS name or a public address, in any spelling (decimal, hex and
    octal IPv4, IPv4 inside IPv6, trailing dots, upper case, IDN). With `allow_loopback_http` (local
    development only), loopback hosts are allowed too, over http or https. A name is judged again
    after resolution, at delivery (governor/service/webhooks.py)."""
    if not isinstance(url, str) or not url:
        raise ValueError(WEBHOOK_URL_HINT)
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in url) or "\\" in url:
        raise ValueError("must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"is not a valid URL ({WEBHOOK_URL_HINT})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise ValueError(WEBHOOK_URL_HINT)
    if "@" in parts.netloc:
        raise ValueError("must not carry a user name or password")
    host = parts.hostname or ""
    if not host:
        raise ValueError("must name a host")
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    if parts.netloc.startswith("["):
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("has an invalid IPv6 address") from None
        host = address.compressed
    else:
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii").lower()
            except UnicodeError:
                raise ValueError("has an invalid international host name") from None
        host = host[:-1] if host.endswith(".") else host
        labels = host.split(".")
        if _IPV4_LOOKING.fullmatch(labels[-1]):
            address = _ipv4_number(host)
            if address is None:
                raise ValueError("has an invalid IPv4 address")
            host = str(address)
        elif len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
            raise ValueError("has an invalid host name")
    loopback = (address is not None and address_problem(address) == "a loopback address") or (
        address is None and (host == "localhost" or host.endswith(".localhost"))
    )
    if loopback and allow_loopback_http:
        pass
    elif loopback:
        raise ValueError("must not point at a loopback host")
    elif address is not None and (problem := address_problem(address)) is not None:
        raise ValueError(f"must not point at {problem}")
    elif scheme != "https":
        raise ValueError("must be https (plain http only for a loopback host in local development)")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return WebhookTarget(scheme, host, port or (443 if scheme == "https" else 80), target, address, loopback)

"""The OpenAPI document's schemas (`components.schemas`), for `openapi_doc`.

Every limit, pattern and enum is taken from where the code defines it (`TextRule.json_pattern`,
the core's enums and constants), so the document cannot state a rule the gate does not enforce.
"""

from __future__ import annotations

from governor.core.model import (
    CONNECT_MODES,
    Closing,
    LedgerState,
    Period,
    SessionStatus,
    SizeFallback,
    VmSize,
    whole_minutes,
)
from governor.core.policy.callers import KEY_SCOPES, REVOKE_OTHERS
from governor.core.policy.document import MAX_HOLIDAYS, MAX_WINDOWS
from governor.core.policy.limits import (
    ACCOUNT_NAME,
    ARR_ACCOUNT_ID,
    ARR_MAX_CREATE_LEASE,
    DAY,
    KEY_NAME,
    MAX_MODELS,
    MAX_PLACEMENT,
    MAX_URL_LENGTH,
    MONEY,
)
from governor.core.policy.placement import CAPACITY
from governor.core.policy.schedule import WEEKDAYS, WINDOW

_SIZES = {"type": "string", "enum": [size.value for size in VmSize]}
_MONEY = {
    "type": ["string", "null"],
    "pattern": r"^-?\d+(\.\d+)?$",
    "description": "decimal cost units in the project's currency, six places (null: no budget)",
}
# An amount a caller sends (a caller's limits): a JSON number, or text by `limits.MONEY`
_MONEY_IN = {
    "type": ["string", "number", "null"],
    "pattern": MONEY.json_pattern,
    "description": "decimal cost units in the project's currency: a number, or ASCII digits with at most six "
    "decimals as text (null: no budget of its own)",
}
_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {"type": ["string", "null"], "format": "date-time"}
_LEASE = {
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": whole_minutes(ARR_MAX_CREATE_LEASE), "description": "minutes"},
        {"type": "string", "description": ".NET TimeSpan of whole minutes, e.g. 01:30:00"},
    ]
}
_USAGE = {
    "type": "object",
    "description": "one budget period of the project",
    "properties": {
        "period": {"type": "string", "enum": [period.value for period in Period]},
        "key": {"type": "string", "description": "the period: YYYY-MM-DD or YYYY-MM (UTC)"},
        "budget": _MONEY,
        "spent": _MONEY,
        "reserved": _MONEY,
        "remaining": _MONEY,
        "saved": {
            **_MONEY,
            "description": "What the governor avoided in this period: leases it cut short by stopping "
            "sessions, and extension steps it refused, at each session's rate",
        },
    },
}
_BUDGET = {
    "currency": {"type": "string"},
    "remainingBudget": {**_MONEY, "description": "the tightest remaining budget of day and month (null: none)"},
    "budget": {
        "type": "object",
        "description": "the current periods by name (day, month)",
        "additionalProperties": {"$ref": "#/components/schemas/PeriodUsage"},
    },
}
_LIMIT_PROPERTIES: dict[str, dict] = {
    "maxConcurrent": {"type": ["integer", "null"], "minimum": 0},
    "dailyBudget": _MONEY_IN,
    "monthlyBudget": _MONEY_IN,
}
_LIMITS = {
    "type": "object",
    "additionalProperties": False,
    "description": "a caller's own limits, each at most the project's (null: only the project's applies)",
    "properties": _LIMIT_PROPERTIES,
}
_ACCOUNT_NAME = {"type": "string", "pattern": ACCOUNT_NAME.json_pattern, "description": "an ARR account's name"}
_PLACE = {
    "type": "object",
    "description": "where an attempt runs (or would run): an account of the project's placement, and a size",
    "properties": {"account": _ACCOUNT_NAME, "size": _SIZES},
}
_WINDOWS = {"type": "array", "maxItems": MAX_WINDOWS, "items": {"type": "string", "pattern": WINDOW.json_pattern}}
_ACCOUNT_ID = {"type": "string", "pattern": ARR_ACCOUNT_ID.json_pattern, "description": "the ARR account id (a GUID)"}
_DOMAIN = {"type": "string", "description": "where the account authenticates, e.g. westeurope.mixedreality.azure.com"}
_RENDERING_DOMAIN = {"type": "string", "description": "where sessions run, e.g. westeurope.mixedreality.azure.com"}
_TOKEN = {
    "type": "string",
    "description": "an ARR access token for this session's account; absent when connectAuth is none",
}

SCHEMAS: dict[str, dict] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `type` ends in the reason code, and the figures behind the "
        "decision ride along",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": "urn:arr-lease-governor:problem:<reason>",
            },
            "title": {"type": "string"},
            "status": {"type": "integer", "description": "the HTTP status"},
            "detail": {"type": "string"},
            "instance": {"type": "string", "description": "the request path"},
            "field": {"type": ["string", "null"], "description": "the offending field (bad-request)"},
            "limit": {
                "type": ["string", "integer"],
                "description": "which limit refused: `caller` (the key's or principal's own) or `project` "
                "(budget-exhausted, concurrency-limit); lease-covers, hard-cap, closing, closed-hours, not-active "
                "or terminal (extension-denied); the byte limit (payload-too-large)",
            },
            "caller": {"type": "string", "description": "with limit caller: the key name or principal:<id>"},
            "opensAt": {**_MAYBE_TIME, "description": "outside-hours: the next opening (UTC; null: none scheduled)"},
            "opensAtLocal": {
                "type": ["string", "null"],
                "description": "outside-hours: the same in the project's zone",
            },
            "timeZone": {"type": "string", "description": "outside-hours: the project's IANA time zone"},
            "sessionStatus": {
                "type": "string",
                "enum": [status.value for status in SessionStatus],
                "description": "not-ready and session-ended: ARR's status of the session",
            },
            "sessionId": {
                "type": "string",
                "description": "upstream-unavailable after a create ARR may have done: the session it would be; "
                "retry with the same Idempotency-Key to resume it",
            },
        },
    },
    "SessionRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["size", "maxLeaseTime"],
        "properties": {
            "size": _SIZES,
            "maxLeaseTime": _LEASE,
            "models": {
                "type": "array",
                "maxItems": MAX_MODELS,
                "description": "models to load: https://, http:// or builtin:// URLs",
                "items": {"type": "string", "maxLength": MAX_URL_LENGTH},
            },
            "regions": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_PLACEMENT,
                "uniqueItems": True,
                "items": _ACCOUNT_NAME,
                "description": "accounts of the project's placement in the order to try (e.g. nearest first): "
                "narrows and orders the project's list; a name not in it is 400",
            },
            "autoRetry": {
                "type": "boolean",
                "default": False,
                "description": "when ARR ends an attempt in Error for want of servers, the governor starts the next "
                "attempt itself, and this request's session id leads to it",
            },
        },
    },
    "ExtendRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"maxLeaseTime": {**_LEASE, "description": "new total lease since start"}},
    },
    "PeriodUsage": _USAGE,
    "Session": {
        "type": "object",
        "description": "a session: ARR's live status merged with the governor's ledger",
        "properties": {
            "sessionId": {"type": "string"},
            "project": {"type": "string"},
            "size": _SIZES,
            "account": {**_ACCOUNT_NAME, "description": "the ARR account the session was placed in"},
            "status": {
                "type": "string",
                "description": "ARR's status: Starting, Ready, Stopping, Stopped, Expired, Error",
            },
            "error": {
                "type": "object",
                "description": "an attempt ARR ended in Error for want of servers of its size in its account",
                "properties": {"code": {"type": "string", "enum": [CAPACITY]}, "message": {"type": "string"}},
            },
            "retry": {
                "type": "object",
                "description": "with error: where a retry with the same Idempotency-Key (or a new request) would "
                "start the next attempt now (null: nowhere), and whether the governor retries by itself",
                "properties": {
                    "next": {"oneOf": [_PLACE, {"type": "null"}]},
                    "autoRetry": {"type": "boolean"},
                },
            },
            "previousAttempts": {
                "type": "array",
                "description": "autoRetry: the attempts of this request that failed for capacity, oldest first; "
                "the rest of the answer is the attempt that stands for the request now",
                "items": {
                    "type": "object",
                    "properties": {
                        "sessionId": {"type": "string"},
                        "account": _ACCOUNT_NAME,
                        "size": _SIZES,
                        "error": {"type": "string", "enum": [CAPACITY]},
                        "failedAt": _TIME,
                    },
                },
            },
            "state": {"type": "string", "enum": [state.value for state in LedgerState]},
            "requestedAt": _TIME,
            "leaseMinutes": {"type": "integer"},
            "lease": {"type": "string", "description": "the lease as a .NET TimeSpan"},
            "elapsedMinutes": {"type": "integer"},
            "remainingLeaseMinutes": {"type": "integer"},
            "costSoFar": _MONEY,
            "reservedCost": _MONEY,
            "extensions": {"type": "integer"},
            "lastHeartbeat": _MAYBE_TIME,
            "heartbeatIntervalSeconds": {
                "type": "number",
                "description": "how often to heartbeat, in real seconds: a third of the project's idle timeout, "
                "at most a minute",
            },
            "caller": {"type": ["string", "null"], "description": "the key name or principal:<id> that asked"},
            "partial": {
                "type": "boolean",
                "description": "request and extend: the lease was cut (to end at closing time, or to what the "
                "budget pays)",
            },
            "replayed": {"type": "boolean", "description": "request: the answer of an earlier request with this key"},
            "extraCost": {**_MONEY, "description": "extend: what the extension reserved"},
            "hostname": {"type": "string"},
            "arrInspectorPort": {"type": "integer"},
            "handshakePort": {"type": "integer"},
            "arrViewAgeSeconds": {
                "type": ["number", "null"],
                "description": "session reads only: age of the ARR answer behind `status` and the ports "
                "(the gate reuses one for GOVERNOR_GATE_READ_SECONDS); null when ARR was not asked (closed)",
            },
            **_BUDGET,
        },
    },
    "SessionList": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "sessions": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}},
            **_BUDGET,
        },
    },
    "Heartbeat": {
        "allOf": [{"$ref": "#/components/schemas/Session"}],
        "description": "the session, and whether one extension step would be granted now",
        "properties": {
            "extension": {
                "type": "object",
                "properties": {
                    "wouldGrant": {"type": "boolean"},
                    "suggest": {"type": "boolean", "description": "the lease is within the threshold: ask now"},
                    "leaseMinutes": {"type": "integer"},
                    "extraCost": _MONEY,
                    "partial": {"type": "boolean"},
                    "reason": {"type": "string", "description": "when not: the reason code a request would get"},
                    "detail": {"type": "string"},
                },
            }
        },
    },
    "Connection": {
        "type": "object",
        "description": "what a client app needs to connect to its Ready session: ARR's SessionConfiguration "
        "values, the host and ports, and (unless connectAuth is none) an access token",
        "required": [
            "sessionId",
            "accountId",
            "accountDomain",
            "remoteRenderingDomain",
            "hostname",
            "handshakePort",
            "arrInspectorPort",
            "canStartSessions",
            "connectAuth",
            "sessionConfiguration",
        ],
        "properties": {
            "sessionId": {"type": "string"},
            "accountId": _ACCOUNT_ID,
            "accountDomain": _DOMAIN,
            "remoteRenderingDomain": _RENDERING_DOMAIN,
            "hostname": {"type": "string"},
            "handshakePort": {"type": "integer"},
            "arrInspectorPort": {"type": "integer"},
            "accessToken": _TOKEN,
            "accessTokenExpiresOn": {**_TIME, "description": "when accessToken expires; absent with it"},
            "canStartSessions": {
                "type": "boolean",
                "description": "true when the token was minted with the account key: it could start sessions around "
                "the gate (development only)",
            },
            "connectAuth": {
                "type": "string",
                "enum": list(CONNECT_MODES),
                "description": "how the token was made: entra (the connect identity, which can read and connect "
                "but not start or stop sessions), key (the account key), none (no token: sign users in yourself)",
            },
            "sessionConfiguration": {"$ref": "#/components/schemas/SessionConfiguration"},
        },
    },
    "SessionConfiguration": {
        "type": "object",
        "description": "the same values under the field names of ARR's own SessionConfiguration, to hand to the "
        "Remote Rendering SDK as they are",
        "required": ["AccountId", "AccountDomain", "RemoteRenderingDomain"],
        "properties": {
            "AccountId": _ACCOUNT_ID,
            "AccountDomain": _DOMAIN,
            "RemoteRenderingDomain": _RENDERING_DOMAIN,
            "AccessToken": _TOKEN,
        },
    },
    "Usage": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "periods": {"type": "array", "items": {"$ref": "#/components/schemas/PeriodUsage"}},
            "sessions": {
                "type": "object",
                "description": "open sessions, and sessions requested in the day and month",
                "additionalProperties": {"type": "integer"},
            },
            "placement": {
                "type": "object",
                "description": "the day's placement: sessions per account (attempts that made a session), and "
                "attempts ARR ended for want of servers, per account and size",
                "properties": {
                    "day": {"type": "string", "description": "YYYY-MM-DD (UTC)"},
                    "sessionsByAccount": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "capacityFailures": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "account": _ACCOUNT_NAME,
                                "size": _SIZES,
                                "count": {"type": "integer"},
                            },
                        },
                    },
                },
            },
            "callers": {
                "type": "array",
                "description": "with ?by=key: spend, reservations and open sessions per key name or principal",
                "items": {"$ref": "#/components/schemas/CallerUsage"},
            },
            **_BUDGET,
        },
    },
    "CallerUsage": {
        "type": "object",
        "properties": {
            "caller": {
                "type": ["string", "null"],
                "description": "key name, principal:<id>, or null (before named keys)",
            },
            "openSessions": {"type": "integer"},
            "reserved": _MONEY,
            "spent": {"type": "object", "properties": {"day": _MONEY, "month": _MONEY}},
            "limits": {"$ref": "#/components/schemas/CallerLimits"},
        },
    },
    "CallerLimits": _LIMITS,
    "Schedule": {
        "type": "object",
        "additionalProperties": False,
        "description": "working hours",
        "required": ["timeZone"],
        "properties": {
            "timeZone": {
                "type": "string",
                "maxLength": 64,
                "description": "a canonical IANA time zone, e.g. Europe/Berlin (not localtime, Factory, posix/..., "
                "right/... or the legacy EST5EDT-style names)",
            },
            "hours": {
                "type": "object",
                "additionalProperties": False,
                "description": "windows by weekday; an end not after the start runs over midnight",
                "properties": {day: _WINDOWS for day in WEEKDAYS},
            },
            "holidays": {
                "type": "array",
                "maxItems": MAX_HOLIDAYS,
                "items": {"type": "string", "format": "date", "pattern": DAY.json_pattern},
            },
            "closing": {"type": "string", "enum": [c.value for c in Closing], "default": Closing.STOP.value},
            "warnBeforeMinutes": {"type": ["integer", "null"], "minimum": 0, "maximum": 1440},
        },
    },
    "Project": {
        "type": "object",
        "description": "a project policy document (governor/core/policy/document.py; see docs/api.md)",
        "properties": {
            "schedule": {"oneOf": [{"$ref": "#/components/schemas/Schedule"}, {"type": "null"}]},
            "principalLimits": {
                "type": "object",
                "additionalProperties": {"$ref": "#/components/schemas/CallerLimits"},
            },
            "placement": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_PLACEMENT,
                "description": "the ARR accounts sessions may start in, in order (default: [account]); each a name, "
                "or {account, rates} with rates of its own for that account",
                "items": {
                    "oneOf": [
                        _ACCOUNT_NAME,
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["account"],
                            "properties": {
                                "account": _ACCOUNT_NAME,
                                "rates": {
                                    "type": "object",
                                    "additionalProperties": {**_MONEY_IN, "type": ["string", "number"]},
                                },
                            },
                        },
                    ]
                },
            },
            "sizeFallback": {
                "type": "string",
                "enum": [fallback.value for fallback in SizeFallback],
                "default": SizeFallback.NONE.value,
                "description": "premium: when Standard has no capacity anywhere in placement, try Premium at "
                "Premium's rate if the budget pays for it (needs Premium in allowedSizes)",
            },
        },
    },
    "ProjectList": {
        "type": "object",
        "properties": {"projects": {"type": "array", "items": {"$ref": "#/components/schemas/Project"}}},
    },
    "NewKey": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "name": {"type": "string"},
            "key": {"type": "string", "description": "shown once: gk_<keyId>_<secret>"},
        },
    },
    "AddKey": {
        "type": "object",
        "additionalProperties": False,
        "description": 'adds a named key; with "revokeOthers": true, revokes every other key first (the name '
        "then defaults to default)",
        "anyOf": [{"required": ["name"]}, {"required": [REVOKE_OTHERS]}],
        "properties": {
            "name": {"type": "string", "pattern": KEY_NAME.json_pattern},
            "scope": {
                "type": "string",
                "enum": list(KEY_SCOPES),
                "description": "own (default): the key acts on the sessions it started; project: on every session",
            },
            REVOKE_OTHERS: {"type": "boolean", "enum": [True], "description": "revoke every other key of the project"},
            "expiresAt": _MAYBE_TIME,
            **_LIMIT_PROPERTIES,
        },
    },
    "CallerKey": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "createdAt": _MAYBE_TIME,
            "expiresAt": _MAYBE_TIME,
            "lastUsedAt": {**_MAYBE_TIME, "description": "at most a minute stale"},
            "scope": {"type": "string", "enum": list(KEY_SCOPES)},
            "limits": {"$ref": "#/components/schemas/CallerLimits"},
        },
    },
    "KeyList": {
        "type": "object",
        "properties": {
            "project": {"type": "string"},
            "keys": {"type": "array", "items": {"$ref": "#/components/schemas/CallerKey"}},
        },
    },
    "Health": {
        "type": "object",
        "additionalProperties": True,
        "properties": {
            "version": {"type": "string", "description": "the governor's version"},
            "time": _TIME,
            "status": {"type": "string", "enum": ["healthy", "unhealthy"]},
            "storage": {"type": "string", "description": "reachable, or unreachable (why)"},
            "arr": {
                "type": "object",
                "description": "each ARR account by name: reachable, or unreachable (why)",
                "additionalProperties": {"type": "string"},
            },
            "connect": {
                "type": "object",
                "description": "each ARR account by name: what the connect route hands out",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "auth": {"type": "string", "enum": list(CONNECT_MODES)},
                        "canStartSessions": {"type": "boolean"},
                    },
                },
            },
            "lastSweep": {
                "type": "object",
                "properties": {
                    "at": _MAYBE_TIME,
                    "outcome": {"type": ["string", "null"]},
                    "stale": {"type": "boolean"},
                    "staleAfterSeconds": {"type": "integer"},
                },
            },
        },
    },
    "DashboardPage": {"type": "string", "description": "a self-contained HTML page (no script)"},
    "OpenApiDocument": {
        "type": "object",
        "description": "an OpenAPI 3.1 document",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"type": "string"}, "info": {"type": "object"}, "paths": {"type": "object"}},
    },
}
MEDIA_TYPES = {"DashboardPage": "text/html"}  # response schemas not served as application/json

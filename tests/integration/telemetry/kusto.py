"""Just enough of KQL to check a query against Application Insights envelopes: which table it reads,
which columns and custom dimensions it names, and the comparisons it filters on.

Application Insights fills each Log Analytics column from a field of the envelope the exporter
sent; `COLUMNS` maps the columns the governor's queries use. A query whose comparison this module
cannot read raises, so a new query form is taught here rather than passed unchecked.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

BASE_TYPES = {
    "traces": "MessageData",
    "customMetrics": "MetricData",
    "dependencies": "RemoteDependencyData",
    "requests": "RequestData",
    "exceptions": "ExceptionData",
}


def _base(name: str) -> Callable[[dict], object]:
    return lambda envelope: envelope["data"]["baseData"].get(name)


def _metric(name: str) -> Callable[[dict], object]:
    return lambda envelope: (envelope["data"]["baseData"].get("metrics") or [{}])[0].get(name)


def _tag(name: str) -> Callable[[dict], object]:
    return lambda envelope: envelope.get("tags", {}).get(name)


def _exception(name: str) -> Callable[[dict], object]:
    return lambda envelope: (envelope["data"]["baseData"].get("exceptions") or [{}])[0].get(name)


COMMON = {
    "timestamp": lambda envelope: envelope.get("time"),
    "operation_Id": _tag("ai.operation.id"),
    "operation_ParentId": _tag("ai.operation.parentId"),
    "operation_Name": _tag("ai.operation.name"),
    "cloud_RoleName": _tag("ai.cloud.role"),
    "cloud_RoleInstance": _tag("ai.cloud.roleInstance"),
    "itemCount": lambda envelope: round(100 / float(envelope.get("sampleRate") or 100)),
}
COLUMNS = {
    "traces": {"message": _base("message"), "severityLevel": _base("severityLevel")},
    "customMetrics": {
        "name": _metric("name"),
        "value": _metric("value"),
        "valueSum": _metric("value"),
        "valueCount": lambda envelope: _metric("count")(envelope) or 1,
        "valueMin": lambda envelope: _metric("min")(envelope) or _metric("value")(envelope),
        "valueMax": lambda envelope: _metric("max")(envelope) or _metric("value")(envelope),
    },
    "dependencies": {
        name: _base(field)
        for name, field in {
            "name": "name",
            "type": "type",
            "target": "target",
            "data": "data",
            "resultCode": "resultCode",
            "success": "success",
            "duration": "duration",
            "id": "id",
        }.items()
    },
    "requests": {
        "name": _base("name"),
        "url": _base("url"),
        "resultCode": _base("responseCode"),
        "success": _base("success"),
        "duration": _base("duration"),
        "id": _base("id"),
    },
    "exceptions": {"type": _exception("typeName"), "outerMessage": _exception("message")},
}
OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    "=~": lambda a, b: str(a).lower() == str(b).lower(),
    "startswith": lambda a, b: str(a).lower().startswith(str(b).lower()),
    "has": lambda a, b: str(b).lower() in str(a).lower(),
    "contains": lambda a, b: str(b).lower() in str(a).lower(),
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
DIMENSION = r'customDimensions(?:\.(?P<dot>\w+)|\["(?P<key>[^"]+)"\])'
FIELD = rf"(?:tostring\()?(?:{DIMENSION}|(?P<column>\b[A-Za-z_]\w*\b))\)?"
TEXT_COMPARISON = re.compile(rf'{FIELD}\s*(?P<op>==|!=|=~|\bstartswith\b|\bhas\b|\bcontains\b)\s*"(?P<text>[^"]*)"')
NUMBER_COMPARISON = re.compile(
    rf"\bto(?:int|long|real|double)\({FIELD}\)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<number>-?\d+(?:\.\d+)?)"
)
BOOLEAN_COMPARISON = re.compile(r"\b(?P<column>success)\s*(?P<op>==|!=)\s*(?P<value>true|false)\b")


class Query:
    def __init__(self, text: str):
        self.text = " ".join(text.split())
        self.table = self.text.split()[0]
        if self.table not in BASE_TYPES:
            raise ValueError(f"unknown table {self.table!r} in {self.text!r}")
        self.columns = {**COMMON, **COLUMNS[self.table]}
        self.filters: list[tuple[Callable[[dict], object], str, object, str]] = []
        bare = re.sub(r'"[^"]*"', '""', re.sub(r"\$\{[^}]*\}", "0", self.text))  # no literals, no Bicep
        for match in TEXT_COMPARISON.finditer(self.text):
            self._filter(match, match["op"], match["text"])
        for match in NUMBER_COMPARISON.finditer(bare):
            self._filter(match, match["op"], float(match["number"]), number=True)
        for match in BOOLEAN_COMPARISON.finditer(bare):
            column = self.columns[match["column"]]
            self.filters.append((column, match["op"], match["value"] == "true", match[0]))
        self.dimensions = {m["dot"] or m["key"] for m in re.finditer(DIMENSION, self.text)}
        words = set(re.findall(r"\b[A-Za-z_]\w*\b", re.sub(DIMENSION, "", bare)))
        self.named = sorted(words & set(self.columns))

    def _filter(self, match, op: str, value, number: bool = False) -> None:
        if match["column"] and match["column"] not in self.columns:
            if match["column"] in ("tostring", "toint"):
                raise ValueError(f"cannot read {match[0]!r}")
            return  # a column the query made itself (summarize, extend): not an envelope's
        name = match["column"] or match["dot"] or match["key"]
        if match["column"]:
            read = self.columns[name]
        else:
            read = lambda envelope, key=name: (envelope["data"]["baseData"].get("properties") or {}).get(key)  # noqa: E731
        if number:
            field = read
            read = lambda envelope, field=field: _number(field(envelope))  # noqa: E731
        self.filters.append((read, op, value, match[0]))

    def envelopes(self, envelopes: list[dict]) -> list[dict]:
        return [e for e in envelopes if e.get("data", {}).get("baseType") == BASE_TYPES[self.table]]

    def matching(self, envelopes: list[dict]) -> list[dict]:
        """The envelopes of the query's table that pass every comparison it makes."""
        found = []
        for envelope in self.envelopes(envelopes):
            values = [(read(envelope), op, value) for read, op, value, _ in self.filters]
            if all(v is not None and OPERATORS[op](v, value) for v, op, value in values):
                found.append(envelope)
        return found

    def missing(self, envelope: dict) -> list[str]:
        """The columns and custom dimensions the query names that this envelope lacks."""
        properties = envelope["data"]["baseData"].get("properties") or {}
        absent = [f"customDimensions.{d}" for d in sorted(self.dimensions) if properties.get(d) in (None, "")]
        return absent + [c for c in self.named if self.columns[c](envelope) in (None, "")]


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

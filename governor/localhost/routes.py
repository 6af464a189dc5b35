"""ASP.NET-style route templates, as the Functions host reads them: `sessions/{id}`,
`items/{id:int?}`, `files/{*path}`, `report/{day=today}`.

Literals match case-insensitively; parameter values are percent-decoded. Routes are tried
most specific first (literal, then constrained parameter, then parameter, then catch-all),
which is the order ASP.NET routing gives them.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote


class RouteTemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Param:
    name: str
    checks: tuple[Callable[[str], bool], ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    @property
    def may_be_absent(self) -> bool:
        return self.optional or self.default is not None or self.catch_all

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.checks)


@dataclass(frozen=True)
class Segment:
    parts: tuple[str | Param, ...]

    @property
    def literal(self) -> str | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], str) else None

    @property
    def param(self) -> Param | None:
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], Param) else None

    @property
    def rank(self) -> int:
        if self.literal is not None:
            return 1
        param = self.param
        if param is None:
            return 2
        if param.catch_all:
            return 5
        return 3 if param.checks else 4


def _int_in(low: int, high: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return re.fullmatch(r"-?[0-9]+", value) is not None and low <= int(value) <= high

    return check


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _bounded(measure: Callable[[str], float | None], low: float, high: float) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        measured = measure(value)
        return measured is not None and low <= measured <= high

    return check


def _as_int(value: str) -> int | None:
    return int(value) if re.fullmatch(r"-?[0-9]+", value) else None


_INF = float("inf")
_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": _int_in(-(2**31), 2**31 - 1),
    "long": _int_in(-(2**63), 2**63 - 1),
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": _guid,
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "double": _number,
    "float": _number,
    "decimal": _number,
    "datetime": _datetime,
}


def _constraint(spec: str, template: str) -> Callable[[str], bool]:
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", spec, re.DOTALL)
    if not match:
        raise RouteTemplateError(f"The route template '{template}' has an invalid constraint '{spec}'.")
    name, arg = match.group(1).lower(), match.group(2)
    if arg is None and name in _SIMPLE:
        return _SIMPLE[name]
    try:
        if name == "regex" and arg is not None:
            pattern = re.compile(arg, re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
        numbers = [int(a) for a in (arg or "").split(",")] if arg else []
        bounds = {
            ("min", 1): lambda: _bounded(_as_int, numbers[0], _INF),
            ("max", 1): lambda: _bounded(_as_int, -_INF, numbers[0]),
            ("range", 2): lambda: _bounded(_as_int, numbers[0], numbers[1]),
            ("length", 1): lambda: _bounded(len, numbers[0], numbers[0]),
            ("length", 2): lambda: _bounded(len, numbers[0], numbers[1]),
            ("minlength", 1): lambda: _bounded(len, numbers[0], _INF),
            ("maxlength", 1): lambda: _bounded(len, 0, numbers[0]),
        }
        return bounds[(name, len(numbers))]()
    except (KeyError, ValueError, re.error):
        raise RouteTemplateError(f"The constraint '{spec}' on the route '{template}' could not be resolved.") from None


_PARAM = re.compile(r"\{([^{}]*)\}")


def _parse_param(body: str, template: str) -> Param:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    body = body.removesuffix("?")
    body, _, default = body.partition("=")
    name, *constraints = body.split(":")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise RouteTemplateError(f"The route template '{template}' has an invalid parameter name '{name}'.")
    return Param(
        name=name,
        checks=tuple(_constraint(c, template) for c in constraints),
        optional=optional,
        default=default or None,
        catch_all=catch_all,
    )


def _parse_segment(text: str, template: str) -> Segment:
    parts: list[str | Param] = []
    position = 0
    for match in _PARAM.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        parts.append(_parse_param(match.group(1), template))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    if any(isinstance(p, str) and ("{" in p or "}" in p) for p in parts):
        raise RouteTemplateError(f"The route template '{template}' has unbalanced braces.")
    for a, b in itertools.pairwise(parts):
        if isinstance(a, Param) and isinstance(b, Param):
            raise RouteTemplateError(
                f"The route template '{template}' has two parameters in one segment without a literal between them."
            )
    if len(parts) > 1 and any(isinstance(p, Param) and p.catch_all for p in parts):
        raise RouteTemplateError(f"The catch-all parameter in '{template}' must be a whole segment.")
    return Segment(tuple(parts))


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        stripped = text.strip("/")
        segments = tuple(_parse_segment(s, text) for s in stripped.split("/")) if stripped else ()
        if any(not s.parts for s in segments):
            raise RouteTemplateError(f"The route template '{text}' has an empty segment.")
        names = [p.name.lower() for s in segments for p in s.parts if isinstance(p, Param)]
        if len(names) != len(set(names)):
            raise RouteTemplateError(f"The route template '{text}' uses a parameter name twice.")
        for segment in segments[:-1]:
            param = segment.param
            if param is not None and param.catch_all:
                raise RouteTemplateError(f"The catch-all parameter in '{text}' must be the last segment.")
        return cls(text, segments)

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(s.rank for s in self.segments)

    def match(self, path: str) -> dict[str, str] | None:
        """Route parameters for `path` (without the route prefix), or None if it does not match."""
        pieces = path.strip("/").split("/") if path.strip("/") else []
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            param = segment.param
            if param is not None and param.catch_all:
                rest = unquote("/".join(pieces[index:]))
                if rest and not param.accepts(rest):
                    return None
                value = rest or param.default
                if value is not None:
                    values[param.name] = value
                return values
            if index >= len(pieces):
                return values if self._rest_may_be_absent(index, values) else None
            if not _match_segment(segment, pieces[index], values):
                return None
        return values if len(pieces) == len(self.segments) else None

    def _rest_may_be_absent(self, start: int, values: dict[str, str]) -> bool:
        for segment in self.segments[start:]:
            param = segment.param
            if param is None or not param.may_be_absent:
                return False
            if param.default is not None:
                values[param.name] = param.default
        return True


def _match_segment(segment: Segment, piece: str, values: dict[str, str]) -> bool:
    literal = segment.literal
    if literal is not None:
        return unquote(piece).lower() == literal.lower()
    param = segment.param
    if param is not None:
        value = unquote(piece)
        if not value or not param.accepts(value):
            return False
        values[param.name] = value
        return True
    pattern = "".join(f"(?P<{p.name}>.+?)" if isinstance(p, Param) else re.escape(p) for p in segment.parts)
    found = re.fullmatch(pattern, unquote(piece), re.IGNORECASE)
    if not found:
        return False
    params = [p for p in segment.parts if isinstance(p, Param)]
    if not all(p.accepts(found.group(p.name)) for p in params):
        return False
    values.update({p.name: found.group(p.name) for p in params})
    return True

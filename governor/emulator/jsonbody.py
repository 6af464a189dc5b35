"""Request bodies: JSON as the real service read it, plus typed field access. Pure.

The v1 service (Newtonsoft.Json) accepted single-quoted strings, which the seed's PowerShell
examples rely on (`"{ 'maxLeaseTime': '4:0:0', 'size': 'standard' }"`), so both are accepted.
"""

from __future__ import annotations

import json
import math

from governor.emulator.errors import bad_request


class BodyError(ValueError):
    pass


def _reject_constant(name: str):
    raise BodyError(f"{name} is not valid JSON")


def _strict(text: str):
    return json.loads(text, parse_constant=_reject_constant)


def _single_to_double_quotes(text: str) -> str:
    out: list[str] = []
    quote = None  # the quote char of the string we are in
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote is None:
            if ch in "'\"":
                quote = ch
                out.append('"')
            else:
                out.append(ch)
        elif ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            out.append("'" if (quote == "'" and nxt == "'") else ch + nxt)
            i += 1
        elif ch == quote:
            quote = None
            out.append('"')
        elif ch == '"':  # a double quote inside a single-quoted string
            out.append('\\"')
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def parse_json(raw: bytes):
    """Parse a request body; raise BodyError with a client-facing message."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BodyError("The request body is not valid UTF-8.") from None
    if not text.strip():
        raise BodyError("The request body is empty; a JSON object is required.")
    try:
        try:
            return _strict(text)
        except json.JSONDecodeError as first:
            if "'" not in text:
                raise BodyError(f"The request body is not valid JSON: {first.msg} at position {first.pos}.") from None
            try:
                return _strict(_single_to_double_quotes(text))
            except json.JSONDecodeError:
                raise BodyError(f"The request body is not valid JSON: {first.msg} at position {first.pos}.") from None
    except RecursionError:
        raise BodyError("The request body is not valid JSON: it is nested too deeply.") from None
    except BodyError:
        raise
    except ValueError as exc:  # e.g. integers longer than Python's digit limit
        raise BodyError(f"The request body is not valid JSON: {str(exc)[:100]}") from None


def parse_object(raw: bytes) -> dict:
    try:
        value = parse_json(raw)
    except BodyError as exc:
        raise bad_request(str(exc)) from None
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.")
    return value


def require(body: dict, field: str):
    if field not in body or body[field] is None:
        raise bad_request(f"The {field} field is required.")
    return body[field]


def as_int(value, field: str) -> int:
    """An integer; integral floats (20.0) are accepted as the real service's JSON reader did."""
    if isinstance(value, bool):
        raise bad_request(f"The {field} field must be an integer.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise bad_request(f"The {field} field must be an integer.")


def as_str(value, field: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"The {field} field must be a string.")
    return value

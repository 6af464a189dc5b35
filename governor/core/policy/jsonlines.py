"""A strict JSON reader that remembers the line of every value, so errors can name it.

`loads_with_lines(text)` returns the value and {path: line}; a path is a tuple of keys and
indexes, e.g. ("projects", 2, "budget", "daily"). Non-integer numbers are Decimals (money must
not pass through float), duplicate keys are errors. Pure: no I/O.
"""

from __future__ import annotations

import bisect
import re
from decimal import Decimal
from json import JSONDecodeError
from json.decoder import scanstring  # type: ignore[attr-defined]  # in json.decoder at run time; typeshed omits it
from json.scanner import NUMBER_RE

_WS = re.compile(r"[ \t\n\r]*")
_LITERALS = (("true", True), ("false", False), ("null", None))

Path = tuple


class DuplicateKey(ValueError):
    def __init__(self, path: Path, line: int):
        super().__init__(f"duplicate field {path[-1]!r}")
        self.path = path
        self.line = line


def loads_with_lines(text: str) -> tuple[object, dict[Path, int]]:
    reader = _Reader(text)
    value, pos = reader.value(0, ())
    pos = reader.ws(pos)
    if pos != len(text):
        raise JSONDecodeError("Extra data", text, pos)
    return value, reader.lines


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.lines: dict[Path, int] = {}
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def ws(self, pos: int) -> int:
        match = _WS.match(self.text, pos)
        assert match is not None  # the pattern is a "*": it matches the empty string at any position
        return match.end()

    def value(self, pos: int, path: Path):
        text = self.text
        pos = self.ws(pos)
        self.lines.setdefault(path, self.line(pos))
        char = text[pos : pos + 1]
        if char == "{":
            return self.object(pos + 1, path)
        if char == "[":
            return self.array(pos + 1, path)
        if char == '"':
            return scanstring(text, pos + 1, True)
        for word, literal in _LITERALS:
            if text.startswith(word, pos):
                return literal, pos + len(word)
        match = NUMBER_RE.match(text, pos)
        if match is None:
            raise JSONDecodeError("Expecting value", text, pos)
        integer, fraction, exponent = match.groups()
        number = int(integer) if not fraction and not exponent else Decimal(match.group())
        return number, match.end()

    def object(self, pos: int, path: Path):
        text = self.text
        result: dict[str, object] = {}
        pos = self.ws(pos)
        if text[pos : pos + 1] == "}":
            return result, pos + 1
        while True:
            pos = self.ws(pos)
            if text[pos : pos + 1] != '"':
                raise JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
            line = self.line(pos)
            key, pos = scanstring(text, pos + 1, True)
            if key in result:
                raise DuplicateKey((*path, key), line)
            pos = self.ws(pos)
            if text[pos : pos + 1] != ":":
                raise JSONDecodeError("Expecting ':' delimiter", text, pos)
            self.lines[(*path, key)] = line
            result[key], pos = self.value(pos + 1, (*path, key))
            pos = self.ws(pos)
            char = text[pos : pos + 1]
            if char == "}":
                return result, pos + 1
            if char != ",":
                raise JSONDecodeError("Expecting ',' delimiter", text, pos)
            pos += 1

    def array(self, pos: int, path: Path):
        text = self.text
        result: list[object] = []
        pos = self.ws(pos)
        if text[pos : pos + 1] == "]":
            return result, pos + 1
        while True:
            item, pos = self.value(pos, (*path, len(result)))
            result.append(item)
            pos = self.ws(pos)
            char = text[pos : pos + 1]
            if char == "]":
                return result, pos + 1
            if char != ",":
                raise JSONDecodeError("Expecting ',' delimiter", text, pos)
            pos += 1

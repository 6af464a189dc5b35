"""A concrete request path for any registered HTTP function, to prove the host reaches it."""

from governor.localhost.discovery import FunctionIndex, HttpFunction
from governor.localhost.routes import Param


def example_path(index: FunctionIndex, function: HttpFunction) -> str:
    pieces = []
    for segment in function.route.segments:
        text = ""
        for part in segment.parts:
            if isinstance(part, Param):
                text += part.default or ("1" if part.checks else "example")
            else:
                text += part
        pieces.append(text)
    prefix = f"/{index.route_prefix}" if index.route_prefix else ""
    return prefix + "/" + "/".join(pieces)


def example_method(function: HttpFunction) -> str:
    return sorted(function.methods)[0] if function.methods else "GET"

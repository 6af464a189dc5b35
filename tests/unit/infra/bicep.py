"""Read infra/main.bicep through pycep-parser (offline; no Bicep compiler can be installed here).

pycep gives a JSON model in which a bare name (a parameter or variable reference) and a string
literal look alike, so `resolve` treats a string that names a variable or parameter as that
reference. Only the expression forms the template uses are understood; anything else is UNKNOWN.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
UNKNOWN = object()


@cache
def _parser():
    from pycep import BicepParser

    return BicepParser()


def parse_text(text: str) -> dict:
    return _parser().parse(text=text)


@cache
def parse_file(path: Path = MAIN) -> dict:
    return _parser().parse(file_path=path)


def walk(node: Any):
    """Every dict, list and scalar inside a parsed template, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


class Template:
    def __init__(self, model: dict):
        self.model = model
        self.params = model.get("parameters", {})
        self.variables = model.get("variables", {})
        self.resources = model.get("resources", {})

    # -- resources -------------------------------------------------------
    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {name: r for name, r in self.resources.items() if r["type"].lower() == resource_type.lower()}

    def one(self, resource_type: str) -> tuple[str, dict]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    @staticmethod
    def body(resource: dict) -> dict:
        """The resource's own properties, past any `if (...)` or `for` wrapper."""
        config = resource["config"]
        while "config" in config and ("condition" in config or "loop_type" in config):
            config = config["config"]
        return config

    @staticmethod
    def condition(resource: dict) -> Any:
        return resource["config"].get("condition")

    # -- expressions -----------------------------------------------------
    def param_default(self, name: str) -> Any:
        default = self.params[name].get("default") if name in self.params else None
        return UNKNOWN if default is None else default  # None: a required parameter

    def decorator(self, param: str, kind: str) -> Any:
        for decorator in self.params[param].get("decorators", []):
            if decorator["type"] == kind:
                return decorator.get("argument", True)
        return None

    def deref(self, expr: Any) -> Any:
        """Follow variable names and `var.property` to the expression they stand for."""
        while True:
            if isinstance(expr, str) and expr in self.variables:
                expr = self.variables[expr]["value"]
                continue
            accessor = expr.get("operator") if isinstance(expr, dict) else None
            if accessor and accessor["type"] == "property_accessor":
                base = self.deref(accessor["operands"]["operand_1"])
                key = accessor["operands"]["operand_2"]
                if isinstance(base, dict) and isinstance(key, str) and key in base:
                    expr = base[key]
                    continue
            return expr

    def object_keys(self, expr: Any) -> dict[str, list[tuple[Any, Any]]]:
        """Keys an object expression can hold -> [(value, condition or None)], through union() and ?:."""
        expr = self.deref(expr)
        found: dict[str, list[tuple[Any, Any]]] = {}
        function = expr.get("function") if isinstance(expr, dict) else None
        operator = expr.get("operator") if isinstance(expr, dict) else None
        if function and function["type"] == "union":
            for argument in function["parameters"].values():
                for key, values in self.object_keys(argument).items():
                    found.setdefault(key, []).extend(values)
        elif operator and operator["type"] == "conditional":
            operands = operator["operands"]
            for branch in ("true_value", "false_value"):
                condition = operands["condition"] if branch == "true_value" else {"not": operands["condition"]}
                for key, values in self.object_keys(operands[branch]).items():
                    found.setdefault(key, []).extend((value, condition) for value, _ in values)
        elif function or operator:
            found.setdefault(UNKNOWN, []).append((expr, None))  # e.g. toObject(): keys known only at deploy
        elif isinstance(expr, dict):
            for key, value in expr.items():
                found[key.strip("'")] = [(value, None)]  # pycep keeps the quotes of 'quoted-keys'

        return found

    def evaluate(self, expr: Any, values: dict | None = None) -> Any:
        """The value of an expression given parameter `values` (others keep their defaults), or UNKNOWN.

        Beware: pycep does not honour Bicep operator precedence (`a == b || c` parses as
        `a == (b || c)`), so the template keeps comparisons and logic in separate variables.
        """
        values = values or {}
        expr = self.deref(expr)
        if isinstance(expr, str) and expr in self.params:
            return values.get(expr, self.param_default(expr))
        if not isinstance(expr, dict):
            return expr
        if "not" in expr:  # a negated condition, as object_keys() records it
            inner = self.evaluate(expr["not"], values)
            return UNKNOWN if inner is UNKNOWN else not inner
        function, operator = expr.get("function"), expr.get("operator")
        kind = (function or operator or {}).get("type")
        args = [self.evaluate(a, values) for a in (function or {}).get("parameters", {}).values()]
        if operator and kind != "conditional":
            args = [self.evaluate(a, values) for a in operator["operands"].values()]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if kind == "string":
            return json.dumps(args[0], separators=(",", ":")) if isinstance(args[0], list | dict) else str(args[0])
        if kind == "empty":
            return not args[0]
        simple = {
            "equals": lambda a, b: a == b,
            "not_equals": lambda a, b: a != b,
            "and": lambda a, b: bool(a and b),
            "or": lambda a, b: bool(a or b),
            "not": lambda a: not a,
            "multiply": lambda a, b: a * b,
            "max": max,
            "min": min,
        }
        if kind in simple:
            return simple[kind](*args)
        if kind == "conditional":
            condition = self.evaluate(operator["operands"]["condition"], values)
            if isinstance(condition, bool):
                return self.evaluate(operator["operands"]["true_value" if condition else "false_value"], values)
        return UNKNOWN

    def deployed_settings(self, settings: dict, values: dict, placeholders: dict) -> dict[str, str]:
        """The app settings a deployment with parameter `values` writes; resource properties
        (known only in Azure) come from `placeholders`."""
        deployed: dict[str, str] = {}
        for key, entries in settings.items():
            for value, condition in entries:
                if condition is not None and self.evaluate(condition, values) is not True:
                    continue
                if key is UNKNOWN:
                    deployed.update(self._to_object(value, values))
                    continue
                result = self.evaluate(value, values)
                deployed[key] = placeholders[key] if result is UNKNOWN else str(result)
        return deployed

    def _to_object(self, expr: dict, values: dict) -> dict[str, str]:
        """toObject(items(param), entry => entry.key, entry => '...${entry.value}...')."""
        source, key_lambda, value_lambda = expr["function"]["parameters"].values()
        assert expr["function"]["type"].lower() == "toobject" and source["function"]["type"] == "items"
        item = value_lambda["detail"]["var_1"]
        assert key_lambda["detail"]["expression"]["operator"]["operands"]["operand_2"] == "key"
        mapping = self.evaluate(source["function"]["parameters"]["arg_1"], values)
        template = value_lambda["detail"]["expression"]
        return {k: template.replace("${" + item + ".value}", v) for k, v in mapping.items()}


@cache
def main_template() -> Template:
    return Template(parse_file(MAIN))

"""The templates parse (pycep-parser, offline), and a broken template does not."""

import re

import pytest
from lark.exceptions import LarkError

from tests.unit.infra.bicep import INFRA, MAIN, parse_file, parse_text

BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
KINDS = {"param": "parameters", "var": "variables", "resource": "resources", "module": "modules", "output": "outputs"}


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_template_parses_into_every_declaration_it_makes(path):
    """The parsed model holds each param, var, resource, module and output the file declares (a
    parser that stopped early or dropped a kind of declaration fails here), and nothing else."""
    model = parse_file(path)
    text = path.read_text(encoding="utf-8")
    for keyword, section in KINDS.items():
        declared = re.findall(rf"^{keyword} (\w+)", text, re.MULTILINE)
        assert sorted(model.get(section) or {}) == sorted(declared), (path.name, section)
    if path == MAIN:
        assert re.search(r"^resource functionApp ", text, re.MULTILINE) and "functionApp" in model["resources"]


def test_main_deploys_every_local_module_and_only_local_ones():
    """Modules are files beside main.bicep (parsed here too), never registry references."""
    modules = parse_file(MAIN).get("modules") or {}
    assert {m["detail"]["path"] for m in modules.values()} == {p.name for p in BICEP_FILES if p != MAIN}
    assert {m["type"] for m in modules.values()} == {"local"}


def test_main_uses_no_registry_modules():
    assert "br/public:" not in MAIN.read_text()
    assert "br:" not in MAIN.read_text()


@pytest.mark.parametrize(
    "breakage",
    [
        lambda text: text[: text.index("resource functionApp")] + text[text.index("resource functionApp") + 60 :],
        lambda text: text.replace("param environmentName string", "param environmentName string =", 1),
        lambda text: text.replace("var tableSuffixes = [", "var tableSuffixes = [[", 1),
    ],
    ids=["cut-resource", "dangling-default", "unclosed-array"],
)
def test_broken_template_fails_to_parse(breakage):
    broken = breakage(MAIN.read_text())
    assert broken != MAIN.read_text()
    with pytest.raises((LarkError, ValueError)):
        parse_text(broken)

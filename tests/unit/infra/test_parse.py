"""The templates parse (pycep-parser, offline), and a broken template does not."""

import pytest
from lark.exceptions import LarkError

from tests.unit.infra.bicep import INFRA, MAIN, parse_file, parse_text

BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_template_parses(path):
    model = parse_file(path)
    assert model.get("resources") or model.get("modules"), f"{path.name} declares nothing"


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

"""The README's promises: its configuration table is the settings module's, and its links resolve."""

import re
from pathlib import Path

from governor.commands.settings import markdown_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_configuration_table_matches_the_settings_module():
    block = re.search(r"<!-- settings:begin -->\n(.*?)\n<!-- settings:end -->", README, re.S)
    assert block, "README.md lost its settings markers"
    assert block.group(1).strip() == markdown_table().strip(), (
        "README configuration table drifted: regenerate it with `python -m governor settings --markdown`"
    )


def test_readme_names_the_two_commands():
    assert "make run" in README and "make test" in README


def test_relative_links_resolve():
    for target in re.findall(r"\]\(((?:docs|examples|infra)/[^)#]+)\)", README):
        assert (ROOT / target).exists(), target

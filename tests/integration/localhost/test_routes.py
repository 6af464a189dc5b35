"""Route templates as ASP.NET routing reads them (the Functions host's router)."""

import pytest

from governor.localhost.routes import RouteTemplate, RouteTemplateError


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("projects/{project}/sessions", "projects/p1/sessions", {"project": "p1"}),
        ("projects/{project}/sessions", "PROJECTS/p1/Sessions/", {"project": "p1"}),
        ("projects/{project}/sessions", "projects/p1", None),
        ("projects/{project}/sessions", "projects/p1/sessions/x", None),
        ("items/{id:int}", "items/-12", {"id": "-12"}),
        ("items/{id:int}", "items/99999999999", None),
        ("items/{id:long}", "items/99999999999", {"id": "99999999999"}),
        ("items/{id:int:range(1,10)}", "items/11", None),
        (
            "items/{id:guid}",
            "items/6f1c1a0e-7c4e-4d43-9a8f-0b9f5c2f4a11",
            {"id": "6f1c1a0e-7c4e-4d43-9a8f-0b9f5c2f4a11"},
        ),
        ("items/{id:guid}", "items/nope", None),
        ("items/{id:length(3)}", "items/abc", {"id": "abc"}),
        ("items/{id:alpha:maxlength(2)}", "items/abc", None),
        ("items/{id:regex(^a+$)}", "items/aaa", {"id": "aaa"}),
        ("items/{id?}", "items", {}),
        ("items/{id?}", "items/7", {"id": "7"}),
        ("report/{day=today}", "report", {"day": "today"}),
        ("files/{*path}", "files/a/b%2Fc/d.txt", {"path": "a/b/c/d.txt"}),
        ("files/{*path}", "files", {}),
        ("file/{name}.{ext}", "file/report.tar.gz", {"name": "report", "ext": "tar.gz"}),
        ("names/{name}", "names/Ada%20Lovelace", {"name": "Ada Lovelace"}),
        ("", "", {}),
    ],
)
def test_match(template, path, expected):
    assert RouteTemplate.parse(template).match(path) == expected


@pytest.mark.parametrize(
    "template",
    ["a/{id", "a/id}", "a/{id}/{ID}", "a/{*rest}/b", "a//b", "a/{1x}", "a/{x:int(}", "a/{x}{y}"],
)
def test_invalid_templates(template):
    with pytest.raises(RouteTemplateError):
        RouteTemplate.parse(template)


def test_precedence_puts_literals_before_constrained_before_plain_before_catch_all():
    templates = ["items/{*rest}", "items/{id}", "items/{id:int}", "items/latest"]
    ordered = sorted(templates, key=lambda t: RouteTemplate.parse(t).precedence)
    assert ordered == ["items/latest", "items/{id:int}", "items/{id}", "items/{*rest}"]

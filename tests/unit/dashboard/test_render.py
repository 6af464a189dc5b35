import re
from datetime import timedelta
from html.parser import HTMLParser

from governor.core.model import format_money
from governor.dashboard.data import Health
from governor.dashboard.fmt import duration
from governor.dashboard.page import CSP, render_page
from tests.unit.dashboard.samples import sample_dashboard

HOSTILE = '<script>alert("x")</script>'
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "line", "rect", "path", "stop"}


class _Tree(HTMLParser):
    """Records elements, ids and text, and checks every non-void tag is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.ids, self.text = [], [], set(), []
        self.errors = []
        self.in_table = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            if attrs["id"] in self.ids:
                self.errors.append(f"duplicate id {attrs['id']}")
            self.ids.add(attrs["id"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> _Tree:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    assert not tree.errors and not tree.stack, (tree.errors, tree.stack)
    return tree


def test_page_is_well_formed_with_unique_ids():
    parse(render_page(sample_dashboard()))


def test_hostile_project_name_is_text_never_markup():
    page = render_page(sample_dashboard(HOSTILE, scope=HOSTILE))
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    tree = parse(page)
    assert HOSTILE in "".join(tree.text)  # what a reader sees is the name itself
    assert not [t for t, _ in tree.tags if t in ("script", "iframe", "object", "embed")]


def test_page_is_self_contained_and_forbids_scripts():
    page = render_page(sample_dashboard())
    tree = parse(page)
    for tag, attrs in tree.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("src", "href") and value:
                assert value.startswith("#"), (tag, name, value)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * page.count("<svg")
    meta = [a for t, a in tree.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert meta and meta[0]["content"] == CSP and "script-src" not in CSP and "default-src 'none'" in CSP


def test_every_chart_has_text_alternatives_and_a_data_table():
    page = render_page(sample_dashboard())
    tree = parse(page)
    charts = [a for t, a in tree.tags if t == "svg"]
    assert len(charts) == 2
    for chart in charts:
        assert chart["role"] == "img"
        labelled_by = chart["aria-labelledby"].split()
        assert labelled_by == [f"{chart['id']}-title", f"{chart['id']}-desc"]
        assert all(i in tree.ids for i in labelled_by)
        after = page[page.index(f'id="{chart["id"]}"') :]
        assert after.index("<table id=") < after.index("</section>")
    desc = re.search(r'<desc id="budget-chart-desc">([^<]*)</desc>', page).group(1)
    assert "beta month 2026-11: spent 30.00 USD, reserved 0.00 USD of 50.00 USD (60% used)" in desc
    assert "projected 60.00 USD" in desc


def test_tables_show_the_figures_of_the_chart_data():
    board = sample_dashboard()
    page = render_page(board)
    beta = next(r for r in board.budgets if r.project == "beta")
    row = re.search(r"<tr><td>beta</td><td>month 2026-11</td>(.*?)</tr>", page).group(1)
    cells = re.findall(r"<td class=n>(.*?)</td>", row)
    assert cells[:4] == [
        format_money(beta.budget, "USD"),
        format_money(beta.spent, "USD"),
        format_money(beta.reserved, "USD"),
        "60%",
    ]
    assert cells[4] == format_money(beta.saved, "USD") == "7.50 USD"
    assert "60.00 USD (over)" in cells[5]
    assert "<tr><td>2026-11-03</td><td class=n>0.00</td><td class=n>12.00</td><td class=n>12.00</td></tr>" in page
    assert "<td class=n>1 h 0 min</td><td>3 min ago</td><td>leave <small>(within-lease)</small></td>" in page
    assert "admit (dry run)" in page and "heartbeat-recent" in page


def test_health_badge_reflects_staleness_and_errors():
    board = sample_dashboard()
    assert "Healthy" in render_page(board)
    stale = board.__class__(**{**board.__dict__, "health": Health(None, None, None, True, ())})
    page = render_page(stale)
    assert "Needs attention" in page and "No sweep has been recorded yet." in page
    failing = board.__class__(
        **{**board.__dict__, "health": Health(board.generated_at, timedelta(0), 3, False, (("errors", "3"),))}
    )
    assert "Needs attention" in render_page(failing) and "3 error(s)" in render_page(failing)


def test_no_policy_secret_or_key_reaches_the_page():
    page = render_page(sample_dashboard())  # its alpha policy has WEBHOOK, a URL with a secret in it
    for word in ("webhook", "X-Api-Key", "key=", "code=", "hooks.example", "hook-secret-123"):
        assert word.lower() not in page.lower()


def test_phone_width_viewport_and_scalable_charts():
    page = render_page(sample_dashboard())
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert ".chart{width:100%" in page and 'class="scroll"' in page


def test_formatting():
    assert format_money(1_234_500_000, "USD") == "1,234.50 USD"
    assert format_money(5_000) == "0.005" and format_money(None, "EUR") == "no budget"  # exact: never rounds money away
    assert duration(timedelta(days=1, hours=2, minutes=3, seconds=59)) == "1 d 2 h 3 min"
    assert duration(timedelta(minutes=-5)) == "-5 min" and duration(None) == "never"


def test_project_rows_the_governor_cannot_read_are_named_as_text():
    board = sample_dashboard()
    page = render_page(board.__class__(**{**board.__dict__, "unreadable": (HOSTILE,)}))
    notice = re.search(r'<p id="unreadable-projects"[^>]*>(.*?)</p>', page).group(1)
    assert "<code>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</code>" in notice
    assert 'id="unreadable-projects"' not in render_page(board)


def test_budget_bars_are_scaled_to_the_larger_of_budget_and_projection():
    page = render_page(sample_dashboard())
    beta = re.search(r'<g data-project="beta" data-period="month">(.*?)</g>', page).group(1)
    track = float(re.search(r'class="track" x="4" y="[\d.]+" width="([\d.]+)"', beta).group(1))
    spent = re.search(r'class="spent" data-scale="(\d+)" x="4" y="[\d.]+" width="([\d.]+)"', beta)
    assert int(spent.group(1)) == 60_000_000  # projection 60 > budget 50
    assert float(spent.group(2)) == round(track * 30 / 60, 2)
    budget_x = float(re.search(r'class="budget" x1="([\d.]+)"', beta).group(1))
    assert budget_x == 4 + round(track * 50 / 60, 2)


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, bl = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * bl

    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_chart_colours_contrast_with_the_white_page_and_text_reads():
    from governor.dashboard import svg

    for colour in [*svg.SIZE_COLOURS.values(), *svg.EXTRA_COLOURS, svg.SPENT, svg.OVER]:
        assert _contrast(colour, "#ffffff") >= 3, colour  # WCAG 1.4.11, graphics
    for colour in (svg.INK, svg.MUTED):
        assert _contrast(colour, "#ffffff") >= 4.5, colour  # WCAG 1.4.3, text
    page = render_page(sample_dashboard())
    assert 'stroke="#ffffff" stroke-width="1"><title>' in page  # stacked segments are parted


def test_reload_is_opt_in():
    assert 'http-equiv="refresh"' not in render_page(sample_dashboard())
    assert '<meta http-equiv="refresh" content="60">' in render_page(sample_dashboard(), refresh_seconds=60)

"""The dashboard served by the local host (`python -m governor serve`) over Azurite and the ARR
emulator, loaded in Debian's headless Chromium through chromium-driver.

Usage comes from the real flow: a session requested through the gate, the emulator's clock
advanced, and a sweep run by the CLI to meter it. The page's figures are compared with the
usage API. Screenshots are kept in .artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from governor.core.model import AuditRecord, ProjectPolicy, VmSize, to_micros
from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY
from tests.fixtures.clock import TEST_SECONDS, clear_of_utc_midnight

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
HOSTILE = "<script>"
HOSTILE_REASON = '<img src=x onerror="document.title=1">'
MINUTE_SECONDS = 60
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


# ---------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed and could not be installed "
            "(`make test` runs `apt-get install chromium chromium-driver` when it can)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (it is in requirements-dev.txt)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for downloads
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,2000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


# ---------------------------------------------------------------- the stack
def _start(command: list[str], env: dict, timeout: float = 30) -> tuple[subprocess.Popen, str]:
    """Start a `python -m governor` server; its URL is on the stdout line `listening on URL`.
    stdout is drained for the process's life so it can never block on a full pipe."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"dashboard-{command[3]}.log"  # the server's stderr, kept for a failed run
    with log.open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    url: list[str] = []
    listening = threading.Event()

    def drain():
        for line in process.stdout:
            if line.startswith("listening on ") and not url:
                url.append(line.removeprefix("listening on ").strip())
                listening.set()

    threading.Thread(target=drain, daemon=True).start()
    if not listening.wait(timeout):
        process.kill()
        process.wait()
        raise RuntimeError(f"{command[3]} did not start:\n{log.read_text(errors='replace')}")
    return process, url[0]


@pytest.fixture
def stack_env(azurite, emulator, table_prefix) -> dict:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        **emulator.env(),
        "ARR_API_VERSION": "2021-01-01",
        "GOVERNOR_TABLES_CONNECTION": azurite.connection_string,
        "GOVERNOR_TABLE_PREFIX": table_prefix,
        "GOVERNOR_DEV_KEYS": "true",
        "GOVERNOR_SWEEP_SCHEDULE": "0 0 0 1 1 *",  # the test runs the sweep itself
    }


@pytest.fixture
def served(stack_env):
    process, url = _start([sys.executable, "-m", "governor", "serve", "--port", "0"], stack_env)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def call(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def two_places(amount) -> str:
    return f"{Decimal(str(amount)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


@pytest.fixture
def seeded(served, stack_env, store, emulator, azurite, table_prefix):
    """Project alpha with one metered Standard session, and hostile text in storage."""
    # The page is checked against the usage API for today and this month, on the real clock that
    # `serve` and the sweep run on: the session, its sweep and the checks share one UTC day. And ARR's
    # 37 minutes come from advancing the emulator, not from time passing, so the sweep meters them to
    # the 37 minutes before it: in a day's first minute all go to the day (and month) before, and
    # today's row and the month's spending would be empty. Start a minute or more into the day.
    clear_of_utc_midnight(TEST_SECONDS, after=MINUTE_SECONDS + 5)
    store.put_project(
        ProjectPolicy(
            name="alpha",
            allowed_sizes=frozenset({VmSize.STANDARD}),
            rates={VmSize.STANDARD: to_micros("3")},
            monthly_budget=to_micros("100"),
            daily_budget=to_micros("20"),
            max_lease=__import__("datetime").timedelta(hours=2),
        )
    )
    key = store.rotate_key("alpha")
    status, body = call(
        f"{served}/api/projects/alpha/sessions",
        "POST",
        {"size": "Standard", "maxLeaseTime": 90},
        {"X-Api-Key": key, "x-functions-key": DEV_FUNCTION_KEY},
    )
    assert status == 202, body
    session_id = json.loads(body)["sessionId"]
    emulator.advance(5 + 37 * 60)  # Ready, then 37 minutes of rendering; its client heartbeats then
    status, body = call(
        f"{served}/api/projects/alpha/sessions/{session_id}/heartbeat",
        "POST",
        None,
        {"X-Api-Key": key, "x-functions-key": DEV_FUNCTION_KEY},
    )
    assert status == 200, body
    sweep = subprocess.run(
        [sys.executable, "-m", "governor", "sweep", "--json"],
        cwd=ROOT,
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sweep.returncode == 0, sweep.stderr
    _plant_hostile_text(store, azurite, table_prefix)
    return {"key": key, "session_id": session_id}


def _plant_hostile_text(store, azurite, table_prefix) -> None:
    """Another writer (an old version, a hand edit) left markup in storage: a project row named
    `<script>` that the store's own validation would refuse, and an audit row quoting markup."""
    from azure.data.tables import TableServiceClient

    from governor.store.tables import table_names

    tables = table_names(table_prefix)
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    projects = service.get_table_client(tables.projects)
    alpha = next(e for e in projects.list_entities() if e["RowKey"] == "alpha")
    hostile = {k: v for k, v in alpha.items() if not k.startswith("Key")} | {"RowKey": HOSTILE}
    projects.upsert_entity(hostile)
    store.append_audit([AuditRecord(datetime.now(UTC), "gate", HOSTILE, "x", "refuse", HOSTILE_REASON)])


def budget_cells(driver, project: str, period: str) -> list[str]:
    from selenium.webdriver.common.by import By

    for row in driver.find_elements(By.CSS_SELECTOR, "#budget-table tbody tr"):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        if cells[:1] == [project] and cells[1].startswith(period):
            return cells
    raise AssertionError(f"no {period} row for {project!r}")


def test_admin_dashboard_in_chromium_matches_the_usage_api(browser, served, seeded):
    from selenium.webdriver.common.by import By

    status, body = call(
        f"{served}/api/projects/alpha/usage", headers={"X-Api-Key": seeded["key"], "x-functions-key": DEV_FUNCTION_KEY}
    )
    assert status == 200, body
    usage = json.loads(body)
    month = next(p for p in usage["periods"] if p["period"] == "month")
    day = next(p for p in usage["periods"] if p["period"] == "day")
    assert Decimal(str(month["spent"])) > 0  # the sweep metered the session

    bad = call(f"{served}/api/dashboard?code={DEV_MASTER_KEY}&refresh=1")
    assert bad[0] == 400 and json.loads(bad[1])["field"] == "refresh"
    assert 'http-equiv="refresh" content="30"' in call(f"{served}/api/dashboard?code={DEV_MASTER_KEY}&refresh=30")[1]
    assert call(f"{served}/api/dashboard?code={DEV_FUNCTION_KEY}")[0] == 401  # the admin page needs the master key
    browser.get(f"{served}/api/dashboard?code={DEV_MASTER_KEY}")
    assert browser.title == "ARR lease governor · usage", browser.page_source[:3000]
    assert console_errors(browser) == []
    currency = usage["currency"]
    cells = budget_cells(browser, "alpha", "month")
    assert cells[2:5] == [f"{two_places(month[k])} {currency}" for k in ("budget", "spent", "reserved")]
    assert budget_cells(browser, "alpha", "day")[3] == f"{two_places(day['spent'])} {currency}"

    desc = browser.find_element(By.ID, "budget-chart-desc").get_attribute("textContent")
    assert f"alpha month {month['key']}: spent {two_places(month['spent'])} {currency}" in desc
    spent_bar = browser.find_element(
        By.CSS_SELECTOR, '#budget-chart g[data-project="alpha"][data-period="month"] .spent'
    )
    track = browser.find_element(By.CSS_SELECTOR, '#budget-chart g[data-project="alpha"][data-period="month"] .track')
    scale = float(spent_bar.get_attribute("data-scale"))
    expected = float(track.get_attribute("width")) * float(Decimal(str(month["spent"])) * 1_000_000) / scale
    assert abs(float(spent_bar.get_attribute("width")) - expected) < 0.05

    cost_desc = browser.find_element(By.ID, "cost-chart-0-desc").get_attribute("textContent")
    assert cost_desc.startswith(f"Total {two_places(month['spent'])} {currency} over ")  # days add up to the month
    today = datetime.now(UTC).date().isoformat()
    day_row = browser.find_element(By.XPATH, f"//table[@id='cost-table-0']//tr[td[1]='{today}']")
    # the table sits in a collapsed <details>: read its text content, not the rendered text
    assert day_row.find_elements(By.TAG_NAME, "td")[-1].get_attribute("textContent") == two_places(day["spent"])

    sessions = browser.find_element(By.ID, "sessions-table").text
    assert seeded["session_id"] in sessions

    # hostile text from storage is shown as text and never runs
    assert browser.find_element(By.CSS_SELECTOR, "#unreadable-projects code").text == HOSTILE
    assert HOSTILE_REASON in browser.find_element(By.ID, "decisions-table").text
    assert browser.execute_script("return document.querySelectorAll('script, img').length") == 0
    assert browser.title == "ARR lease governor · usage"  # the onerror never ran
    page = browser.page_source
    assert seeded["key"] not in page and DEV_MASTER_KEY not in page and DEV_FUNCTION_KEY not in page

    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    browser.set_window_size(390, 2000)
    try:
        browser.refresh()
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        browser.save_screenshot(str(ARTIFACTS / "dashboard-phone.png"))
    finally:
        browser.set_window_size(1280, 2000)
    assert console_errors(browser) == []


def test_project_dashboard_needs_the_project_key_and_shows_only_that_project(browser, served, seeded):
    from selenium.webdriver.common.by import By

    url = f"{served}/api/projects/alpha/dashboard?code={DEV_FUNCTION_KEY}"  # the platform's function key
    assert call(url.split("?")[0], headers={"X-Api-Key": seeded["key"]})[0] == 401
    status, body = call(url)
    assert status == 401 and json.loads(body)["type"].endswith("unauthorized")
    assert call(url, headers={"X-Api-Key": "wrong"})[0] == 403
    unknown = call(url.replace("/alpha/", "/nope/"), headers={"X-Api-Key": seeded["key"]})
    assert unknown[0] == 404 and json.loads(unknown[1])["type"].endswith("unknown-project")
    hostile = call(url.replace("/alpha/", "/%3Cscript%3E/"), headers={"X-Api-Key": seeded["key"]})
    assert hostile[0] == 400 and "<script>" not in hostile[1]

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"X-Api-Key": seeded["key"]}})
    try:
        browser.get(url)
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
    assert browser.title == "alpha · ARR usage"
    assert console_errors(browser) == []
    projects = {c.text for c in browser.find_elements(By.CSS_SELECTOR, "#budget-table tbody td:first-child")}
    assert projects == {"alpha"}
    assert HOSTILE_REASON not in browser.page_source
    assert seeded["key"] not in browser.page_source
    assert re.search(r"Governor health", browser.page_source)


# ---------------------------------------------------------------- collect over the real store (no browser)
def _session(store, project: str, size: VmSize, start: datetime, lease_minutes: int = 180) -> str:
    from datetime import timedelta

    from governor.core.model import LedgerEntry, LedgerState, Session, SessionStatus

    policy = store.get_project(project)
    sid = str(uuid.uuid4())
    entry = LedgerEntry(
        project=project,
        session_id=sid,
        account="default",
        size=size,
        state=LedgerState.PENDING,
        requested_at=start,
        lease=timedelta(minutes=lease_minutes),
        rate=policy.rate(size),
    )
    store.reserve(project, entry, lambda snapshot: 0, start)
    lease = timedelta(minutes=lease_minutes)
    store.activate(project, sid, Session(sid, "default", SessionStatus.READY, size, timedelta(0), lease))
    return sid


def test_collect_reads_a_month_through_the_real_store(store, azurite, table_prefix):
    from datetime import date, timedelta

    from governor.core.model import Period, cost_of
    from governor.dashboard.collect import collect
    from governor.dashboard.forecast import sweep_forecast

    rates = {VmSize.STANDARD: to_micros("3"), VmSize.PREMIUM: to_micros("12")}
    both = frozenset(VmSize)
    store.put_project(ProjectPolicy("alpha", allowed_sizes=both, rates=rates, monthly_budget=to_micros("100")))
    store.put_project(ProjectPolicy("beta", allowed_sizes=both, rates=rates, currency="EUR", daily_budget=to_micros(9)))
    t = lambda day, hour, minute=0: datetime(2026, 11, day, hour, minute, tzinfo=UTC)  # noqa: E731
    a = _session(store, "alpha", VmSize.STANDARD, t(3, 10))
    store.close("alpha", a, 60, "Stopped", t(3, 11))
    b = _session(store, "alpha", VmSize.PREMIUM, t(15, 23, 30))  # across midnight
    store.meter("alpha", b, 29, t(15, 23, 59))
    store.close("alpha", b, 60, "Stopped", t(16, 0, 30))
    c = _session(store, "beta", VmSize.STANDARD, t(16, 10))
    store.meter("beta", c, 30, t(16, 10, 30))
    store.heartbeat("beta", c, t(16, 11, 55))
    store.append_audit([AuditRecord(t(16, 10), "sweep", "alpha", b, "stop", "idle")])
    store.append_audit([AuditRecord(t(16, 11), "sweep", "beta", c, "leave", "ok")])
    _plant_hostile_text(store, azurite, table_prefix)

    now = t(16, 12)
    forecast = sweep_forecast(timedelta(minutes=10))
    board = collect(store, now, forecast=forecast, stale_after=timedelta(minutes=3))

    assert board.unreadable == (HOSTILE,)
    month = {(r.project, r.period): r for r in board.budgets}
    # b ran 23:30-00:30: metered 29 minutes on the 15th, and its close charges the 30th ARR counted
    # before midnight there too (60 minutes at 00:30: the last 30 are the 16th's)
    premium_day_15 = cost_of(rates[VmSize.PREMIUM], 30)
    assert month[("alpha", Period.MONTH)].spent == to_micros(3) + to_micros(12)
    assert month[("beta", Period.DAY)].spent == to_micros("1.5") and month[("beta", Period.DAY)].budget == to_micros(9)
    usd = next(s for s in board.costs if s.currency == "USD")
    by_day = {d.day: d.by_size for d in usd.days}
    assert by_day[date(2026, 11, 3)] == {"Standard": to_micros(3), "Premium": 0}
    assert by_day[date(2026, 11, 15)] == {"Standard": 0, "Premium": premium_day_15}
    assert by_day[date(2026, 11, 16)] == {"Standard": 0, "Premium": to_micros(12) - premium_day_15}
    assert usd.total == month[("alpha", Period.MONTH)].spent  # the days add up to the month
    eur = next(s for s in board.costs if s.currency == "EUR")
    assert eur.total == to_micros("1.5") and eur.sizes == ("Standard",)
    assert [(s.project, s.session_id, s.remaining, s.next_action, s.next_reason) for s in board.sessions] == [
        ("beta", c, timedelta(minutes=150), "leave", "ok")
    ]
    idle_later = collect(store, t(16, 12, 30), forecast=forecast, stale_after=timedelta(minutes=3))
    assert (idle_later.sessions[0].next_action, idle_later.sessions[0].next_reason) == ("stop", "idle")
    assert {d.project for d in board.decisions} == {"alpha", "beta", HOSTILE}

    alpha_only = collect(
        store,
        now,
        forecast=forecast,
        stale_after=timedelta(minutes=3),
        policies=[store.get_project("alpha")],
        scope="alpha",
    )
    assert [d.reason for d in alpha_only.decisions] == ["idle"] and alpha_only.sessions == ()
    assert [s.currency for s in alpha_only.costs] == ["USD"] and alpha_only.unreadable == ()

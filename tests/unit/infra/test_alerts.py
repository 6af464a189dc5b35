"""The alerts the template deploys: an action group mailing the operator, and four log search
rules over Application Insights, each matching a name the app really emits."""

import logging
import re

import pytest

from governor import telemetry, telemetry_names
from governor.service.sweep import observe

RULES = {"sweep-missing", "sweep-failed-actions", "budget-90", "gate-5xx"}


def accessor(expr) -> tuple[str, str] | None:
    operator = expr.get("operator") if isinstance(expr, dict) else None
    if operator and operator["type"] == "property_accessor":
        return operator["operands"]["operand_1"], operator["operands"]["operand_2"]
    return None


@pytest.fixture(scope="module")
def rules(template) -> dict[str, dict]:
    return {rule["name"]: rule for rule in template.variables["alertRules"]["value"]}


def test_an_action_group_mails_the_operator_when_an_email_is_given(template):
    _, group = template.one("Microsoft.Insights/actionGroups")
    body = template.body(group)
    (receiver,) = body["properties"]["emailReceivers"]
    assert receiver["emailAddress"] == "alertEmail" and receiver["useCommonAlertSchema"] is True
    assert body["location"] == "global" and body["properties"]["enabled"] is True
    assert template.evaluate(template.condition(group), {"alertEmail": "ops@example.com"}) is True
    assert template.evaluate(template.condition(group), {"alertEmail": ""}) is False
    assert template.param_default("alertEmail") == ""  # optional: rules deploy without notifying anyone


def test_every_rule_is_a_scheduled_query_on_app_insights_wired_to_the_action_group(template, rules):
    assert set(rules) == RULES
    _, resource = template.one("Microsoft.Insights/scheduledQueryRules")
    assert resource["config"]["loop_type"]["detail"] == {"item_name": "rule", "array_name": "alertRules"}
    properties = template.body(resource)["properties"]
    assert [accessor(s) for s in properties["scopes"]] == [("appInsights", "id")]
    assert properties["enabled"] is True and properties["autoMitigate"] is True
    for key, field in (("evaluationFrequency", "frequency"), ("windowSize", "window"), ("severity", "severity")):
        assert accessor(properties[key]) == ("rule", field)
    (criterion,) = properties["criteria"]["allOf"]
    assert accessor(criterion["query"]) == ("rule", "query") and criterion["timeAggregation"] == "Count"
    assert accessor(criterion["operator"]) == ("rule", "operator")
    assert accessor(criterion["threshold"]) == ("rule", "threshold")
    # actions: the action group's id when an email is set, none otherwise
    assert properties["actions"] == "alertActions"
    actions = template.variables["alertActions"]["value"]["operator"]["operands"]
    assert actions["true_value"] == {}
    assert [accessor(a) for a in actions["false_value"]["actionGroups"]] == [("alertGroup", "id")]
    for rule in rules.values():
        assert rule["frequency"].startswith("PT") and rule["window"].startswith("PT") and rule["description"]
        assert rule["severity"] in (0, 1, 2, 3, 4)


# What ARM accepts for a log alert (scheduledQueryRules): any other window is refused at deployment
# ("Supported granularities are: 5, 10, 15, 30, 45, 60, 120, 180, ..."), so tests cannot see it unless they check
ALERT_WINDOWS = {5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880}
ALERT_FREQUENCIES = {1, 5, 10, 15, 30, 45, 60}


def minutes(template, rule: dict, key: str, interval: int) -> int:
    """A rule's window or frequency in minutes, for a deployment with that sweep interval."""
    text = rule[key]
    assert text.startswith("PT") and text.endswith("M"), text
    inner = text[2:-1]
    if inner.startswith("${"):
        return template.evaluate(template.variables[inner[2:-1]]["value"], {"sweepIntervalMinutes": interval})
    return int(inner)


def test_no_sweep_finished_in_three_intervals(template, rules):
    rule = rules["sweep-missing"]
    assert f'message startswith "{observe.SWEEP_FINISHED}"' in rule["query"]
    assert (rule["operator"], rule["threshold"]) == ("LessThan", 1)  # zero records in the window fires
    assert template.param_default("sweepIntervalMinutes") == 1
    for interval in template.decorator("sweepIntervalMinutes", "allowed"):
        window = minutes(template, rule, "window", interval)
        assert window == max(3 * interval, 10)  # 3 intervals, and Application Insights' ingestion delay


def test_every_rules_window_and_frequency_is_one_azure_accepts_for_every_allowed_interval(template, rules):
    for interval in template.decorator("sweepIntervalMinutes", "allowed"):
        for rule in rules.values():
            window, frequency = (minutes(template, rule, key, interval) for key in ("window", "frequency"))
            assert window in ALERT_WINDOWS and frequency in ALERT_FREQUENCIES, (rule["name"], interval)
            assert frequency <= window
        failed = minutes(template, rules["sweep-failed-actions"], "window", interval)
        assert failed >= 3 * interval  # the last 3 sweeps are in it


def test_the_timer_runs_every_interval_unless_a_schedule_is_given(template):
    timer = template.variables["sweepTimer"]["value"]
    assert template.evaluate(timer) == "0 * * * * *"  # the code's own default (governor.settings)
    assert template.evaluate(timer, {"sweepIntervalMinutes": 5}) == "0 */${sweepIntervalMinutes} * * * *"
    assert template.evaluate(timer, {"sweepSchedule": "0 */2 * * * *"}) == "0 */2 * * * *"


def test_failed_actions_in_three_consecutive_sweeps(rules, caplog):
    rule = rules["sweep-failed-actions"]
    query = rule["query"]
    assert f'message startswith "{observe.SWEEP_FINISHED}"' in query and "top 3 by timestamp desc" in query
    assert 'toint(customDimensions["governor.sweep.failed"]) > 0' in query and "sweeps == 3 and failing == 3" in query
    assert (rule["operator"], rule["threshold"]) == ("GreaterThan", 0)
    # the dimension the query reads is the one the sweep's summary record carries
    caplog.set_level(logging.INFO, logger="governor.sweep")

    class Snapshot:
        projects, open_entries, usage = {}, [], {}

    report = {"outcome": "errors", "failed": 2, "sessions": 3, "decisions": 3, "counts": {"stop": 2}}
    observe.sweep_finished(report, [], Snapshot(), {}, {})
    (record,) = [r for r in caplog.records if r.getMessage().startswith(observe.SWEEP_FINISHED)]
    assert vars(record)["governor.sweep.failed"] == 2


def test_a_project_at_ninety_percent_of_a_budget(template, rules):
    rule = rules["budget-90"]
    assert f'name == "{telemetry.BUDGET_UTILIZATION}"' in rule["query"]
    assert telemetry_names.UNITS[telemetry.BUDGET_UTILIZATION] == "1"  # a ratio: the percent is divided by 100
    project, period = (telemetry_names.DIMENSIONS[key] for key in ("project", "period"))
    assert f'customDimensions["{project}"]' in rule["query"] and f'customDimensions["{period}"]' in rule["query"]
    assert "where used >= ${budgetAlertPercent} / 100.0" in rule["query"]
    assert template.param_default("budgetAlertPercent") == 90
    assert (rule["operator"], rule["threshold"]) == ("GreaterThan", 0)


def test_gate_5xx_rate_is_read_from_the_http_server_spans(template, rules):
    """The standard http.server.request.duration reaches Application Insights as its pre-aggregated
    request metrics (the exporter keeps only the result code, and not in customMetrics), so the rate
    is read where the same requests are: the server spans, weighted by itemCount."""
    rule = rules["gate-5xx"]
    query = rule["query"]
    assert query.startswith("requests | where toint(resultCode) > 0 | ")  # no timer invocation (code 0)
    assert "total = sum(itemCount), failed = sumif(itemCount, toint(resultCode) >= 500)" in query
    assert "total >= ${gate5xxMinResponses} and failed * 100.0 / total >= ${gate5xxPercent}" in query
    assert (template.param_default("gate5xxPercent"), template.param_default("gate5xxMinResponses")) == (5, 20)
    assert rule["window"] == "PT15M"


def test_no_rule_reads_a_metric_the_app_no_longer_sends(rules):
    names = {v for k, v in vars(telemetry_names).items() if k.isupper() and isinstance(v, str)}
    for rule in rules.values():
        for metric in re.findall(r'name == "([^"]+)"', rule["query"]):
            assert metric in names, (rule["name"], metric)
